//! A small layered layout for state machines, rendered as SVG that a
//! browser shows without any script: states in columns by their distance
//! from an initial state, moves as curves labelled with their action.

use core::fmt::Write as _;

use super::{Edge, edges};
use crate::machine::StateMachine;

const FAMILY: &str = "font-family=\"ui-sans-serif, system-ui, sans-serif\"";
const CHAR_WIDTH: f64 = 8.0;
const BOX_HEIGHT: f64 = 36.0;
const COLUMN_GAP: f64 = 150.0;
const ROW_GAP: f64 = 40.0;
const MARGIN: f64 = 40.0;
const START_RADIUS: f64 = 7.0;

struct Node {
    name: &'static str,
    column: usize,
    x: f64,
    y: f64,
    width: f64,
    initial: bool,
    terminal: bool,
}

impl Node {
    fn right(&self) -> f64 {
        self.x + self.width
    }

    fn middle(&self) -> f64 {
        self.y + BOX_HEIGHT / 2.0
    }
}

/// Text length as the layout counts it.
#[allow(clippy::cast_precision_loss, reason = "names are short")]
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// Columns: the longest path from an initial state, once the moves that
/// close a cycle are set aside, so that every other move points right.
fn columns<S: StateMachine>() -> Vec<usize> {
    fn visit<S: StateMachine>(state: S, mark: &mut [u8], back: &mut Vec<(usize, usize)>) {
        mark[state.index()] = 1; // on the path
        for &next in state.next_states() {
            match mark[next.index()] {
                0 => visit(next, mark, back),
                1 => back.push((state.index(), next.index())),
                _ => {}
            }
        }
        mark[state.index()] = 2; // done
    }
    let count = S::STATES.len();
    let mut mark = vec![0_u8; count];
    let mut back = Vec::new();
    for &state in S::INITIAL.iter().chain(S::STATES) {
        if mark[state.index()] == 0 {
            visit(state, &mut mark, &mut back);
        }
    }
    let mut column = vec![0_usize; count];
    // Longest paths in what is now a DAG: at most `count` rounds.
    for _ in 0..count {
        let mut changed = false;
        for &from in S::STATES {
            for &to in from.next_states() {
                let (f, t) = (from.index(), to.index());
                if f != t && !back.contains(&(f, t)) && column[t] < column[f] + 1 {
                    column[t] = column[f] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    column
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A move's label: its action, a guard in UML's brackets, and `after 30m`
/// for a state's deadline.
fn label(edge: &Edge) -> Option<String> {
    let action = edge.action?;
    let mut label = match edge.guard {
        Some(guard) => format!("{action} [{guard}]"),
        None => action.to_owned(),
    };
    if let Some(after) = edge.after {
        label.push_str(" after ");
        label.push_str(&crate::deadline::duration_text(after));
    }
    Some(label)
}

/// Where every state goes: boxes in columns, each column centred.
#[allow(
    clippy::cast_precision_loss,
    reason = "layout coordinates of a few dozen states"
)]
fn layout<S: StateMachine>() -> (Vec<Node>, f64, f64) {
    let column = columns::<S>();
    let count = column.iter().max().map_or(0, |&c| c + 1);
    let mut column_width = vec![0.0_f64; count];
    let mut rows = vec![0_usize; count];
    for (state, &c) in S::STATES.iter().zip(&column) {
        column_width[c] = column_width[c].max(text_width(state.name()) + 32.0);
        rows[c] += 1;
    }
    // A gap holds the widest label of the moves that leave its column.
    let mut gap = vec![COLUMN_GAP; count];
    for edge in edges::<S>() {
        let from = S::STATES.iter().position(|s| s.name() == edge.from);
        if let (Some(from), Some(label)) = (from, label(&edge)) {
            gap[column[from]] = gap[column[from]].max(text_width(&label) + 60.0);
        }
    }
    let mut column_x = vec![MARGIN + 2.0 * START_RADIUS + 30.0; count];
    for c in 1..count {
        column_x[c] = column_x[c - 1] + column_width[c - 1] + gap[c - 1];
    }
    let tallest = rows.iter().copied().max().unwrap_or(1) as f64;
    let height = MARGIN * 2.0 + tallest * BOX_HEIGHT + (tallest - 1.0) * ROW_GAP + 60.0;
    let mut placed = vec![0_usize; count];
    let nodes: Vec<Node> = S::STATES
        .iter()
        .zip(&column)
        .map(|(&state, &c)| {
            let row = placed[c];
            placed[c] += 1;
            let column_height = rows[c] as f64 * BOX_HEIGHT + (rows[c] as f64 - 1.0) * ROW_GAP;
            let top = (height - column_height) / 2.0;
            Node {
                name: state.name(),
                column: c,
                x: column_x[c],
                y: top + row as f64 * (BOX_HEIGHT + ROW_GAP),
                width: text_width(state.name()) + 32.0,
                initial: state.is_initial(),
                terminal: state.is_terminal(),
            }
        })
        .collect();
    let width = nodes.iter().map(Node::right).fold(0.0, f64::max) + MARGIN;
    (nodes, width, height)
}

/// The curve of a move and where its label goes. `fan` separates moves
/// between the same two states.
fn curve(from: &Node, to: &Node, fan: f64) -> (String, f64, f64) {
    if from.name == to.name {
        let (x, y) = (from.x + from.width / 2.0, from.y);
        let top = y - 45.0 - fan;
        return (
            format!(
                "M{:.1},{y:.1} C{:.1},{top:.1} {:.1},{top:.1} {:.1},{y:.1}",
                x - 12.0,
                x - 30.0,
                x + 30.0,
                x + 12.0
            ),
            x,
            top + 5.0,
        );
    }
    if to.column > from.column + 1 {
        // Across a column or more: over the boxes in between.
        let (x1, x2) = (from.x + from.width / 2.0, to.x + to.width / 2.0);
        let (y1, y2) = (from.y, to.y);
        let high = y1.min(y2) - 40.0 - fan;
        return (
            format!("M{x1:.1},{y1:.1} C{x1:.1},{high:.1} {x2:.1},{high:.1} {x2:.1},{y2:.1}"),
            f64::midpoint(x1, x2),
            high + 26.0,
        );
    }
    if to.column > from.column {
        let (x1, y1, x2, y2) = (
            from.right(),
            from.middle() + fan / 3.0,
            to.x,
            to.middle() + fan / 3.0,
        );
        let bend = (x2 - x1) / 2.0;
        return (
            format!(
                "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                x1 + bend,
                x2 - bend
            ),
            f64::midpoint(x1, x2),
            f64::midpoint(y1, y2) - 6.0 - fan,
        );
    }
    if to.column == from.column {
        // Within a column: a bulge out to the right, side to side.
        let side = from.right().max(to.right());
        let (y1, y2) = (from.middle(), to.middle());
        let out = side + 45.0 + fan;
        return (
            format!(
                "M{:.1},{y1:.1} C{out:.1},{y1:.1} {out:.1},{y2:.1} {:.1},{y2:.1}",
                from.right(),
                to.right()
            ),
            out - 12.0,
            f64::midpoint(y1, y2) + 4.0,
        );
    }
    // Backwards: an arc below both boxes.
    let (x1, x2) = (from.x + from.width / 2.0, to.x + to.width / 2.0);
    let (y1, y2) = (from.y + BOX_HEIGHT, to.y + BOX_HEIGHT);
    let low = y1.max(y2) + 55.0 + fan;
    (
        format!("M{x1:.1},{y1:.1} C{x1:.1},{low:.1} {x2:.1},{low:.1} {x2:.1},{y2:.1}"),
        f64::midpoint(x1, x2),
        low - 10.0,
    )
}

fn draw_node(out: &mut String, n: &Node) {
    if n.initial {
        let cx = n.x - 28.0;
        let _ = writeln!(
            out,
            "<circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"{START_RADIUS}\" fill=\"#222\"/><path d=\"M{:.1},{:.1} L{:.1},{:.1}\" stroke=\"#222\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>",
            n.middle(),
            cx + START_RADIUS,
            n.middle(),
            n.x,
            n.middle()
        );
    }
    let fill = if n.terminal { "#f1f1f1" } else { "#e8f0fe" };
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{BOX_HEIGHT}\" rx=\"10\" fill=\"{fill}\" stroke=\"#222\" stroke-width=\"1.5\"/>",
        n.x, n.y, n.width
    );
    if n.terminal {
        let _ = writeln!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"7\" fill=\"none\" stroke=\"#222\" stroke-width=\"1\"/>",
            n.x + 4.0,
            n.y + 4.0,
            n.width - 8.0,
            BOX_HEIGHT - 8.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" {FAMILY} font-size=\"14\" text-anchor=\"middle\" fill=\"#222\">{}</text>",
        n.x + n.width / 2.0,
        n.middle() + 5.0,
        escape(n.name)
    );
}

/// The machine as a standalone SVG document: initial states fed by a dot,
/// terminal states with a double border, moves labelled with their action.
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "a handful of parallel moves")]
pub fn svg<S: StateMachine>() -> String {
    let (nodes, width, height) = layout::<S>();
    let node = |name: &str| nodes.iter().find(|n| n.name == name);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"state machine of {}\">",
        escape(S::RESOURCE)
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>\n",
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"28\" {FAMILY} font-size=\"14\" font-weight=\"bold\" fill=\"#222\">{}</text>",
        escape(S::RESOURCE)
    );

    // Edges first, so that boxes and labels sit on top of them.
    let mut labels = String::new();
    let edges = edges::<S>();
    for (i, edge) in edges.iter().enumerate() {
        let (Some(from), Some(to)) = (node(edge.from), node(edge.to)) else {
            continue;
        };
        let parallel = edges[..i]
            .iter()
            .filter(|e| e.from == edge.from && e.to == edge.to)
            .count();
        let (path, lx, ly) = curve(from, to, parallel as f64 * 18.0);
        let _ = writeln!(
            out,
            "<path d=\"{path}\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>"
        );
        if let Some(action) = label(edge) {
            let action = action.as_str();
            let w = text_width(action) + 8.0;
            let _ = writeln!(
                labels,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"18\" rx=\"3\" fill=\"#ffffff\" opacity=\"0.9\"/><text x=\"{lx:.1}\" y=\"{ly:.1}\" {FAMILY} font-size=\"12\" text-anchor=\"middle\" fill=\"#1a5fb4\">{}</text>",
                lx - w / 2.0,
                ly - 13.0,
                escape(action)
            );
        }
    }
    out.push_str(&labels);
    for n in &nodes {
        draw_node(&mut out, n);
    }
    out.push_str("</svg>\n");
    out
}
