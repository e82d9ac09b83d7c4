//! Why the engine refused a move: one domain error for every caller. The
//! HTTP layer turns it into a problem body in one table; a job reads it as
//! it is.

use std::borrow::Cow;

use super::input::InputError;
use super::rules::{Caller, MoveOption, Rules};
use super::store::{Move, Resource, StoreError};
use crate::guard::Blocker;
use crate::machine::{Action, StateMachine, TransitionError};

/// What the caller may do instead of a refused move: the actions and next
/// states of the current state that its permissions allow and no guard
/// blocks now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed<S: StateMachine> {
    actions: Cow<'static, [S::Action]>,
    states: Cow<'static, [S]>,
}

impl<S: StateMachine> Allowed<S> {
    /// Everything the table allows from `state`, before guards and
    /// permissions (borrowed from the table: no allocation).
    pub fn by_table(state: S) -> Self {
        Allowed {
            actions: Cow::Borrowed(state.actions()),
            states: Cow::Borrowed(state.next_states()),
        }
    }

    /// The moves the table allows from `state` that `caller` may request,
    /// without asking the guards (which need the resource).
    pub(crate) fn permitted<R: Resource<State = S>>(
        state: S,
        rules: &Rules<R>,
        caller: &dyn Caller,
    ) -> Self {
        let actions: Vec<S::Action> = state
            .actions()
            .iter()
            .copied()
            .filter(|&action| rules.permits(caller, action))
            .collect();
        let leads_to = |to: S, action: &S::Action| state.target(*action) == Some(to);
        // A state is open when a permitted action leads there, or a bare
        // move (`to(...)`) with no action at all.
        let states = state
            .next_states()
            .iter()
            .copied()
            .filter(|&to| {
                actions.iter().any(|a| leads_to(to, a))
                    || !state.actions().iter().any(|a| leads_to(to, a))
            })
            .collect();
        Allowed {
            actions: Cow::Owned(actions),
            states: Cow::Owned(states),
        }
    }

    /// The actions and next states among `options` that no guard blocks.
    pub fn from_options(options: &[MoveOption<S>]) -> Self {
        let open = || options.iter().filter(|option| option.verdict.is_allowed());
        let actions = open().filter_map(|option| option.action).collect();
        let mut states: Vec<S> = Vec::new();
        for option in open() {
            if !states.contains(&option.to) {
                states.push(option.to);
            }
        }
        Allowed {
            actions: Cow::Owned(actions),
            states: Cow::Owned(states),
        }
    }

    /// The actions, in declaration order.
    #[must_use]
    pub fn actions(&self) -> &[S::Action] {
        &self.actions
    }

    /// The next states, in declaration order, each once.
    #[must_use]
    pub fn states(&self) -> &[S] {
        &self.states
    }
}

/// Why a move was refused, or could not be made.
///
/// The variants follow the order in which the engine checks: the resource
/// exists, the caller may request the action, the precondition is given and
/// holds, the input is readable and valid, the table allows the move, the
/// guards allow it, and the store commits it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MoveError<S: StateMachine> {
    /// No resource has this id.
    #[error("no such {}", S::RESOURCE)]
    NotFound,
    /// The caller may not request this action (a permission it lacks).
    #[error("the caller may not {} a {}", .action.name(), S::RESOURCE)]
    Forbidden {
        /// The action refused.
        action: S::Action,
    },
    /// The move requires an expected version and none was given.
    #[error(
        "moving the {} requires the version it is expected at (now {version})",
        S::RESOURCE
    )]
    PreconditionRequired {
        /// The version the resource is at.
        version: u64,
    },
    /// The expected version is not the current one.
    #[error("the {} is at version {version}, in state {}", S::RESOURCE, .state.name())]
    PreconditionFailed {
        /// The version the resource is at.
        version: u64,
        /// The state the resource is in.
        state: S,
    },
    /// The move's input, or the state it names, cannot be used.
    #[error(transparent)]
    Input(InputError),
    /// The table does not allow the move from the current state.
    #[error("{refused}")]
    Illegal {
        /// The refusal, with the current state and what was asked.
        refused: TransitionError<S>,
        /// What this caller may do instead.
        allowed: Allowed<S>,
    },
    /// The table allows the move, but a guard blocks it now.
    #[error("a guard blocks the move from {}", .current.name())]
    Blocked {
        /// The state the resource is in.
        current: S,
        /// The move asked for.
        requested: Move<S>,
        /// Every reason, in the order the guards ran.
        blockers: Vec<Blocker>,
        /// What this caller may do instead.
        allowed: Allowed<S>,
    },
    /// The resource changed between the guards' decision and the commit,
    /// every time it was tried.
    #[error("the {} changed under {attempts} attempts to move it", S::RESOURCE)]
    Contended {
        /// How many times the move was decided.
        attempts: u32,
    },
    /// The store cannot keep a value of the move (Postgres keeps no NUL
    /// character in text).
    #[error("cannot store the value: {0}")]
    Unstorable(&'static str),
    /// The store holds the resource under a state (or its history under an
    /// action) that this version of the machine does not declare.
    #[error("the store holds the {what} `{stored}`, which the machine does not declare")]
    UnknownStored {
        /// `"state"` or `"action"`.
        what: &'static str,
        /// The name as stored.
        stored: String,
    },
    /// The store failed, or the move's task did; the detail is for logs.
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The kinds of [`MoveError`], finer where a caller answers differently
/// (each kind of [`InputError`]): what the HTTP layer maps to a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MoveErrorKind {
    /// [`MoveError::NotFound`].
    NotFound,
    /// [`MoveError::Forbidden`].
    Forbidden,
    /// [`MoveError::PreconditionRequired`].
    PreconditionRequired,
    /// [`MoveError::PreconditionFailed`].
    PreconditionFailed,
    /// [`InputError::Unsupported`].
    UnsupportedInput,
    /// [`InputError::Syntax`].
    MalformedInput,
    /// [`InputError::Invalid`] and [`InputError::NoState`].
    InvalidInput,
    /// [`InputError::UnknownState`].
    UnknownState,
    /// [`MoveError::Illegal`].
    Illegal,
    /// [`MoveError::Blocked`].
    Blocked,
    /// [`MoveError::Contended`].
    Contended,
    /// [`MoveError::Unstorable`].
    Unstorable,
    /// [`MoveError::UnknownStored`].
    UnknownStored,
    /// [`MoveError::Backend`].
    Backend,
}

impl MoveErrorKind {
    /// Every kind, in the engine's order of checks.
    pub const ALL: &'static [MoveErrorKind] = &[
        MoveErrorKind::NotFound,
        MoveErrorKind::Forbidden,
        MoveErrorKind::PreconditionRequired,
        MoveErrorKind::PreconditionFailed,
        MoveErrorKind::UnsupportedInput,
        MoveErrorKind::MalformedInput,
        MoveErrorKind::InvalidInput,
        MoveErrorKind::UnknownState,
        MoveErrorKind::Illegal,
        MoveErrorKind::Blocked,
        MoveErrorKind::Contended,
        MoveErrorKind::Unstorable,
        MoveErrorKind::UnknownStored,
        MoveErrorKind::Backend,
    ];
}

impl<S: StateMachine> MoveError<S> {
    /// The kind of refusal.
    pub fn kind(&self) -> MoveErrorKind {
        match self {
            MoveError::NotFound => MoveErrorKind::NotFound,
            MoveError::Forbidden { .. } => MoveErrorKind::Forbidden,
            MoveError::PreconditionRequired { .. } => MoveErrorKind::PreconditionRequired,
            MoveError::PreconditionFailed { .. } => MoveErrorKind::PreconditionFailed,
            MoveError::Input(InputError::Unsupported(_)) => MoveErrorKind::UnsupportedInput,
            MoveError::Input(InputError::Syntax(_)) => MoveErrorKind::MalformedInput,
            MoveError::Input(InputError::Invalid(_) | InputError::NoState(_)) => {
                MoveErrorKind::InvalidInput
            }
            MoveError::Input(InputError::UnknownState(_)) => MoveErrorKind::UnknownState,
            MoveError::Illegal { .. } => MoveErrorKind::Illegal,
            MoveError::Blocked { .. } => MoveErrorKind::Blocked,
            MoveError::Contended { .. } => MoveErrorKind::Contended,
            MoveError::Unstorable(_) => MoveErrorKind::Unstorable,
            MoveError::UnknownStored { .. } => MoveErrorKind::UnknownStored,
            MoveError::Backend(_) => MoveErrorKind::Backend,
        }
    }
}

impl<S: StateMachine> From<StoreError<S>> for MoveError<S> {
    fn from(error: StoreError<S>) -> Self {
        match error {
            StoreError::NotFound => MoveError::NotFound,
            StoreError::Transition(refused) => MoveError::Illegal {
                allowed: Allowed::by_table(refused.current()),
                refused,
            },
            StoreError::PreconditionFailed { version, state } => {
                MoveError::PreconditionFailed { version, state }
            }
            StoreError::Unstorable(reason) => MoveError::Unstorable(reason),
            StoreError::UnknownName { what, stored } => MoveError::UnknownStored { what, stored },
            StoreError::Backend(cause) => MoveError::Backend(cause),
            // A store answers this to an insert, never to a move.
            StoreError::AlreadyExists { .. } => {
                MoveError::Backend("the store answered a move as an insert".into())
            }
        }
    }
}

impl<S: StateMachine> From<InputError> for MoveError<S> {
    fn from(error: InputError) -> Self {
        MoveError::Input(error)
    }
}
