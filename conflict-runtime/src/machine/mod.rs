//! The machine core: the traits the derive implements and the errors of a
//! refused move. No HTTP and no I/O here.

mod error;

use core::fmt::Debug;
use core::hash::Hash;

pub use self::error::{NameKind, TransitionError, UnknownName};
use crate::deadline::Deadline;
use crate::guard::DeclaredGuard;

/// The states of a resource and the legal moves between them.
///
/// Implemented by `#[derive(StateMachine)]` on a fieldless enum; every lookup
/// is a `const` table indexed by [`index`](StateMachine::index), so a move
/// check costs one load. Names are the serde wire names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a conflict state machine",
    note = "add `#[derive(conflict_runtime::StateMachine)]` to the enum that lists the resource's states"
)]
pub trait StateMachine: Copy + Eq + Debug + Send + Sync + 'static {
    /// The generated enum of named moves (`OrderStatusAction`).
    type Action: Action<Machine = Self>;

    /// The resource's name in messages and problem bodies (`"order"`).
    const RESOURCE: &'static str;
    /// Every state, in declaration order: `STATES[s.index()] == s`.
    const STATES: &'static [Self];
    /// Wire names of [`STATES`](Self::STATES), index for index.
    const NAMES: &'static [&'static str];
    /// The states a new resource may start in.
    const INITIAL: &'static [Self];
    /// The machine as a Mermaid `stateDiagram-v2`.
    const MERMAID: &'static str;
    /// The machine as a Graphviz `digraph`.
    const DOT: &'static str;
    /// Old wire names still read as a state (`#[state(alias = "shipped")]`,
    /// `#[serde(alias = "...")]`, and `removed(archived -> Cancelled)`), so
    /// that stored rows, history and requests written under them keep
    /// working; a state is always written and answered under its name.
    const ALIASES: &'static [(&'static str, Self)] = &[];
    /// The guards declared on the derive (`on(pay -> Paid if credit_limit)`),
    /// in declaration order.
    const GUARDS: &'static [DeclaredGuard<Self>] = &[];
    /// The deadlines declared on the derive (`after(30min, expire ->
    /// Cancelled)`), at most one per state, in declaration order.
    const DEADLINES: &'static [Deadline<Self>] = &[];

    /// Position in [`STATES`](Self::STATES).
    fn index(self) -> usize;

    /// The deadline declared on this state, if any.
    #[must_use]
    fn deadline(self) -> Option<&'static Deadline<Self>> {
        Self::DEADLINES
            .iter()
            .find(|deadline| deadline.state() == self)
    }

    /// The state's wire name, exactly as serde spells it.
    #[must_use]
    fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The state with this wire name, or with this old name
    /// ([`ALIASES`](Self::ALIASES)).
    fn from_name(name: &str) -> Option<Self>;

    /// The states `self` may move to, in declaration order.
    fn next_states(self) -> &'static [Self];

    /// The actions `self` allows, in declaration order.
    fn actions(self) -> &'static [Self::Action];

    /// Whether the declaration allows moving from `self` to `target`.
    fn can_transition_to(self, target: Self) -> bool;

    /// The state `action` leads to from `self`, if `self` allows it.
    fn target(self, action: Self::Action) -> Option<Self>;

    /// Whether a new resource may start in `self`.
    #[must_use]
    fn is_initial(self) -> bool {
        Self::INITIAL.contains(&self)
    }

    /// Whether `self` has no way out.
    #[must_use]
    fn is_terminal(self) -> bool {
        self.next_states().is_empty()
    }

    /// Moves to `target`, or says why not and what is allowed instead.
    ///
    /// # Errors
    /// [`TransitionError`] when the declaration has no move from `self` to `target`.
    fn transition_to(self, target: Self) -> Result<Self, TransitionError<Self>> {
        if self.can_transition_to(target) {
            Ok(target)
        } else {
            Err(TransitionError::for_target(self, target))
        }
    }

    /// Applies `action`, or says why not and what is allowed instead.
    ///
    /// # Errors
    /// [`TransitionError`] when `self` does not allow `action`.
    fn apply(self, action: Self::Action) -> Result<Self, TransitionError<Self>> {
        self.target(action)
            .ok_or_else(|| TransitionError::for_action(self, action))
    }

    /// What the machine declares, one fact per line, sorted: `state paid`,
    /// `initial pending`, `action pay`, `move pending pay paid` (a named
    /// move), `to pending paid` (every move, named or bare), `alias shipped
    /// dispatched` (an old state name), `action_alias ship dispatch`. What
    /// two versions of a machine do not share is what changed.
    #[must_use]
    fn declaration() -> Vec<String> {
        let mut lines = Vec::new();
        for &state in Self::STATES {
            lines.push(format!("state {}", state.name()));
            if state.is_initial() {
                lines.push(format!("initial {}", state.name()));
            }
            for &action in state.actions() {
                if let Some(target) = state.target(action) {
                    lines.push(format!(
                        "move {} {} {}",
                        state.name(),
                        action.name(),
                        target.name()
                    ));
                }
            }
            for &target in state.next_states() {
                lines.push(format!("to {} {}", state.name(), target.name()));
            }
        }
        for &action in Self::Action::ALL {
            lines.push(format!("action {}", action.name()));
        }
        for &(alias, state) in Self::ALIASES {
            lines.push(format!("alias {alias} {}", state.name()));
        }
        for &(alias, action) in <Self::Action as Action>::ALIASES {
            lines.push(format!("action_alias {alias} {}", action.name()));
        }
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// A stable fingerprint of [`declaration`](Self::declaration): 16 hex
    /// digits of its FNV-1a hash, the same on every build and platform. The
    /// SQL stores record the one they last served and log what changed
    /// when a start brings another.
    #[must_use]
    fn fingerprint() -> String {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        for line in Self::declaration() {
            for byte in line.bytes().chain([b'\n']) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
            }
        }
        format!("{hash:016x}")
    }

    /// The state with this wire name, or an error that lists the known ones.
    ///
    /// # Errors
    /// [`UnknownName`] when no state is spelled `name`.
    fn parse_name(name: &str) -> Result<Self, UnknownName> {
        Self::from_name(name)
            .ok_or_else(|| UnknownName::new(NameKind::State, Self::RESOURCE, name, Self::NAMES))
    }
}

/// A named move of a [`StateMachine`]: the generated `OrderStatusAction`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the action enum of a conflict state machine",
    note = "`#[derive(conflict_runtime::StateMachine)]` generates the action enum; name it with `#[state_machine(action = Name)]`"
)]
pub trait Action: Copy + Eq + Hash + Debug + Send + Sync + 'static {
    /// The state enum whose moves these are.
    type Machine: StateMachine<Action = Self>;

    /// Every action, in order of first declaration: `ALL[a.index()] == a`.
    const ALL: &'static [Self];
    /// Wire names of [`ALL`](Self::ALL), index for index.
    const NAMES: &'static [&'static str];
    /// Old wire names still read as an action
    /// (`#[state_machine(action_alias(dispatch = "ship"))]`).
    const ALIASES: &'static [(&'static str, Self)] = &[];

    /// Position in [`ALL`](Self::ALL).
    fn index(self) -> usize;

    /// The action's wire name, in the state enum's serde case convention.
    #[must_use]
    fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The action with this wire name, or with this old name
    /// ([`ALIASES`](Self::ALIASES)).
    fn from_name(name: &str) -> Option<Self>;

    /// The one state this action leads to from every state that allows it,
    /// if there is one (`cancel` always leads to `Cancelled`).
    fn target(self) -> Option<Self::Machine>;
}

#[cfg(test)]
mod tests {
    //! The traits work without the derive: a hand-written machine.

    use super::{Action, NameKind, StateMachine, TransitionError, UnknownName};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Switch {
        Off,
        On,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    enum Flip {
        Flip,
    }

    impl StateMachine for Switch {
        type Action = Flip;
        const RESOURCE: &'static str = "switch";
        const STATES: &'static [Self] = &[Switch::Off, Switch::On];
        const NAMES: &'static [&'static str] = &["off", "on"];
        const INITIAL: &'static [Self] = &[Switch::Off];
        const MERMAID: &'static str = "";
        const DOT: &'static str = "";

        fn index(self) -> usize {
            self as usize
        }

        fn from_name(name: &str) -> Option<Self> {
            Self::NAMES
                .iter()
                .position(|n| *n == name)
                .map(|i| Self::STATES[i])
        }

        fn next_states(self) -> &'static [Self] {
            match self {
                Switch::Off => &[Switch::On],
                Switch::On => &[],
            }
        }

        fn actions(self) -> &'static [Flip] {
            match self {
                Switch::Off => &[Flip::Flip],
                Switch::On => &[],
            }
        }

        fn can_transition_to(self, target: Self) -> bool {
            self.next_states().contains(&target)
        }

        fn target(self, Flip::Flip: Flip) -> Option<Self> {
            (self == Switch::Off).then_some(Switch::On)
        }
    }

    impl Action for Flip {
        type Machine = Switch;
        const ALL: &'static [Self] = &[Flip::Flip];
        const NAMES: &'static [&'static str] = &["flip"];

        fn index(self) -> usize {
            0
        }

        fn from_name(name: &str) -> Option<Self> {
            (name == "flip").then_some(Flip::Flip)
        }

        fn target(self) -> Option<Switch> {
            Some(Switch::On)
        }
    }

    #[test]
    fn provided_methods_follow_the_required_ones() {
        assert_eq!(Switch::Off.apply(Flip::Flip), Ok(Switch::On));
        assert_eq!(Switch::Off.transition_to(Switch::On), Ok(Switch::On));
        assert!(Switch::Off.is_initial() && !Switch::On.is_initial());
        assert!(Switch::On.is_terminal() && !Switch::Off.is_terminal());
        assert_eq!(Switch::On.name(), "on");
        assert_eq!(Flip::Flip.name(), "flip");
        let refused = Switch::On.apply(Flip::Flip).unwrap_err();
        assert_eq!(refused, TransitionError::for_action(Switch::On, Flip::Flip));
        assert_eq!(
            refused.to_string(),
            "cannot flip switch: it is on, a terminal state"
        );
        assert_eq!(
            Switch::On
                .transition_to(Switch::Off)
                .unwrap_err()
                .to_string(),
            "cannot move switch to off: it is on, a terminal state"
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones_and_cut_long_input() {
        let error = Switch::parse_name("dim").unwrap_err();
        assert_eq!(error.kind(), NameKind::State);
        assert_eq!(error.resource(), "switch");
        assert_eq!(error.expected(), &["off", "on"]);
        assert_eq!(
            error.to_string(),
            "unknown switch state `dim`; expected one of: off, on"
        );
        let long = "é".repeat(100);
        let error = UnknownName::new(NameKind::Action, "switch", &long, &[]);
        assert_eq!(error.given(), format!("{}…", "é".repeat(64)));
    }
}
