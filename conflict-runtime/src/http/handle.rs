//! What a handler does with what was extracted: load, create or move a
//! resource through the store or the engine, and answer a refusal with its
//! problem (built in `problem`).

use std::fmt::Display;

use super::extract::{Conditional, MoveRequest, ResourceId, StateField};
use super::problem::{Problem, already_there, move_problem, store_problem};
use super::response::{Created, History};
use crate::machine::StateMachine;
use crate::moves::{Anonymous, Caller, Engine, MoveSpec, Moved, Rules};
use crate::store::{Move, Resource, Store, StoreError, Versioned};

impl<Id: Display + Clone, S: StateMachine> ResourceId<Id, S> {
    /// Loads the resource; an absent one is a 404 problem naming it.
    ///
    /// # Errors
    /// The [`Problem`] for the store's refusal.
    pub async fn load<R, St>(&self, store: &St) -> Result<Versioned<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        store.get(&self.id).await.map_err(|error| {
            store_problem(error, Some(&self.id)).with_instance(self.instance.as_str())
        })
    }

    /// The resource's committed moves, oldest first; an absent resource is
    /// a 404 problem naming it.
    ///
    /// # Errors
    /// The [`Problem`] for the store's refusal.
    pub async fn history<R, St>(&self, store: &St) -> Result<History<S>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        store.history(&self.id).await.map(History).map_err(|error| {
            store_problem(error, Some(&self.id)).with_instance(self.instance.as_str())
        })
    }

    /// Creates `value` under this id (a `PUT` to the resource's own path),
    /// at most once: the identical resource again is a 200 (a retry), a
    /// different one a 409, or a 412 when `If-None-Match` (`*` makes the
    /// request create-only) matches what is there.
    ///
    /// # Errors
    /// The [`Problem`] for the refusal.
    pub async fn create<R, St>(
        &self,
        store: &St,
        value: R,
        conditional: &Conditional,
    ) -> Result<Created<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        let instance = self.instance.as_str();
        match store.insert(self.id.clone(), value).await {
            Ok(inserted) => Ok(Created::new(inserted, instance)),
            Err(StoreError::AlreadyExists { version, state })
                if conditional.0.as_ref().is_some_and(|e| e.matches(version)) =>
            {
                Err(already_there(&self.id, version, state).with_instance(instance))
            }
            Err(error) => Err(store_problem(error, Some(&self.id)).with_instance(instance)),
        }
    }
}

impl<S, Id, F> MoveRequest<S, Id, F>
where
    S: StateMachine,
    Id: Display + Clone + Send + Sync + 'static,
    F: StateField,
{
    /// Refuses the move with 428 unless the request carries `If-Match`:
    /// for routes where a blind overwrite would lose someone's update.
    #[must_use]
    pub fn require_if_match(mut self) -> Self {
        self.spec = self.spec.require_expected();
        self
    }

    /// The id of the resource to move.
    pub fn id(&self) -> &Id {
        self.spec.id()
    }

    /// The move asked for; `None` for a body whose target state could not
    /// be read (refused when performed).
    pub fn requested(&self) -> Option<Move<S>> {
        self.spec.requested()
    }

    /// The move as the engine takes it, and the request's path (the
    /// `instance` of its problems), for a handler that calls the engine
    /// itself and maps a refusal with [`Problem::of_move`].
    pub fn into_parts(self) -> (MoveSpec<S, Id>, String) {
        (self.spec, self.instance)
    }

    /// Checks and commits the move through `store`, in one atomic step of
    /// the store, and answers with the new representation or the problem.
    /// Guards declared on the derive apply; for permissions, typed input,
    /// runtime guards and hooks use [`perform`](MoveRequest::perform).
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails, in the order given on
    /// [`MoveRequest`].
    pub async fn apply<R, St>(self, store: &St) -> Result<Versioned<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        self.perform(&Engine::new(store.clone(), Rules::new()), &Anonymous)
            .await
            .map(Moved::into_resource)
    }

    /// Checks and commits the move under `rules` on behalf of `caller`:
    /// [`perform`](MoveRequest::perform) with an engine made for this move.
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails.
    pub async fn apply_with<R, St>(
        self,
        store: &St,
        rules: &Rules<R>,
        caller: &dyn Caller,
    ) -> Result<Moved<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        self.perform(&Engine::new(store.clone(), rules.clone()), caller)
            .await
    }

    /// Performs the move through `engine` on behalf of `caller`
    /// ([`Engine::perform`]) and maps a refusal to its problem.
    ///
    /// The answers, in order: unknown id 404; an action the caller lacks
    /// the permission for 403 (naming only the action); missing required
    /// `If-Match` 428; stale `If-Match` 412; a malformed body 400 (415 when
    /// not JSON), an invalid one 422 naming the field; a move the table does
    /// not allow 409 `illegal-transition`; a move a guard blocks 409
    /// `transition-blocked` with the `blockers`. Both 409s list the moves
    /// this caller may make instead, after guards and permissions.
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails.
    pub async fn perform<R, St>(
        self,
        engine: &Engine<R, St>,
        caller: &dyn Caller,
    ) -> Result<Moved<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        let MoveRequest { spec, instance, .. } = self;
        let id = spec.id().clone();
        engine
            .perform(caller, spec)
            .await
            .map_err(|error| move_problem(error, &id).with_instance(instance))
    }
}
