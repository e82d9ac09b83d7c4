use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(removed(archived -> Archived))]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(removed(archived Paid))]
enum Invoice {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
