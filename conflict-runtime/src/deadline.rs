//! Deadlines: moves a resource makes by itself once it has been in a state
//! for a while (an unpaid order cancelled after 30 minutes). Declared on the
//! derive, `#[state(on(pay -> Paid), after(30min, expire -> Cancelled))]`,
//! they are constants of the machine, in every picture of it.

use core::fmt;
use core::time::Duration;

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
