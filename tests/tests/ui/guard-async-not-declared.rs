use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;

#[derive(Clone)]
struct Invoice {
    total: u64,
}

// An async guard is declared `if async credit_check`.
async fn credit_check(invoice: Invoice) -> Result<(), Blocker> {
    if invoice.total > 1_000 {
        return Err(Blocker::new("credit_review", "needs a credit review"));
    }
    Ok(())
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum InvoiceState {
    #[state(initial, on(approve -> Approved if credit_check))]
    Draft,
    #[state(terminal)]
    Approved,
}

fn main() {}
