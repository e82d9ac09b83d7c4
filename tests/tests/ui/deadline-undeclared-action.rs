use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid, cancel -> Cancelled), after(30min, expire))]
    Pending,
    #[state(terminal)]
    Paid,
    #[state(terminal)]
    Cancelled,
}

fn main() {}
