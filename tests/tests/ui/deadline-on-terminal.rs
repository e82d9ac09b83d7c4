use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[state(terminal, after(14d, archive -> Pending))]
    Paid,
}

fn main() {}
