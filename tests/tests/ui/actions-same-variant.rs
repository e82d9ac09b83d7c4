use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(mark_paid -> Paid))]
    Pending,
    #[state(initial, on(MarkPaid -> Paid))]
    Retrying,
    #[state(terminal)]
    Paid,
}

fn main() {}
