use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::store::Resource;

#[derive(Clone, PartialEq)]
struct Invoice {
    total: u64,
    state: InvoiceState,
}

impl Resource for Invoice {
    type State = InvoiceState;

    fn state(&self) -> InvoiceState {
        self.state
    }

    fn set_state(&mut self, state: InvoiceState) {
        self.state = state;
    }
}

// Its future would borrow the invoice past the request: it takes it by value.
async fn credit_check(invoice: &Invoice) -> Result<(), Blocker> {
    if invoice.total > 1_000 {
        return Err(Blocker::new("credit_review", "needs a credit review"));
    }
    Ok(())
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum InvoiceState {
    #[state(initial, on(approve -> Approved if async credit_check))]
    Draft,
    #[state(terminal)]
    Approved,
}

fn main() {}
