use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, to(Teleported))]
    Pending,
    #[state(terminal)]
    Delivered,
}

fn main() {}
