//! What the engine asks of a store: versioned resources and a move as one
//! atomic step. The implementations (memory, SQL) live in `crate::store`,
//! which re-exports this contract.

use core::future::Future;

use super::history::{Entry, Note};
use crate::machine::{StateMachine, TransitionError};

/// A stored resource whose lifecycle is a [`StateMachine`]: an order and its
/// status.
pub trait Resource: Clone + PartialEq + Send + Sync + 'static {
    /// The state enum.
    type State: StateMachine;

    /// The resource's current state.
    fn state(&self) -> Self::State;

    /// Records a move; called by a store only after the move was checked.
    fn set_state(&mut self, state: Self::State);
}

/// A resource with the version the store gave it. The version grows by one
/// with every committed change, so it identifies one representation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<Id, R> {
    pub(crate) id: Id,
    pub(crate) version: u64,
    pub(crate) value: R,
}

impl<Id, R> Versioned<Id, R> {
    /// A representation of `value` at `version`.
    pub fn new(id: Id, version: u64, value: R) -> Self {
        Versioned { id, version, value }
    }

    /// The resource's id.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// The version of this representation.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The resource.
    pub fn value(&self) -> &R {
        &self.value
    }

    /// The resource, by value.
    pub fn into_value(self) -> R {
        self.value
    }

    /// The same representation of a resource completed by `f` (with what
    /// is kept beside it): same id, same version.
    pub fn map<T>(self, f: impl FnOnce(R) -> T) -> Versioned<Id, T> {
        Versioned {
            id: self.id,
            version: self.version,
            value: f(self.value),
        }
    }
}

/// A requested move: by action (`POST /orders/1/cancel`) or by target state
/// (`PATCH /orders/1 {"status": "cancelled"}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move<S: StateMachine> {
    /// Apply this action.
    Action(S::Action),
    /// Move to this state; a move to the current state is a no-op.
    To(S),
}

impl<S: StateMachine> Move<S> {
    /// The action, for a move requested by action.
    pub fn action(self) -> Option<S::Action> {
        match self {
            Move::Action(action) => Some(action),
            Move::To(_) => None,
        }
    }

    /// Where the move leads from `current`, `None` for a no-op, or why it is refused.
    ///
    /// # Errors
    /// [`TransitionError`] when `current` does not allow the move.
    pub fn decide(self, current: S) -> Result<Option<S>, TransitionError<S>> {
        match self {
            Move::Action(action) => current.apply(action).map(Some),
            Move::To(target) if target == current => Ok(None),
            Move::To(target) => current.transition_to(target).map(Some),
        }
    }
}

/// What an `If-Match` header asks of the current version (RFC 9110 §13.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// `*`: any current representation.
    Any,
    /// One of these versions. Tags this crate did not issue never match.
    OneOf(Vec<u64>),
}

impl Expected {
    /// Whether a resource at `version` satisfies the precondition.
    #[must_use]
    pub fn matches(&self, version: u64) -> bool {
        match self {
            Expected::Any => true,
            Expected::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// Why a store refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError<S: StateMachine> {
    /// No resource has this id.
    #[error("not found")]
    NotFound,
    /// The move is not allowed from the current state.
    #[error(transparent)]
    Transition(TransitionError<S>),
    /// The precondition does not hold for the current version.
    #[error("the {} is at version {version}, in state {}", S::RESOURCE, state.name())]
    PreconditionFailed {
        /// The version the resource is at.
        version: u64,
        /// The state the resource is in.
        state: S,
    },
    /// A resource with this id exists with different content.
    #[error("a different {} exists with this id", S::RESOURCE)]
    AlreadyExists {
        /// The version of the existing resource.
        version: u64,
        /// The state of the existing resource.
        state: S,
    },
    /// The backend cannot keep this value (Postgres keeps no NUL character
    /// in text or `jsonb`); the request, not the server, has to change.
    #[error("cannot store the value: {0}")]
    Unstorable(&'static str),
    /// The store holds a state or an action under a name this version of
    /// the machine does not declare (nor read as an alias): the machine
    /// changed under stored data. Other resources keep working.
    #[error("the store holds the {what} `{stored}`, which the machine does not declare")]
    UnknownName {
        /// `"state"` or `"action"`.
        what: &'static str,
        /// The name as stored.
        stored: String,
    },
    /// The storage backend failed; the detail is for logs, not clients.
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl<S: StateMachine> From<TransitionError<S>> for StoreError<S> {
    fn from(error: TransitionError<S>) -> Self {
        StoreError::Transition(error)
    }
}

/// What [`Store::insert`] did: created the resource or found it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted<Id, R> {
    /// A new resource.
    Created(Versioned<Id, R>),
    /// The identical resource was there already: an idempotent retry.
    Existing(Versioned<Id, R>),
}

impl<Id, R> Inserted<Id, R> {
    /// The stored resource, whether new or found.
    pub fn resource(&self) -> &Versioned<Id, R> {
        match self {
            Inserted::Created(resource) | Inserted::Existing(resource) => resource,
        }
    }
}

/// Storage for versioned resources where a move is one atomic step.
///
/// [`apply`](Store::apply) checks the precondition, the move and the version
/// together and commits in the same step: there is no window between reading
/// the state and writing the new one.
pub trait Store<R: Resource>: Clone + Send + Sync + 'static {
    /// How resources are named.
    type Id: Clone + Send + Sync + 'static;

    /// The resource with this id.
    fn get(
        &self,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send;

    /// Stores `value` under `id` unless a resource is there. The identical
    /// resource again is [`Inserted::Existing`]; a different one is
    /// [`StoreError::AlreadyExists`].
    fn insert(
        &self,
        id: Self::Id,
        value: R,
    ) -> impl Future<Output = Result<Inserted<Self::Id, R>, StoreError<R::State>>> + Send;

    /// Checks the change's expected version and its move against the
    /// current version and state, and commits the move with its history
    /// entry, in one atomic step. A move to the current state commits
    /// nothing and returns the resource unchanged.
    fn apply(
        &self,
        id: &Self::Id,
        change: Change<R>,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send;

    /// The committed moves of the resource, oldest first.
    fn history(
        &self,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Vec<Entry<R::State>>, StoreError<R::State>>> + Send;

    /// Applies each change to its resource, each in an atomic step of its
    /// own, and answers in the same order. A store may do them together
    /// (one statement in SQL); the default applies them one by one.
    fn apply_each(
        &self,
        changes: Vec<(Self::Id, Change<R>)>,
    ) -> impl Future<Output = Vec<Applied<Self::Id, R>>> + Send {
        async move {
            let mut results = Vec::with_capacity(changes.len());
            for (id, change) in changes {
                results.push(self.apply(&id, change).await);
            }
            results
        }
    }
}

/// One move for [`Store::apply`]: what is requested, under which
/// precondition, what the history records beside it, and the resource's new
/// content when the move edits it.
#[derive(Clone, Debug)]
#[must_use]
pub struct Change<R: Resource> {
    requested: Move<R::State>,
    action: Option<<R::State as StateMachine>::Action>,
    expected: Option<Expected>,
    edited: Option<R>,
    note: Note,
}

/// A [`Change`] taken apart, for store implementations.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChangeParts<R: Resource> {
    /// The requested move.
    pub requested: Move<R::State>,
    /// The action the history records: the requested one, or the one that
    /// leads to the requested state.
    pub action: Option<<R::State as StateMachine>::Action>,
    /// The precondition, if any.
    pub expected: Option<Expected>,
    /// The new content, if the move edits the resource.
    pub edited: Option<R>,
    /// What the history records beside the move.
    pub note: Note,
}

impl<R: Resource> ChangeParts<R> {
    /// The check a store makes inside its atomic step, on the version and
    /// state it holds: the expected version first (412), then the move
    /// (409). `Ok(Some(to))` commits a move to `to`; `Ok(None)` is a move to
    /// the current state, which commits nothing.
    ///
    /// # Errors
    /// [`StoreError::PreconditionFailed`] or [`StoreError::Transition`].
    pub fn decide(
        &self,
        version: u64,
        state: R::State,
    ) -> Result<Option<R::State>, StoreError<R::State>> {
        if let Some(expected) = &self.expected
            && !expected.matches(version)
        {
            return Err(StoreError::PreconditionFailed { version, state });
        }
        self.requested.decide(state).map_err(StoreError::Transition)
    }
}

impl<R: Resource> Change<R> {
    /// The move, unconditional, with an empty note.
    pub fn new(requested: Move<R::State>) -> Self {
        Change {
            requested,
            action: requested.action(),
            expected: None,
            edited: None,
            note: Note::default(),
        }
    }

    /// Commits only if the current version satisfies `expected`.
    pub fn expecting(mut self, expected: Expected) -> Self {
        self.expected = Some(expected);
        self
    }

    /// Replaces the resource's content with `edited` (its state is then
    /// set by the move). `edited` was computed from one version: pass it
    /// with [`expecting`](Change::expecting) that version only, so that it
    /// never overwrites a change it has not seen.
    pub fn edited(mut self, edited: R) -> Self {
        self.edited = Some(edited);
        self
    }

    /// What the history records beside the move.
    pub fn noted(mut self, note: Note) -> Self {
        self.note = note;
        self
    }

    /// Records a move by target as made by `action`, the action that leads
    /// there from the state the move was decided on.
    pub fn via(mut self, action: <R::State as StateMachine>::Action) -> Self {
        self.action = Some(action);
        self
    }

    /// The parts.
    pub fn into_parts(self) -> ChangeParts<R> {
        ChangeParts {
            requested: self.requested,
            action: self.action,
            expected: self.expected,
            edited: self.edited,
            note: self.note,
        }
    }
}

/// The two steps of a move the engine takes from where resources live: a
/// read, and an atomic commit. Every [`Store`] has them; so does a store's
/// view of a caller's own transaction.
pub(crate) trait Access<R: Resource>: Sync {
    /// How resources are named.
    type Id: Clone + Send + Sync + 'static;

    fn get(
        &self,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send;

    fn apply(
        &self,
        id: &Self::Id,
        change: Change<R>,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send;
}

impl<R: Resource, St: Store<R>> Access<R> for St {
    type Id = St::Id;

    fn get(
        &self,
        id: &Self::Id,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send {
        Store::get(self, id)
    }

    fn apply(
        &self,
        id: &Self::Id,
        change: Change<R>,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send {
        Store::apply(self, id, change)
    }
}

/// What a store answers to one change of [`Store::apply_each`].
pub type Applied<Id, R> = Result<Versioned<Id, R>, StoreError<<R as Resource>::State>>;

/// A store that names new resources itself (`POST /orders`).
pub trait Create<R: Resource>: Store<R> {
    /// Stores `value` as a new resource under an id the store chooses (the
    /// next one in memory, the table's own default in SQL) and returns it
    /// as stored, id included: a store that keeps the resource apart from
    /// its id tells the resource through [`Keyed`].
    fn create(
        &self,
        value: R,
    ) -> impl Future<Output = Result<Versioned<Self::Id, R>, StoreError<R::State>>> + Send;
}

/// A resource that carries its own id (`Order { id, .. }`), for stores that
/// choose ids and keep them apart from the resource (in memory). A resource
/// that does not carry its id implements it with an empty body.
pub trait Keyed<Id> {
    /// Records the id the store chose; by default nothing, for a resource
    /// that does not carry its id (`impl Keyed<u64> for Ticket {}`).
    fn set_id(&mut self, id: &Id) {
        let _ = id;
    }
}

/// One page of resources, in the order of their ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<Id, R> {
    /// The resources.
    pub items: Vec<Versioned<Id, R>>,
    /// Where the next page starts (after this id), when there is one.
    pub next: Option<Id>,
}

/// A store that lists resources by state, a page at a time, in the order of
/// their ids (keyset pagination: a page costs the same wherever it starts).
pub trait List<R: Resource>: Store<R> {
    /// Up to `limit` resources in any of `states`, with ids after `after`.
    fn list(
        &self,
        states: &[R::State],
        after: Option<&Self::Id>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<Self::Id, R>, StoreError<R::State>>> + Send;
}
