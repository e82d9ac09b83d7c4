//! Property tests over generated machines: random states and moves, written
//! as a declaration, run through the derive's own parse, validate and table
//! steps (`conflict-macros-internals`) and checked against a reference model
//! of what was declared.

use std::fmt::Write as _;

use conflict_macros_internals::{Derived, derive, table};
use proptest::prelude::*;

const ACTIONS: [&str; 6] = ["go", "halt", "pay", "ship", "retry", "archive"];

/// A declared machine: states `S0..Sn`, `S0` initial, moves as
/// `(from, action, to)` with `None` for a bare move.
#[derive(Clone, Debug)]
struct Spec {
    states: usize,
    initial: Vec<bool>,
    moves: Vec<(usize, Option<usize>, usize)>,
}

/// Valid by construction: a chain `S0 -> S1 -> ...` makes every state
/// reachable, one move per (from, to), one use of an action per state, and
/// states without moves are terminal.
fn spec() -> impl Strategy<Value = Spec> {
    (1_usize..9).prop_flat_map(|states| {
        let chain = proptest::collection::vec(proptest::option::of(0..ACTIONS.len()), states - 1);
        let extra = proptest::collection::vec(
            (0..states, proptest::option::of(0..ACTIONS.len()), 0..states),
            0..16,
        );
        let initial = proptest::collection::vec(any::<bool>(), states);
        (Just(states), chain, extra, initial).prop_map(|(states, chain, extra, mut initial)| {
            initial[0] = true;
            let mut moves: Vec<(usize, Option<usize>, usize)> = Vec::new();
            let candidates = chain
                .into_iter()
                .enumerate()
                .map(|(i, action)| (i, action, i + 1))
                .chain(extra);
            for (from, action, to) in candidates {
                let taken_target = moves.iter().any(|&(f, _, t)| f == from && t == to);
                let taken_action =
                    action.is_some() && moves.iter().any(|&(f, a, _)| f == from && a == action);
                if taken_target {
                    continue;
                }
                // An action used twice from one state becomes a bare move.
                let action = if taken_action { None } else { action };
                moves.push((from, action, to));
            }
            Spec {
                states,
                initial,
                moves,
            }
        })
    })
}

impl Spec {
    fn source(&self) -> String {
        let mut variants = String::new();
        for state in 0..self.states {
            let mut parts = Vec::new();
            if self.initial[state] {
                parts.push("initial".to_owned());
            }
            let named: Vec<String> = self
                .moves
                .iter()
                .filter(|&&(f, a, _)| f == state && a.is_some())
                .map(|&(_, a, t)| format!("{} -> S{t}", ACTIONS[a.unwrap_or_default()]))
                .collect();
            let bare: Vec<String> = self
                .moves
                .iter()
                .filter(|&&(f, a, _)| f == state && a.is_none())
                .map(|&(_, _, t)| format!("S{t}"))
                .collect();
            if !named.is_empty() {
                parts.push(format!("on({})", named.join(", ")));
            }
            if !bare.is_empty() {
                parts.push(format!("to({})", bare.join(", ")));
            }
            if named.is_empty() && bare.is_empty() {
                parts.push("terminal".to_owned());
            }
            let _ = writeln!(
                variants,
                "    #[state({})]\n    S{state},",
                parts.join(", ")
            );
        }
        format!("#[derive(StateMachine)]\nenum Machine {{\n{variants}}}\n")
    }

    /// Actions in order of first declaration: by state, named moves in order.
    fn actions(&self) -> Vec<usize> {
        let mut seen = Vec::new();
        for state in 0..self.states {
            for &(f, a, _) in &self.moves {
                if let (true, Some(a)) = (f == state, a)
                    && !seen.contains(&a)
                {
                    seen.push(a);
                }
            }
        }
        seen
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every (state, state) and (state, action) pair is decided as declared.
    #[test]
    fn the_table_is_the_declaration(spec in spec()) {
        let source = spec.source();
        let table = table(&source).map_err(|errors| {
            TestCaseError::fail(format!("{source}\nrefused: {errors:?}"))
        })?;
        let actions = spec.actions();
        let names: Vec<String> = actions.iter().map(|&a| ACTIONS[a].to_owned()).collect();
        prop_assert_eq!(&table.actions, &names);
        prop_assert_eq!(&table.initial, &spec.initial);
        for from in 0..spec.states {
            for to in 0..spec.states {
                let declared = spec.moves.iter().any(|&(f, _, t)| f == from && t == to);
                prop_assert_eq!(table.next[from].contains(&to), declared, "S{} -> S{}\n{}", from, to, source);
            }
            for (index, &action) in actions.iter().enumerate() {
                let declared = spec
                    .moves
                    .iter()
                    .find(|&&(f, a, _)| f == from && a == Some(action))
                    .map(|&(_, _, t)| t);
                prop_assert_eq!(table.targets[from][index], declared, "S{} {}\n{}", from, ACTIONS[action], source);
            }
            // Next states in declaration order: named moves, then bare ones.
            let named = spec.moves.iter().filter(|&&(f, a, _)| f == from && a.is_some());
            let bare = spec.moves.iter().filter(|&&(f, a, _)| f == from && a.is_none());
            let order: Vec<usize> = named.chain(bare).map(|&(_, _, t)| t).collect();
            prop_assert_eq!(&table.next[from], &order);
        }
        prop_assert!(matches!(derive(&source), Derived::Expanded(_)));
    }

    /// A broken declaration is refused with messages, never a panic.
    #[test]
    fn mistakes_are_errors_not_panics(spec in spec(), mistake in 0_usize..4, at in any::<prop::sample::Index>()) {
        let source = spec.source();
        let broken = match mistake {
            // a target that is not declared
            0 => source.replacen("-> S", "-> Nowhere", 1).replacen("to(S", "to(Nowhere", 1),
            // no initial state
            1 => source.replace("initial, ", "").replace("initial", "terminal, allow_unreachable"),
            // a dead end: a terminal state loses its marker
            2 => source.replacen("#[state(terminal)]", "#[state()]", 1),
            // a truncated declaration
            _ => source[..at.index(source.len())].to_owned(),
        };
        if broken == source {
            return Ok(());
        }
        match derive(&broken) {
            Derived::Refused { messages, .. } => prop_assert!(!messages.is_empty()),
            Derived::NotAnItem => {}
            // A truncation can leave a valid, smaller declaration.
            Derived::Expanded(_) => prop_assert!(mistake == 3, "{broken}"),
        }
    }
}
