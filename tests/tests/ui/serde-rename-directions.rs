use conflict_runtime::StateMachine;
use serde::{Deserialize, Serialize};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[serde(rename(serialize = "paid", deserialize = "settled"))]
    #[state(terminal)]
    Paid,
}

fn main() {}
