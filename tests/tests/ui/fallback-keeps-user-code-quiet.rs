use conflict_runtime::{Action, StateMachine};

// Only the declaration error is reported: code using the machine still
// type-checks against the fallback impls.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Payd, cancel -> Cancelled))]
    Pending,
    #[state(terminal)]
    Paid,
    #[state(terminal)]
    Cancelled,
}

fn main() {
    let _ = Order::Pending.pay();
    let _ = Order::Pending.apply(OrderAction::Cancel);
    let _ = OrderAction::ALL;
    let _ = Order::Pending.can_transition_to(Order::Paid);
}
