//! Mermaid and Graphviz text of a machine, rendered once at compile time.

use std::fmt::Write as _;

use syn::ext::IdentExt as _;

use crate::ast::{Action, Machine, State, find_action};
use crate::attr::Move;
use crate::expand::guard_text;

impl Machine<'_> {
    /// `stateDiagram-v2`: ids are the Rust variant names (always valid Mermaid
    /// ids), labels the wire names.
    pub(crate) fn mermaid(&self, actions: &[Action]) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        for state in &self.states {
            let _ = writeln!(
                out,
                "    state \"{}\" as {}",
                mermaid_text(&state.wire),
                state.ident
            );
        }
        for state in self.states.iter().filter(|s| s.attrs.initial.is_some()) {
            let _ = writeln!(out, "    [*] --> {}", state.ident);
        }
        for state in &self.states {
            for m in &state.attrs.moves {
                match m.action.as_ref().and_then(|a| find_action(actions, a)) {
                    Some(action) => {
                        let label = mermaid_text(&label(state, m, &action.wire));
                        let _ = writeln!(out, "    {} --> {}: {label}", state.ident, m.target);
                    }
                    None => {
                        let _ = writeln!(out, "    {} --> {}", state.ident, m.target);
                    }
                }
            }
        }
        for state in self.states.iter().filter(|s| s.attrs.terminal.is_some()) {
            let _ = writeln!(out, "    {} --> [*]", state.ident);
        }
        out
    }

    /// Graphviz DOT: initial states are fed by a point, terminal ones drawn
    /// with a double border.
    pub(crate) fn dot(&self, actions: &[Action]) -> String {
        let mut out = format!("digraph {} {{\n", dot_id(&self.resource()));
        out.push_str("    rankdir=LR;\n    node [shape=box, style=rounded];\n");
        out.push_str("    __start [shape=point, label=\"\"];\n");
        for state in &self.states {
            let border = if state.attrs.terminal.is_some() {
                " [peripheries=2]"
            } else {
                ""
            };
            let _ = writeln!(out, "    {}{border};", dot_id(&state.wire));
        }
        for state in self.states.iter().filter(|s| s.attrs.initial.is_some()) {
            let _ = writeln!(out, "    __start -> {};", dot_id(&state.wire));
        }
        for state in &self.states {
            for m in &state.attrs.moves {
                let Some(target) = self.state_index(&m.target).map(|i| &self.states[i]) else {
                    continue;
                };
                let label = match m.action.as_ref().and_then(|a| find_action(actions, a)) {
                    Some(action) => format!(" [label={}]", dot_id(&label(state, m, &action.wire))),
                    None => String::new(),
                };
                let _ = writeln!(
                    out,
                    "    {} -> {}{label};",
                    dot_id(&state.wire),
                    dot_id(&target.wire)
                );
            }
        }
        out.push_str("}\n");
        out
    }
}

/// An edge label: the action, its guard in UML's brackets, and `after 30m`
/// when the state's deadline makes it.
fn label(state: &State<'_>, m: &Move, action: &str) -> String {
    let mut label = match &m.guard {
        Some(guard) => format!("{action} [{}]", guard_text(&guard.path)),
        None => action.to_owned(),
    };
    if let Some(deadline) = &state.attrs.deadline
        && let Some(seconds) = deadline.seconds
        && m.action
            .as_ref()
            .is_some_and(|a| a.unraw() == deadline.action.unraw())
    {
        let _ = write!(label, " after {}", duration_text(seconds));
    }
    label
}

/// `30m`, `2h`, `7d`, `90s`: the largest unit that divides the duration,
/// as the runtime's `Deadline` prints it.
pub(crate) fn duration_text(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn mermaid_text(text: &str) -> String {
    // Mermaid has no escape for a double quote inside a quoted label.
    text.replace('"', "#quot;")
}

fn dot_id(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
