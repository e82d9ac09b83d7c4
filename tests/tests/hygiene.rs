//! Generated code must not depend on the caller's names: everything it uses
//! is named through an absolute path.
#![deny(warnings, unused_qualifications)]
#![allow(dead_code, non_camel_case_types, clippy::all, clippy::pedantic)]

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct String;
struct Vec;
struct Box;
struct usize;
struct bool;
struct str;
trait Copy {}
trait Clone {}
trait Debug {}
trait Display {}
trait Serialize {}
trait Deserialize {}
trait StateMachine {}
trait Action {}
mod core {}
mod std {}
mod serde {}
mod conflict_runtime {}

#[derive(
    ::conflict_runtime::StateMachine,
    ::core::clone::Clone,
    ::core::marker::Copy,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
    ::core::cmp::Eq,
)]
enum Shadowed {
    #[state(initial, on(go -> Done if ready, fail -> Failed))]
    Start,
    #[state(terminal)]
    Done,
    #[state(terminal)]
    Failed,
}

struct Job {
    inputs: u32,
}

fn ready(job: &Job) -> ::core::result::Result<(), ::conflict_runtime::guard::Blocker> {
    if job.inputs == 0 {
        return ::core::result::Result::Err(::conflict_runtime::guard::Blocker::new(
            "no_inputs",
            "nothing to do",
        ));
    }
    ::core::result::Result::Ok(())
}

#[derive(
    ::conflict_runtime::StateMachine,
    ::core::clone::Clone,
    ::core::marker::Copy,
    ::core::fmt::Debug,
    ::core::cmp::PartialEq,
    ::core::cmp::Eq,
)]
enum NoActions {
    #[state(initial, to(End))]
    Begin,
    #[state(terminal)]
    End,
}

#[test]
fn shadowed_names_do_not_leak_into_generated_code() {
    use ::conflict_runtime::StateMachine as _;
    ::core::assert!(Shadowed::Start.go().is_ok());
    ::core::assert_eq!(Shadowed::Start.name(), "Start");
    ::core::assert_eq!(NoActions::Begin.next_states(), &[NoActions::End]);
    let guard = &<Shadowed as ::conflict_runtime::StateMachine>::GUARDS[0];
    ::core::assert!(!guard.check(&Job { inputs: 0 }).is_allowed());
    ::core::assert!(guard.check(&Job { inputs: 1 }).is_allowed());
}
