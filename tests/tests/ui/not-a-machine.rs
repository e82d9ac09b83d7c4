use conflict_runtime::StateMachine;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Pending,
    Paid,
}

fn allowed<S: StateMachine>(state: S) -> &'static [S] {
    state.next_states()
}

fn main() {
    allowed(Order::Pending);
}
