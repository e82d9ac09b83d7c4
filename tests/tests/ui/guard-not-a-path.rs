use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid if 5))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
