use conflict_runtime::{Action, StateMachine};
use serde::{Deserialize, Serialize};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order")]
enum OrderStatus {
    #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
    Pending,
    #[state(on(ship -> Shipped, cancel -> Cancelled, refund -> Refunded))]
    Paid,
    #[state(on(deliver -> Delivered))]
    Shipped,
    #[state(terminal)]
    Delivered,
    #[state(terminal)]
    Cancelled,
    #[state(terminal)]
    Refunded,
}

#[test]
fn smoke() {
    assert_eq!(OrderStatus::Pending.pay().unwrap(), OrderStatus::Paid);
    let e = OrderStatus::Shipped.cancel().unwrap_err();
    assert_eq!(e.to_string(), "cannot cancel order: it is shipped; allowed: deliver");
    assert_eq!(OrderStatusAction::ALL.len(), 5);
}
