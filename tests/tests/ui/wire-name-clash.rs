use conflict_runtime::StateMachine;
use serde::Serialize;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[serde(rename = "pending")]
    #[state(terminal)]
    Paid,
}

fn main() {}
