use core::fmt;

use super::{Action, StateMachine};

/// A move the declaration does not allow from the current state.
///
/// Carries what a client needs to recover: the current state, what was asked
/// for, and what is allowed instead. Its `Display` is a sentence a person can
/// act on: `cannot cancel order: it is shipped; allowed: deliver`.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", Sentence(self))]
#[non_exhaustive]
pub struct TransitionError<S: StateMachine> {
    current: S,
    requested: Requested<S>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Requested<S: StateMachine> {
    Action(S::Action),
    State(S),
}

impl<S: StateMachine> TransitionError<S> {
    /// `action` was asked for in state `current`, which does not allow it.
    pub fn for_action(current: S, action: S::Action) -> Self {
        TransitionError {
            current,
            requested: Requested::Action(action),
        }
    }

    /// A move to `target` was asked for in state `current`, which does not allow it.
    pub fn for_target(current: S, target: S) -> Self {
        TransitionError {
            current,
            requested: Requested::State(target),
        }
    }

    /// The state the resource is in.
    pub fn current(&self) -> S {
        self.current
    }

    /// The action asked for, when the move was asked for by action.
    pub fn action(&self) -> Option<S::Action> {
        match self.requested {
            Requested::Action(action) => Some(action),
            Requested::State(_) => None,
        }
    }

    /// The state asked for: the requested target, or the one state the
    /// requested action always leads to.
    pub fn requested_state(&self) -> Option<S> {
        match self.requested {
            Requested::Action(action) => action.target(),
            Requested::State(state) => Some(state),
        }
    }

    /// The states the resource may move to from its current state.
    pub fn allowed_next_states(&self) -> &'static [S] {
        self.current.next_states()
    }

    /// The actions the current state allows.
    pub fn allowed_actions(&self) -> &'static [S::Action] {
        self.current.actions()
    }
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "`requested` is shown as `action` and `requested_state`, beside what is allowed"
)]
impl<S: StateMachine> fmt::Debug for TransitionError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitionError")
            .field("current", &self.current)
            .field("action", &self.action())
            .field("requested_state", &self.requested_state())
            .field("allowed_next_states", &self.allowed_next_states())
            .field("allowed_actions", &self.allowed_actions())
            .finish()
    }
}

struct Sentence<'a, S: StateMachine>(&'a TransitionError<S>);

impl<S: StateMachine> fmt::Display for Sentence<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        let current = error.current.name();
        match error.requested {
            Requested::Action(action) => write!(f, "cannot {} {}", action.name(), S::RESOURCE)?,
            Requested::State(state) => {
                write!(f, "cannot move {} to {}", S::RESOURCE, state.name())?;
            }
        }
        let actions = error.allowed_actions();
        let next = error.allowed_next_states();
        if next.is_empty() {
            return write!(f, ": it is {current}, a terminal state");
        }
        write!(f, ": it is {current}; allowed: ")?;
        // Asked by action: answer in actions where the state has any.
        if error.action().is_some() && !actions.is_empty() {
            write_list(f, actions.iter().map(|a| a.name()))
        } else {
            write_list(f, next.iter().map(|s| s.name()))
        }
    }
}

fn write_list<'a>(f: &mut fmt::Formatter<'_>, names: impl Iterator<Item = &'a str>) -> fmt::Result {
    for (i, name) in names.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(name)?;
    }
    Ok(())
}

/// What an [`UnknownName`] failed to name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum NameKind {
    /// A state of the machine.
    State,
    /// An action of the machine.
    Action,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::State => "state",
            NameKind::Action => "action",
        })
    }
}

/// A name that is no state or action of the machine; lists the known ones.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown {resource} {kind} `{given}`; expected one of: {}", self.expected.join(", "))]
#[non_exhaustive]
pub struct UnknownName {
    kind: NameKind,
    resource: &'static str,
    given: String,
    expected: &'static [&'static str],
}

/// Longest input echoed back in messages: enough to spot a typo, too little
/// to reflect a large hostile input.
const ECHO_LIMIT: usize = 64;

impl UnknownName {
    /// `given` names no `kind` of `resource`; `expected` are the known names.
    #[must_use]
    pub fn new(
        kind: NameKind,
        resource: &'static str,
        given: &str,
        expected: &'static [&'static str],
    ) -> Self {
        let given = match given.char_indices().nth(ECHO_LIMIT) {
            Some((cut, _)) => format!("{}…", &given[..cut]),
            None => given.to_owned(),
        };
        UnknownName {
            kind,
            resource,
            given,
            expected,
        }
    }

    /// Whether a state or an action was asked for.
    #[must_use]
    pub fn kind(&self) -> NameKind {
        self.kind
    }

    /// The resource of the machine (`"order"`).
    #[must_use]
    pub fn resource(&self) -> &'static str {
        self.resource
    }

    /// The name given, cut to 64 characters.
    #[must_use]
    pub fn given(&self) -> &str {
        &self.given
    }

    /// Every name that would have been accepted.
    #[must_use]
    pub fn expected(&self) -> &'static [&'static str] {
        self.expected
    }
}
