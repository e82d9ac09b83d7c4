use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, to(Paid))]
    #[state(to(Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
