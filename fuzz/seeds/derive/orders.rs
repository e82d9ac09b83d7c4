#[derive(StateMachine)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order", action = OrderAction)]
enum OrderStatus {
    #[state(initial, on(pay -> Paid if credit_limit, cancel -> Cancelled))]
    Pending,
    #[state(on(ship -> Shipped, cancel -> Cancelled, refund -> Refunded), to(Pending))]
    Paid,
    #[state(on(deliver -> Delivered))]
    Shipped,
    #[state(terminal)]
    Delivered,
    #[state(terminal)]
    Cancelled,
    #[state(terminal, allow_unreachable)]
    #[serde(rename = "refunded")]
    Refunded,
}
