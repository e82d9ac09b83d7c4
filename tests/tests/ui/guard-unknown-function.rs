use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid if credit_limt))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn credit_limit(_: &u32) -> Result<(), conflict_runtime::guard::Blocker> {
    Ok(())
}

fn main() {}
