use conflict_runtime::StateMachine;

struct Invoice {
    total: u64,
}

fn within_budget(invoice: &Invoice) -> bool {
    invoice.total < 1_000
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum InvoiceState {
    #[state(initial, on(approve -> Approved if within_budget))]
    Draft,
    #[state(terminal)]
    Approved,
}

fn main() {}
