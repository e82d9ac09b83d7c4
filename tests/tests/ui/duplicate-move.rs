use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid, pay -> Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
