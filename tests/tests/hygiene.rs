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
    #[state(initial, on(go -> Done if ready, fail -> Failed if async may_fail))]
    Start,
    #[state(terminal)]
    Done,
    #[state(terminal)]
    Failed,
}

#[derive(::core::clone::Clone, ::core::cmp::PartialEq)]
struct Job {
    inputs: u32,
    state: Shadowed,
}

impl ::conflict_runtime::store::Resource for Job {
    type State = Shadowed;

    fn state(&self) -> Shadowed {
        self.state
    }

    fn set_state(&mut self, state: Shadowed) {
        self.state = state;
    }
}

async fn may_fail(
    _: Job,
    asked: ::conflict_runtime::moves::Asked,
) -> ::core::result::Result<(), ::conflict_runtime::guard::Blocker> {
    if asked.actor.is_none() {
        return ::core::result::Result::Err(::conflict_runtime::guard::Blocker::new(
            "anonymous",
            "say who you are",
        ));
    }
    ::core::result::Result::Ok(())
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

#[::tokio::test]
async fn shadowed_names_do_not_leak_into_generated_code() {
    use ::conflict_runtime::StateMachine as _;
    ::core::assert!(Shadowed::Start.go().is_ok());
    ::core::assert_eq!(Shadowed::Start.name(), "Start");
    ::core::assert_eq!(NoActions::Begin.next_states(), &[NoActions::End]);
    let anonymous = ::conflict_runtime::moves::Asking::new(
        &::conflict_runtime::moves::Anonymous,
        ::core::option::Option::None,
    );
    let [ready, may_fail] = <Shadowed as ::conflict_runtime::StateMachine>::GUARDS else {
        ::core::panic!("two guards are declared");
    };
    let idle = Job {
        inputs: 0,
        state: Shadowed::Start,
    };
    let busy = Job {
        inputs: 1,
        state: Shadowed::Start,
    };
    ::core::assert!(!ready.check(&idle, &anonymous).await.is_allowed());
    ::core::assert!(ready.check(&busy, &anonymous).await.is_allowed());
    ::core::assert_eq!((ready.asks(), may_fail.asks()), (false, true));
    ::core::assert!(!may_fail.check(&busy, &anonymous).await.is_allowed());
}
