//! Generated code is clean under the strictest lints a user may turn on.
#![deny(
    warnings,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    rust_2018_idioms
)]
#![deny(clippy::all, clippy::pedantic, clippy::nursery)]

use conflict_runtime::StateMachine;

/// A public machine: its generated items need docs under `missing_docs`.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Public {
    /// Initial.
    #[state(initial, on(approve -> Approved, reject -> Rejected))]
    Draft,
    /// Approved.
    #[state(on(archive -> Archived))]
    Approved,
    /// Rejected.
    #[state(terminal)]
    Rejected,
    /// Archived.
    #[state(terminal)]
    Archived,
}

/// A crate-private machine with a deprecated state: no dead-code or
/// deprecation warning from code the user did not write.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Internal {
    #[state(initial, on(finish -> Finished), to(Old))]
    Running,
    #[deprecated = "kept for old rows"]
    #[state(to(Finished))]
    Old,
    #[state(terminal)]
    Finished,
}

#[test]
fn derives_under_strict_lints() {
    assert!(Public::Draft.approve().is_ok());
    assert_eq!(Internal::Running.finish(), Ok(Internal::Finished));
}
