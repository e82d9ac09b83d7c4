use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum InvoiceState {
    #[state(initial, on(approve -> Approved if async))]
    Draft,
    #[state(terminal)]
    Approved,
}

fn main() {}
