use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid), after(30min))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
