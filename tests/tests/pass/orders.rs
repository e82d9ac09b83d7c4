use conflict_runtime::StateMachine;
use serde::{Deserialize, Serialize};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order")]
pub enum OrderStatus {
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

fn main() {
    assert_eq!(OrderStatus::Pending.pay(), Ok(OrderStatus::Paid));
}
