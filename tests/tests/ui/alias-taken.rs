use conflict_runtime::StateMachine;

// An old name read as one state only, and never a name the machine declares.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(removed(Paid -> Cancelled))]
enum Order {
    #[state(initial, alias = "", on(pay -> Paid, cancel -> Cancelled))]
    Pending,
    #[state(alias = "settled", on(ship -> Shipped))]
    Paid,
    #[state(terminal, alias = "settled")]
    Shipped,
    #[state(terminal, alias = "Cancelled")]
    Cancelled,
}

fn main() {}
