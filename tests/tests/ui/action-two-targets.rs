use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(close -> Cancelled, close -> Refunded))]
    Pending,
    #[state(terminal)]
    Cancelled,
    #[state(terminal)]
    Refunded,
}

fn main() {}
