//! Deadlines: moves a resource makes by itself once it has been in a state
//! for a while (an unpaid order cancelled after 30 minutes). Declared on the
//! derive, `#[state(on(pay -> Paid), after(30min, expire -> Cancelled))]`,
//! they are constants of the machine, in every picture of it.

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use crate::machine::{Action, StateMachine};

/// The deadline of one state: `action` is made once the resource has been
/// in `state` for `after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline<S: StateMachine> {
    state: S,
    action: S::Action,
    seconds: u64,
}

impl<S: StateMachine> Deadline<S> {
    /// What the derive writes for `after(..)`; `seconds` is above zero.
    #[doc(hidden)]
    #[must_use]
    pub const fn new(state: S, action: S::Action, seconds: u64) -> Self {
        Deadline {
            state,
            action,
            seconds,
        }
    }

    /// A deadline set at runtime (a payment window read from
    /// configuration): `action` made `after` the resource entered `state`,
    /// in whole seconds. A store given it ([`MemoryStore::with_deadline`]
    /// and the SQL stores' own) keeps it instead of the one declared on
    /// `state`, if any.
    ///
    /// [`MemoryStore::with_deadline`]: crate::store::MemoryStore::with_deadline
    ///
    /// # Errors
    /// [`InvalidDeadline`] when `action` is not a move of `state`, or
    /// `after` is under a second.
    pub fn of(state: S, action: S::Action, after: Duration) -> Result<Self, InvalidDeadline> {
        if state.apply(action).is_err() {
            return Err(InvalidDeadline::NotAMove {
                state: state.name(),
                action: action.name(),
            });
        }
        if after.as_secs() == 0 {
            return Err(InvalidDeadline::UnderASecond);
        }
        Ok(Deadline {
            state,
            action,
            seconds: after.as_secs(),
        })
    }

    /// The state it belongs to.
    #[must_use]
    pub fn state(&self) -> S {
        self.state
    }

    /// The move it makes.
    #[must_use]
    pub fn action(&self) -> S::Action {
        self.action
    }

    /// The state the move leads to.
    #[must_use]
    pub fn target(&self) -> Option<S> {
        self.state.target(self.action)
    }

    /// How long after entering the state it is due.
    #[must_use]
    pub fn after(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

/// `expire after 30m`.
impl<S: StateMachine> fmt::Display for Deadline<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} after {}",
            self.action.name(),
            duration_text(self.after())
        )
    }
}

/// `30m`, `2h`, `7d`, `90s`: the largest unit that divides the duration,
/// as the derive's Mermaid and DOT text print it.
#[must_use]
pub fn duration_text(after: Duration) -> String {
    match after.as_secs() {
        s if s != 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s != 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Why [`Deadline::of`] refused a deadline.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidDeadline {
    /// The action does not leave the state.
    #[error("`{action}` is not a move of `{state}`; a deadline makes one of its state's moves")]
    NotAMove {
        /// The state's wire name.
        state: &'static str,
        /// The action's wire name.
        action: &'static str,
    },
    /// Deadlines are kept in whole seconds.
    #[error("a deadline is at least a second after its state is entered")]
    UnderASecond,
}

/// The deadlines a store keeps: the declared ones, with those set at
/// runtime in place of a state's declared one.
#[derive(Clone, Debug)]
pub(crate) struct Schedule<S: StateMachine>(Arc<[Deadline<S>]>);

impl<S: StateMachine> Default for Schedule<S> {
    fn default() -> Self {
        Schedule(S::DEADLINES.into())
    }
}

impl<S: StateMachine> Schedule<S> {
    /// This schedule with `deadline` in place of its state's.
    pub(crate) fn with(&self, deadline: Deadline<S>) -> Self {
        let mut deadlines: Vec<Deadline<S>> = self
            .0
            .iter()
            .filter(|kept| kept.state != deadline.state)
            .copied()
            .collect();
        deadlines.push(deadline);
        Schedule(deadlines.into())
    }

    /// The deadline of `state`, if it has one.
    pub(crate) fn of(&self, state: S) -> Option<&Deadline<S>> {
        self.0.iter().find(|deadline| deadline.state == state)
    }

    /// Every deadline.
    pub(crate) fn all(&self) -> &[Deadline<S>] {
        &self.0
    }
}
