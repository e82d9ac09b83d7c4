use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(action_alias(dispatch = "ship", pay = "ship"))]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
