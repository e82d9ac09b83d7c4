#!/usr/bin/env python3
"""Generates the crates of the compile-time benchmark (benches/run.sh part 4).

derived/  20 machines with #[derive(StateMachine)]
hand/     the same 20 machines, with the same trait impls written by hand
moves-N/  one machine of 200 states and N moves (derived), for growth
"""
import os
import sys

root, runtime = sys.argv[1], os.path.abspath(sys.argv[2])

STATES = 8


def manifest(name, derive):
    features = '["derive"]' if derive else "[]"
    return f"""[package]
name = "{name}"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
conflict-runtime = {{ path = "{runtime}", default-features = false, features = {features} }}
"""


def moves(n_states, n_moves, actions):
    """(from, action, to): a chain with branches back, every state reachable."""
    out, seen = [], set()
    k = 0
    while len(out) < n_moves:
        frm = k % (n_states - 1)
        to = (frm + 1 + (k // (n_states - 1))) % n_states
        act = f"act{k % actions}"
        if (frm, act) not in seen and to != frm:
            seen.add((frm, act))
            out.append((frm, act, to))
        k += 1
        if k > n_moves * 50:
            break
    return out


def derived_machine(name, n_states, edges):
    lines = ["#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]", f"pub enum {name} {{"]
    for s in range(n_states):
        out = [f"{a} -> S{t}" for f, a, t in edges if f == s]
        flags = ["initial"] if s == 0 else []
        if out:
            flags.append(f"on({', '.join(out)})")
        else:
            flags.append("terminal")
        lines.append(f"    #[state({', '.join(flags)})]")
        lines.append(f"    S{s},")
    lines.append("}")
    return "\n".join(lines)


def hand_machine(name, n_states, edges):
    actions = sorted({a for _, a, _ in edges}, key=lambda a: int(a[3:]))
    act = f"{name}Action"
    pascal = lambda a: "Act" + a[3:]
    st = lambda s: f"{name}::S{s}"
    ac = lambda a: f"{act}::{pascal(a)}"
    o = []
    o.append("#[derive(Clone, Copy, Debug, PartialEq, Eq)]")
    o.append(f"pub enum {name} {{ " + ", ".join(f"S{s}" for s in range(n_states)) + " }")
    o.append("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]")
    o.append(f"pub enum {act} {{ " + ", ".join(pascal(a) for a in actions) + " }")
    o.append(f"impl StateMachine for {name} {{")
    o.append(f"    type Action = {act};")
    o.append(f'    const RESOURCE: &\'static str = "{name.lower()}";')
    o.append("    const STATES: &'static [Self] = &[" + ", ".join(st(s) for s in range(n_states)) + "];")
    o.append("    const NAMES: &'static [&'static str] = &[" + ", ".join(f'"S{s}"' for s in range(n_states)) + "];")
    o.append(f"    const INITIAL: &'static [Self] = &[{st(0)}];")
    o.append('    const MERMAID: &\'static str = "";')
    o.append('    const DOT: &\'static str = "";')
    o.append("    fn index(self) -> usize { self as usize }")
    o.append("    fn from_name(name: &str) -> Option<Self> { match name { "
             + " ".join(f'"S{s}" => Some({st(s)}),' for s in range(n_states)) + " _ => None } }")
    o.append("    fn next_states(self) -> &'static [Self] { match self { "
             + " ".join(f"{st(s)} => &[" + ", ".join(st(t) for f, _, t in edges if f == s) + "]," for s in range(n_states)) + " } }")
    o.append(f"    fn actions(self) -> &'static [{act}] {{ match self {{ "
             + " ".join(f"{st(s)} => &[" + ", ".join(ac(a) for f, a, _ in edges if f == s) + "]," for s in range(n_states)) + " } }")
    o.append("    fn can_transition_to(self, target: Self) -> bool { self.next_states().contains(&target) }")
    o.append(f"    fn target(self, action: {act}) -> Option<Self> {{ match (self, action) {{ "
             + " ".join(f"({st(f)}, {ac(a)}) => Some({st(t)})," for f, a, t in edges) + " _ => None } }")
    o.append("}")
    o.append(f"impl Action for {act} {{")
    o.append(f"    type Machine = {name};")
    o.append("    const ALL: &'static [Self] = &[" + ", ".join(ac(a) for a in actions) + "];")
    o.append("    const NAMES: &'static [&'static str] = &[" + ", ".join(f'"{a}"' for a in actions) + "];")
    o.append("    fn index(self) -> usize { self as usize }")
    o.append("    fn from_name(name: &str) -> Option<Self> { match name { "
             + " ".join(f'"{a}" => Some({ac(a)}),' for a in actions) + " _ => None } }")
    o.append(f"    fn target(self) -> Option<{name}> {{ None }}")
    o.append("}")
    o.append(f"impl core::fmt::Display for {act} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ f.write_str(Action::name(*self)) }} }}")
    o.append(f"impl core::str::FromStr for {act} {{ type Err = (); fn from_str(s: &str) -> Result<Self, ()> {{ <Self as Action>::from_name(s).ok_or(()) }} }}")
    return "\n".join(o)


def write(dirname, derive, machines):
    path = os.path.join(root, dirname)
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    with open(os.path.join(path, "Cargo.toml"), "w") as f:
        f.write(manifest(dirname.replace("-", "_"), derive))
    with open(os.path.join(path, "src", "lib.rs"), "w") as f:
        imports = "StateMachine" if derive else "{Action, StateMachine}"
        f.write(f"#![allow(dead_code)]\nuse conflict_runtime::{imports};\n\n")
        f.write("\n\n".join(machines) + "\n")


twenty = [(f"Machine{i}", moves(STATES, 12, 6)) for i in range(20)]
write("derived", True, [derived_machine(n, STATES, e) for n, e in twenty])
write("hand", False, [hand_machine(n, STATES, e) for n, e in twenty])
for n in (10, 100, 1000):
    edges = moves(200, n, 20)
    # with few moves, the states no move reaches are kept deliberately
    reached = {0} | {t for _, _, t in edges}
    text = derived_machine("Big", 200, edges)
    for s in range(200):
        if s not in reached:
            text = text.replace(f"    #[state(", "    #[state(", 1)
            text = text.replace(f"    S{s},", f"    #[state(allow_unreachable)]\n    S{s},", 1)
    write(f"moves-{n}", True, [text])
