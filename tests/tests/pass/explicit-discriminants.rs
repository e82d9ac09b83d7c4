use conflict_runtime::StateMachine;

// Discriminants do not have to be 0..n: the tables index by declaration order.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Job {
    #[state(initial, on(run -> Running))]
    Queued = 10,
    #[state(on(finish -> Done))]
    Running = 3,
    #[state(terminal)]
    Done = 200,
}

const _: () = assert!(Job::Queued.can_transition_to(Job::Running));

fn main() {
    assert_eq!(Job::Running.index(), 1);
    assert_eq!(Job::Queued.run().and_then(Job::finish), Ok(Job::Done));
}
