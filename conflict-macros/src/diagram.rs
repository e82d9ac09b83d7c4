//! Mermaid and Graphviz text of a machine, rendered once at compile time.

use std::fmt::Write as _;

use crate::ast::{Action, Machine, find_action};
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
                        let label = mermaid_text(&guarded(&action.wire, m.guard.as_ref()));
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
                    Some(action) => format!(
                        " [label={}]",
                        dot_id(&guarded(&action.wire, m.guard.as_ref()))
                    ),
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

/// An edge label: the action, and its guard in UML's brackets.
fn guarded(action: &str, guard: Option<&syn::Path>) -> String {
    match guard {
        Some(guard) => format!("{action} [{}]", guard_text(guard)),
        None => action.to_owned(),
    }
}

fn mermaid_text(text: &str) -> String {
    // Mermaid has no escape for a double quote inside a quoted label.
    text.replace('"', "#quot;")
}

fn dot_id(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
