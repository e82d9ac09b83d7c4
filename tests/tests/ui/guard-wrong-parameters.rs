use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;

struct Invoice {
    total: u64,
}

fn within_budget(invoice: &Invoice, budget: u64) -> Result<(), Blocker> {
    if invoice.total > budget {
        return Err(Blocker::new("over_budget", "over budget"));
    }
    Ok(())
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum InvoiceState {
    #[state(initial, on(approve -> Approved if within_budget))]
    Draft,
    #[state(terminal)]
    Approved,
}

fn main() {}
