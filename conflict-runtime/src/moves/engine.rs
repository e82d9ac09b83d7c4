//! The engine: one call performs a move for any caller, an HTTP request, a
//! queue consumer, a scheduled job or a test alike.

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::error::{Allowed, MoveError};
use super::history::Note;
use super::input::{Input, InputError, ParsedInput};
use super::rules::{Asking, Caller, Committed, MoveOption, Rules};
use super::store::{Access, Change, Expected, Move, Resource, Store, StoreError, Versioned};
use crate::machine::{Action, StateMachine};

/// One move, as a caller asks for it: which resource, which move, under
/// which expected version, with which input.
///
/// ```
/// # use conflict_runtime::StateMachine;
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// # enum DoorState { #[state(initial, on(open -> Open))] Closed, #[state(on(close -> Closed))] Open }
/// use conflict_runtime::moves::{Input, MoveSpec};
/// use conflict_runtime::store::Expected;
///
/// let spec = MoveSpec::<DoorState, u64>::action(7, DoorStateAction::Open)
///     .expecting(Expected::OneOf(vec![3]))
///     .with_input(Input::Value(serde_json::json!({"reason": "airing"})))
///     .with_reason("scheduled");
/// assert_eq!(*spec.id(), 7);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct MoveSpec<S: StateMachine, Id> {
    id: Id,
    // A move by target whose target could not be read is refused in its
    // turn, after the checks that come before the input's.
    requested: Result<Move<S>, InputError>,
    expected: Option<Expected>,
    expected_required: bool,
    input: Input,
    reason: Option<String>,
}

impl<S: StateMachine, Id> MoveSpec<S, Id> {
    /// `requested` on the resource `id`, unconditional, without input.
    pub fn new(id: Id, requested: Move<S>) -> Self {
        MoveSpec {
            id,
            requested: Ok(requested),
            expected: None,
            expected_required: false,
            input: Input::None,
            reason: None,
        }
    }

    /// The move by `action`.
    pub fn action(id: Id, action: S::Action) -> Self {
        MoveSpec::new(id, Move::Action(action))
    }

    /// The move to `target`; a move to the current state is a no-op.
    pub fn to(id: Id, target: S) -> Self {
        MoveSpec::new(id, Move::To(target))
    }

    /// A move by target whose target could not be read from the caller's
    /// input (a body naming no state): refused with `error` in its turn,
    /// after the checks that come before the input's, as an adapter that
    /// parses requests must answer.
    pub fn unreadable_target(id: Id, error: InputError) -> Self {
        MoveSpec {
            id,
            requested: Err(error),
            expected: None,
            expected_required: false,
            input: Input::None,
            reason: None,
        }
    }

    /// Commits only if the resource is at a version `expected` accepts
    /// (an `If-Match`); `None` for any version.
    pub fn expecting(mut self, expected: impl Into<Option<Expected>>) -> Self {
        self.expected = expected.into();
        self
    }

    /// Refuses the move with [`MoveError::PreconditionRequired`] unless an
    /// expected version is given: for callers that must not overwrite a
    /// change they have not seen.
    pub fn require_expected(mut self) -> Self {
        self.expected_required = true;
        self
    }

    /// The move's input, read by the action's typed input if it has one.
    pub fn with_input(mut self, input: Input) -> Self {
        self.input = input;
        self
    }

    /// Why, for the history, unless the action's input gives a reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The resource's id.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// The move asked for; `None` for a target that could not be read.
    pub fn requested(&self) -> Option<Move<S>> {
        self.requested.as_ref().ok().copied()
    }
}

/// A performed move: the resource after it, whether anything was committed
/// (a move to the current state commits nothing), and the after-commit hooks
/// that failed.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Moved<Id, R> {
    resource: Versioned<Id, R>,
    committed: bool,
    failed_hooks: Vec<&'static str>,
    note: Option<Note>,
}

impl<Id, R> Moved<Id, R> {
    fn unchanged(resource: Versioned<Id, R>) -> Self {
        Moved {
            resource,
            committed: false,
            failed_hooks: Vec::new(),
            note: None,
        }
    }

    fn committed(resource: Versioned<Id, R>, failed_hooks: Vec<&'static str>) -> Self {
        Moved {
            resource,
            committed: true,
            failed_hooks,
            note: None,
        }
    }

    fn noted(mut self, note: Note) -> Self {
        self.note = Some(note);
        self
    }

    /// What the history recorded beside a committed move: who made it,
    /// why, and the action's input.
    pub fn note(&self) -> Option<&Note> {
        self.note.as_ref()
    }

    /// The resource after the move.
    pub fn resource(&self) -> &Versioned<Id, R> {
        &self.resource
    }

    /// The resource after the move, by value.
    pub fn into_resource(self) -> Versioned<Id, R> {
        self.resource
    }

    /// Whether a move was committed (`false` for a move to the current state).
    #[must_use]
    pub fn is_committed(&self) -> bool {
        self.committed
    }

    /// The after-commit hooks that failed.
    #[must_use]
    pub fn failed_hooks(&self) -> &[&'static str] {
        &self.failed_hooks
    }

    /// The same move, its resource completed by `complete`: for a
    /// representation that adds what is kept beside the resource (the
    /// payment row of an order).
    pub fn complete(mut self, complete: impl FnOnce(&mut R)) -> Self {
        complete(&mut self.resource.value);
        self
    }
}

/// Performs moves on the resources of one store under one set of rules.
/// Cloning is cheap: the store and the rules are shared.
///
/// ```
/// # use conflict_runtime::StateMachine;
/// # use conflict_runtime::store::Resource;
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
/// # enum DoorState { #[state(initial, on(open -> Open))] Closed, #[state(on(close -> Closed))] Open }
/// # #[derive(Clone, PartialEq)]
/// # struct Door { state: DoorState }
/// # impl Resource for Door {
/// #     type State = DoorState;
/// #     fn state(&self) -> DoorState { self.state }
/// #     fn set_state(&mut self, state: DoorState) { self.state = state }
/// # }
/// use conflict_runtime::moves::{Anonymous, Engine, MoveError, MoveSpec, Rules};
/// use conflict_runtime::store::MemoryStore;
///
/// # tokio_test(async {
/// let doors = MemoryStore::<Door>::new();
/// let door = doors.create(|_| Door { state: DoorState::Closed });
/// let engine = Engine::new(doors, Rules::new());
///
/// let opened = engine
///     .perform(&Anonymous, MoveSpec::action(*door.id(), DoorStateAction::Open))
///     .await?;
/// assert_eq!(opened.resource().value().state, DoorState::Open);
///
/// let again = engine
///     .perform(&Anonymous, MoveSpec::action(*door.id(), DoorStateAction::Open))
///     .await;
/// assert!(matches!(again, Err(MoveError::Illegal { .. })));
/// # Ok::<(), MoveError<DoorState>>(())
/// # });
/// # fn tokio_test<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub struct Engine<R: Resource, St> {
    // One count to clone: a handler's state is cloned for every request.
    shared: Arc<Shared<R, St>>,
}

struct Shared<R: Resource, St> {
    store: St,
    rules: Rules<R>,
}

impl<R: Resource, St> Clone for Engine<R, St> {
    fn clone(&self) -> Self {
        Engine {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<R: Resource, St: std::fmt::Debug> std::fmt::Debug for Engine<R, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.shared.store)
            .field("rules", &self.shared.rules)
            .finish()
    }
}

/// What became of one resource of a move of many
/// ([`Engine::perform_each`]): its id, and its move or why it was refused.
pub type Outcome<Id, R> = (Id, Result<Moved<Id, R>, MoveError<StateOf<R>>>);

/// How often a move is decided when the resource keeps changing between
/// the decision and the commit, before [`MoveError::Contended`].
pub const MOVE_ATTEMPTS: u32 = 16;

/// One decision and commit: done (committed or unchanged), or stale
/// because the resource changed after it was decided.
enum Attempt<Id, R> {
    Done(Moved<Id, R>),
    Stale,
}

type StateOf<R> = <R as Resource>::State;
type ActionOf<R> = <<R as Resource>::State as StateMachine>::Action;

impl<R, St> Engine<R, St>
where
    R: Resource,
    St: Store<R>,
    St::Id: Display,
{
    /// The engine of `store` under `rules`.
    #[must_use]
    pub fn new(store: St, rules: Rules<R>) -> Self {
        Engine {
            shared: Arc::new(Shared { store, rules }),
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &St {
        &self.shared.store
    }

    /// The rules.
    #[must_use]
    pub fn rules(&self) -> &Rules<R> {
        &self.shared.rules
    }

    /// Every move the table allows from `resource`'s state that `caller`
    /// may request, with what the guards say of each.
    pub async fn options(&self, resource: &R, caller: &dyn Caller) -> Vec<MoveOption<StateOf<R>>> {
        self.shared.rules.options(resource, caller).await
    }

    /// Performs the move `spec` asks for on behalf of `caller`.
    ///
    /// The checks, in order (RFC 9110's for HTTP): the resource exists;
    /// the caller holds the action's permission; an expected version is
    /// given where required, and matches; the input is readable and valid
    /// (checked even for a move that turns out a no-op); the table allows
    /// the move; the guards allow it. The store then checks the version and
    /// the move again and commits in one atomic step, with the history
    /// entry.
    ///
    /// A guard decides on one version of the resource: the move commits
    /// only if the resource is still at that version, and is decided again
    /// on the new one otherwise ([`MOVE_ATTEMPTS`] times at most). A move by
    /// action that no guard, input or hook concerns is not read first: the
    /// store's atomic step decides it alone (one round trip to a database).
    ///
    /// Once the store is asked to commit, the commit and the hooks after it
    /// run as their own task when hooks apply: a caller that stops waiting
    /// (an HTTP client that hangs up) cannot stop them half way.
    ///
    /// # Errors
    /// [`MoveError`] for the first check that fails.
    pub async fn perform(
        &self,
        caller: &dyn Caller,
        spec: MoveSpec<StateOf<R>, St::Id>,
    ) -> Result<Moved<St::Id, R>, MoveError<StateOf<R>>> {
        self.run(&self.shared.store, caller, spec, Hooks::Now).await
    }

    /// Moves each of `ids` by `action`, with one `input` for all, on behalf
    /// of `caller`: a result per resource, in the order given (an id given
    /// twice is moved once and answered once).
    ///
    /// The caller's permission and the input are checked once, for all
    /// (refused as a whole). An action that no guard, input or hook
    /// concerns is one [`Store::apply_each`] (one statement in Postgres);
    /// otherwise each resource is moved as [`perform`](Engine::perform)
    /// moves it, with its guards, input, history and hooks.
    ///
    /// # Errors
    /// [`MoveError::Forbidden`] or [`MoveError::Input`], for the whole request.
    pub async fn perform_each(
        &self,
        caller: &dyn Caller,
        action: ActionOf<R>,
        ids: Vec<St::Id>,
        input: Input,
    ) -> Result<Vec<Outcome<St::Id, R>>, MoveError<StateOf<R>>>
    where
        St::Id: Eq + std::hash::Hash,
    {
        let rules = &self.shared.rules;
        if !rules.permits(caller, action) {
            return Err(MoveError::Forbidden { action });
        }
        if let Some(parse) = rules.input_of(action) {
            drop(parse(&input.read()?)?);
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        let ids: Vec<St::Id> = ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if rules.concerns(action) {
            let mut results = Vec::with_capacity(ids.len());
            for id in ids {
                let spec = MoveSpec::action(id.clone(), action).with_input(input.clone());
                let result = self.perform(caller, spec).await;
                results.push((id, result));
            }
            return Ok(results);
        }
        let note = Note {
            actor: caller.actor().map(str::to_owned),
            reason: None,
            metadata: None,
        };
        let change = Change::new(Move::Action(action))
            .via(action)
            .noted(note.clone());
        let changes = ids.iter().map(|id| (id.clone(), change.clone())).collect();
        let applied = self.shared.store.apply_each(changes).await;
        Ok(ids
            .into_iter()
            .zip(applied)
            .map(|(id, result)| {
                let result = result
                    .map(|moved| Moved::committed(moved, Vec::new()).noted(note.clone()))
                    .map_err(|error| match error {
                        StoreError::Transition(refused) => MoveError::Illegal {
                            allowed: Allowed::permitted(refused.current(), rules, caller),
                            refused,
                        },
                        other => other.into(),
                    });
                (id, result)
            })
            .collect())
    }

    /// The engine's steps on `access`; `hooks` says when the hooks of a
    /// commit run.
    pub(crate) async fn run<A>(
        &self,
        access: &A,
        caller: &dyn Caller,
        spec: MoveSpec<StateOf<R>, St::Id>,
        hooks: Hooks<'_, R>,
    ) -> Result<Moved<St::Id, R>, MoveError<StateOf<R>>>
    where
        A: Access<R, Id = St::Id>,
    {
        let MoveSpec {
            id,
            requested,
            expected,
            expected_required,
            input,
            reason,
        } = spec;
        let rules = &self.shared.rules;
        if let Ok(Move::Action(action)) = requested {
            if !rules.permits(caller, action) {
                return Err(MoveError::Forbidden { action });
            }
            if !expected_required && !rules.concerns(action) {
                let asked = Asked {
                    id: &id,
                    requested: Move::Action(action),
                    expected: expected.as_ref(),
                    input: &input,
                    action_input: None,
                    reason: reason.as_deref(),
                };
                return self.unread(access, caller, &asked, action).await;
            }
        }
        let mut current = access.get(&id).await?;
        if expected.is_none() && expected_required {
            return Err(MoveError::PreconditionRequired {
                version: current.version(),
            });
        }
        // Early answer only: the store checks the version again atomically.
        if let Some(expected) = &expected
            && !expected.matches(current.version())
        {
            return Err(MoveError::PreconditionFailed {
                version: current.version(),
                state: current.value().state(),
            });
        }
        let requested = requested?;
        // An action's input is checked before the move is, even a move that
        // turns out a no-op. A move by target is checked against the input
        // of the action that always leads there, if there is one; the action
        // that leads there from the current state is known later.
        let checked_action = match requested {
            Move::Action(action) => Some(action),
            Move::To(target) => ActionOf::<R>::ALL
                .iter()
                .copied()
                .find(|&a| a.target() == Some(target) && rules.input_of(a).is_some()),
        };
        let action_input = match checked_action.and_then(|a| Some((a, rules.input_of(a)?))) {
            Some((action, parse)) => Some((action, parse(&input.read()?)?)),
            None => None,
        };
        let asked = Asked {
            id: &id,
            requested,
            expected: expected.as_ref(),
            input: &input,
            action_input: action_input.as_ref(),
            reason: reason.as_deref(),
        };
        for _ in 0..MOVE_ATTEMPTS {
            match self
                .attempt(access, caller, current, &asked, &hooks)
                .await?
            {
                Attempt::Done(moved) => return Ok(moved),
                Attempt::Stale => current = access.get(&id).await?,
            }
        }
        Err(MoveError::Contended {
            attempts: MOVE_ATTEMPTS,
        })
    }

    /// A move by `action` that no guard, input or hook concerns: the store
    /// decides it in its atomic step, with nothing read before.
    async fn unread<A>(
        &self,
        access: &A,
        caller: &dyn Caller,
        asked: &Asked<'_, R, St::Id>,
        action: ActionOf<R>,
    ) -> Result<Moved<St::Id, R>, MoveError<StateOf<R>>>
    where
        A: Access<R, Id = St::Id>,
    {
        let mut change = Change::new(asked.requested).via(action);
        if let Some(expected) = asked.expected {
            change = change.expecting(expected.clone());
        }
        let note = Note {
            actor: caller.actor().map(str::to_owned),
            reason: asked.reason.map(str::to_owned),
            metadata: None,
        };
        match access.apply(asked.id, change.noted(note.clone())).await {
            Ok(moved) => Ok(Moved::committed(moved, Vec::new()).noted(note)),
            Err(StoreError::Transition(refused)) if self.shared.rules.narrows() => {
                // What this caller may do instead needs the resource; its
                // state is the refusal's unless it moved on since.
                let allowed = match access.get(asked.id).await {
                    Ok(now) if now.value().state() == refused.current() => {
                        Allowed::from_options(&self.shared.rules.options(now.value(), caller).await)
                    }
                    _ => Allowed::permitted(refused.current(), &self.shared.rules, caller),
                };
                Err(MoveError::Illegal { refused, allowed })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Decides the move on `current` and commits it on that version.
    async fn attempt<A>(
        &self,
        access: &A,
        caller: &dyn Caller,
        current: Versioned<St::Id, R>,
        asked: &Asked<'_, R, St::Id>,
        hooks: &Hooks<'_, R>,
    ) -> Result<Attempt<St::Id, R>, MoveError<StateOf<R>>>
    where
        A: Access<R, Id = St::Id>,
    {
        let rules = &self.shared.rules;
        let requested = asked.requested;
        // Early answer only: the store checks the version again atomically.
        if let Some(expected) = asked.expected
            && !expected.matches(current.version())
        {
            return Err(MoveError::PreconditionFailed {
                version: current.version(),
                state: current.value().state(),
            });
        }
        let from = current.value().state();
        let action = match requested {
            Move::Action(action) if !rules.permits_on(current.value(), caller, action) => {
                return Err(MoveError::Forbidden { action });
            }
            Move::Action(action) => Some(action),
            Move::To(target) => by_target(rules, caller, current.value(), target)?,
        };
        let to = match requested.decide(from) {
            Ok(Some(to)) => to,
            Ok(None) => return Ok(Attempt::Done(Moved::unchanged(current))),
            Err(refused) => {
                let allowed = if rules.narrows() {
                    Allowed::from_options(&rules.options(current.value(), caller).await)
                } else {
                    Allowed::by_table(from)
                };
                return Err(MoveError::Illegal { refused, allowed });
            }
        };
        let parsed: ParsedInput<R>;
        let input = match (asked.action_input, action.and_then(|a| rules.input_of(a))) {
            (Some((checked, input)), _) if Some(*checked) == action => Some(input),
            (_, Some(parse)) => {
                parsed = parse(&asked.input.read()?)?;
                Some(&parsed)
            }
            (_, None) => None,
        };
        let guarded = rules.is_guarded(from, action, to);
        if guarded {
            self.check_guards(current.value(), caller, (action, to), asked, input)
                .await?;
        }
        let mut note = Note {
            actor: caller.actor().map(str::to_owned),
            reason: asked.reason.map(str::to_owned),
            metadata: None,
        };
        let mut change = Change::new(requested);
        if let Some(action) = action {
            change = change.via(action);
        }
        // What was decided on one version commits on that version only:
        // the guards' verdict, the edit, and the action a move by target is
        // recorded under.
        let by_target_via_action = matches!(requested, Move::To(_)) && action.is_some();
        let pinned = guarded || input.is_some() || by_target_via_action;
        if pinned {
            change = change.expecting(Expected::OneOf(vec![current.version()]));
        } else if let Some(expected) = asked.expected {
            change = change.expecting(expected.clone());
        }
        if let Some(input) = input {
            let mut edited = current.into_value();
            (input.edit)(&mut edited);
            change = change.edited(edited);
            if input.reason.is_some() {
                note.reason.clone_from(&input.reason);
            }
            note.metadata = Some(input.metadata.clone());
        }
        let change = change.noted(note.clone());
        let recorded = note.clone();
        let decided = Decided {
            from,
            to,
            action,
            note,
        };
        let committed = match hooks {
            Hooks::Now => self.commit(asked.id, change, decided).await,
            Hooks::Later(pending) => self.hold(access, asked.id, change, decided, pending).await,
        };
        match committed {
            Ok(moved) => Ok(Attempt::Done(moved.noted(recorded))),
            Err(StoreError::PreconditionFailed { .. }) if pinned => Ok(Attempt::Stale),
            Err(error) => Err(error.into()),
        }
    }

    /// The guards' verdict on the move by `action` to `to` from `resource`,
    /// as `caller` asks it: refused with the blockers, and what the caller
    /// may do instead.
    async fn check_guards(
        &self,
        resource: &R,
        caller: &dyn Caller,
        (action, to): (Option<ActionOf<R>>, StateOf<R>),
        asked: &Asked<'_, R, St::Id>,
        input: Option<&ParsedInput<R>>,
    ) -> Result<(), MoveError<StateOf<R>>> {
        let rules = &self.shared.rules;
        // Guards that see the input see it as parsed, or as sent; read only
        // for such a guard.
        let sent = if input.is_none() && rules.asks(resource.state(), action, to) {
            asked.input.read().ok()
        } else {
            None
        };
        let json = input.map(|parsed| &parsed.metadata).or(sent.as_ref());
        let verdict = rules
            .verdict_for(resource, action, to, &Asking::new(caller, json))
            .await;
        if verdict.is_allowed() {
            return Ok(());
        }
        let options = rules.options(resource, caller).await;
        Err(MoveError::Blocked {
            current: resource.state(),
            requested: asked.requested,
            blockers: verdict.into_blockers(),
            allowed: Allowed::from_options(&options),
        })
    }

    /// Commits `change` on `access` and keeps the hooks of the move
    /// `decided` in `pending`, for after the caller's transaction commits.
    async fn hold<A>(
        &self,
        access: &A,
        id: &St::Id,
        change: Change<R>,
        decided: Decided<StateOf<R>>,
        pending: &Mutex<Option<Committed<R>>>,
    ) -> Result<Moved<St::Id, R>, StoreError<StateOf<R>>>
    where
        A: Access<R, Id = St::Id>,
    {
        let moved = access.apply(id, change).await?;
        if self
            .shared
            .rules
            .hooks_for(decided.from, decided.action, decided.to)
        {
            let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
            *pending = Some(decided.committed(moved.id(), &moved));
        }
        Ok(Moved::committed(moved, Vec::new()))
    }

    /// Commits `change` and runs the hooks of the move `decided`: as a
    /// task of their own when hooks apply.
    async fn commit(
        &self,
        id: &St::Id,
        change: Change<R>,
        decided: Decided<StateOf<R>>,
    ) -> Result<Moved<St::Id, R>, StoreError<StateOf<R>>> {
        if !self
            .shared
            .rules
            .hooks_for(decided.from, decided.action, decided.to)
        {
            let moved = self.shared.store.apply(id, change).await?;
            return Ok(Moved::committed(moved, Vec::new()));
        }
        let (shared, id) = (Arc::clone(&self.shared), id.clone());
        detached(async move {
            let moved = shared.store.apply(&id, change).await?;
            let committed = decided.committed(&id, &moved);
            let failed_hooks = shared.rules.run_hooks(&committed).await;
            Ok(Moved::committed(moved, failed_hooks))
        })
        .await
    }
}

/// When the hooks of a commit run: now, or once the caller's own
/// transaction has committed (kept here until then).
pub(crate) enum Hooks<'p, R: Resource> {
    Now,
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        allow(dead_code, reason = "only the SQL stores join a caller's transaction")
    )]
    Later(&'p Mutex<Option<Committed<R>>>),
}

/// A move made inside a caller's own transaction: committed there, with its
/// history entry, once the transaction commits. Its hooks have not run:
/// [`after_commit`](Uncommitted::after_commit) runs them once the caller
/// has committed; a transaction rolled back drops it, and no hook runs.
#[must_use = "run its hooks with `after_commit` once the transaction commits"]
pub struct Uncommitted<Id, R: Resource> {
    moved: Moved<Id, R>,
    hooks: Option<(Rules<R>, Committed<R>)>,
    /// What wakes this process's dispatchers, when the store cannot
    /// notify from inside the transaction (SQLite).
    commits: Option<super::Commits>,
}

impl<Id, R: Resource> Uncommitted<Id, R> {
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        allow(dead_code, reason = "only the SQL stores join a caller's transaction")
    )]
    pub(crate) fn new(
        moved: Moved<Id, R>,
        rules: &Rules<R>,
        pending: Option<Committed<R>>,
        commits: Option<super::Commits>,
    ) -> Self {
        Uncommitted {
            moved,
            hooks: pending.map(|committed| (rules.clone(), committed)),
            commits,
        }
    }

    /// The move, as it will be once the transaction commits.
    pub fn moved(&self) -> &Moved<Id, R> {
        &self.moved
    }

    /// Runs the move's hooks, once the transaction that holds it has
    /// committed, and answers the move with the hooks that failed.
    pub async fn after_commit(self) -> Moved<Id, R> {
        let Uncommitted {
            mut moved,
            hooks,
            commits,
        } = self;
        if let Some(commits) = commits {
            commits.signal();
        }
        if let Some((rules, committed)) = hooks {
            moved.failed_hooks = detached_hooks(rules, committed).await;
        }
        moved
    }
}

/// Runs hooks as a task of their own, awaited.
async fn detached_hooks<R: Resource>(
    rules: Rules<R>,
    committed: Committed<R>,
) -> Vec<&'static str> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn(async move { rules.run_hooks(&committed).await })
            .await
            .unwrap_or_default(),
        Err(_) => rules.run_hooks(&committed).await,
    }
}

/// A move decided on one version, before it commits.
struct Decided<S: StateMachine> {
    from: S,
    to: S,
    action: Option<S::Action>,
    note: Note,
}

impl<S: StateMachine> Decided<S> {
    /// The move as its hooks see it, once `moved` committed it.
    fn committed<Id: Display, R: Resource<State = S>>(
        self,
        id: &Id,
        moved: &Versioned<Id, R>,
    ) -> Committed<R> {
        Committed {
            id: id.to_string(),
            version: moved.version(),
            from: self.from,
            to: self.to,
            action: self.action,
            resource: moved.value().clone(),
            note: self.note,
        }
    }
}

/// What a move asks, as the attempts read it.
struct Asked<'a, R: Resource, Id> {
    id: &'a Id,
    requested: Move<StateOf<R>>,
    expected: Option<&'a Expected>,
    input: &'a Input,
    action_input: Option<&'a (ActionOf<R>, ParsedInput<R>)>,
    reason: Option<&'a str>,
}

/// Runs the commit and what follows it as a task of its own, which the
/// caller awaits: dropping the caller's future does not stop it. Outside a
/// runtime there is nothing to spawn on, and it runs inline.
async fn detached<T, S>(
    work: impl Future<Output = Result<T, StoreError<S>>> + Send + 'static,
) -> Result<T, StoreError<S>>
where
    T: Send + 'static,
    S: StateMachine,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn(work).await.unwrap_or_else(|failed| {
            Err(StoreError::Backend(
                format!("the move's commit task failed: {failed}").into(),
            ))
        }),
        Err(_) => work.await,
    }
}

/// The action behind a move by target, for its permission, guards and
/// input: the first the caller may use of those leading there. A move
/// declared only with `to(...)` has none; a move every route to which
/// needs a permission the caller lacks is refused as that action.
fn by_target<R: Resource>(
    rules: &Rules<R>,
    caller: &dyn Caller,
    resource: &R,
    target: StateOf<R>,
) -> Result<Option<ActionOf<R>>, MoveError<StateOf<R>>> {
    let from = resource.state();
    let mut leading = from
        .actions()
        .iter()
        .copied()
        .filter(|&action| from.target(action) == Some(target))
        .peekable();
    let Some(&first) = leading.peek() else {
        return Ok(None);
    };
    match leading.find(|&action| rules.permits_on(resource, caller, action)) {
        Some(action) => Ok(Some(action)),
        None => Err(MoveError::Forbidden { action: first }),
    }
}
