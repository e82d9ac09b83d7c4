//! Pictures of a machine, from the same tables the moves are checked with:
//! Mermaid and Graphviz text (generated at compile time), an SVG this crate
//! lays out itself, a plain-text listing, and a JSON description.

mod svg;

use core::fmt::Write as _;
use core::time::Duration;

use crate::deadline::{Deadline, duration_text};
use crate::machine::{Action, StateMachine};

pub use self::svg::svg;

/// One move of a machine, by wire names: `action` is `None` for a bare move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The state the move leaves.
    pub from: &'static str,
    /// The state the move enters.
    pub to: &'static str,
    /// The action that names the move, if any.
    pub action: Option<&'static str>,
    /// The guard declared on the move in the derive, if any.
    pub guard: Option<&'static str>,
    /// When the move is the state's deadline: how long after entering it.
    pub after: Option<Duration>,
}

/// Every move of `S`, by state in declaration order: named moves first, then
/// the bare moves that no action of the state covers.
#[must_use]
pub fn edges<S: StateMachine>() -> Vec<Edge> {
    let mut edges = Vec::new();
    for &from in S::STATES {
        let named: Vec<S> = from
            .actions()
            .iter()
            .filter_map(|&a| from.target(a))
            .collect();
        for &action in from.actions() {
            if let Some(to) = from.target(action) {
                let guard = S::GUARDS
                    .iter()
                    .find(|g| g.from() == from && g.action() == action)
                    .map(crate::guard::DeclaredGuard::name);
                let after = from
                    .deadline()
                    .filter(|deadline| deadline.action() == action)
                    .map(Deadline::after);
                edges.push(Edge {
                    from: from.name(),
                    to: to.name(),
                    action: Some(action.name()),
                    guard,
                    after,
                });
            }
        }
        for &to in from.next_states().iter().filter(|to| !named.contains(to)) {
            edges.push(Edge {
                from: from.name(),
                to: to.name(),
                action: None,
                guard: None,
                after: None,
            });
        }
    }
    edges
}

/// The machine as text for a terminal: each state with its moves.
///
/// ```text
/// order
///   pending  (initial)
///     pay     -> paid
///     cancel  -> cancelled
///   delivered  (terminal)
/// ```
#[must_use]
pub fn text<S: StateMachine>() -> String {
    let edges = edges::<S>();
    let width = edges
        .iter()
        .filter_map(|e| e.action)
        .map(str::len)
        .max()
        .unwrap_or(0);
    let mut out = format!("{}\n", S::RESOURCE);
    for &state in S::STATES {
        let mut marks = Vec::new();
        if state.is_initial() {
            marks.push("initial");
        }
        if state.is_terminal() {
            marks.push("terminal");
        }
        let _ = write!(out, "  {}", state.name());
        if !marks.is_empty() {
            let _ = write!(out, "  ({})", marks.join(", "));
        }
        out.push('\n');
        for edge in edges.iter().filter(|e| e.from == state.name()) {
            let _ = write!(
                out,
                "    {:width$}  -> {}",
                edge.action.unwrap_or("(to)"),
                edge.to,
                width = width.max(4)
            );
            if let Some(guard) = edge.guard {
                let _ = write!(out, "  if {guard}");
            }
            if let Some(after) = edge.after {
                let _ = write!(out, "  after {}", duration_text(after));
            }
            out.push('\n');
        }
    }
    out
}

/// What a JSON description of a machine holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Description {
    /// The resource's name.
    pub resource: &'static str,
    /// Every state.
    pub states: Vec<StateDescription>,
    /// Every action, by wire name.
    pub actions: Vec<&'static str>,
    /// Every move.
    pub transitions: Vec<EdgeDescription>,
}

/// A state in a [`Description`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateDescription {
    /// Its wire name.
    pub name: &'static str,
    /// Whether a resource may start in it.
    pub initial: bool,
    /// Whether it has no way out.
    pub terminal: bool,
}

/// A move in a [`Description`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EdgeDescription {
    /// The state it leaves.
    pub from: &'static str,
    /// The state it enters.
    pub to: &'static str,
    /// The action that names it; absent for a bare move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// The guard declared on it in the derive; absent when unguarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'static str>,
    /// When it is its state's deadline: the seconds after entering the
    /// state that it is made by itself; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<u64>,
}

/// The machine as data: states, actions and moves.
#[must_use]
pub fn describe<S: StateMachine>() -> Description {
    Description {
        resource: S::RESOURCE,
        states: S::STATES
            .iter()
            .map(|&s| StateDescription {
                name: s.name(),
                initial: s.is_initial(),
                terminal: s.is_terminal(),
            })
            .collect(),
        actions: S::Action::ALL.iter().map(|a| a.name()).collect(),
        transitions: edges::<S>()
            .into_iter()
            .map(|e| EdgeDescription {
                from: e.from,
                to: e.to,
                action: e.action,
                guard: e.guard,
                after_seconds: e.after.map(|after| after.as_secs()),
            })
            .collect(),
    }
}
