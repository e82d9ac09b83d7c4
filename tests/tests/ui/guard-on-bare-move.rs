use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, to(Paid if credit_limit))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
