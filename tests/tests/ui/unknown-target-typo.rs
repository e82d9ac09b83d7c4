use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(cancel -> Canceled))]
    Pending,
    #[state(terminal)]
    Cancelled,
}

fn main() {}
