use conflict_runtime::StateMachine;

// Every unknown name in a declaration suggests the one it most likely meant.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(inital, on(pay -> Paid))]
    Pending,
    #[state(terminal)]
    Paid,
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(resorce = "invoice")]
enum Invoice {
    #[state(initial, on(pay -> Paid), after(30 mins, pya))]
    Pending,
    #[state(terminal)]
    Paid,
}

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(action_alias(pya = "settle"))]
enum Bill {
    #[state(initial, on(pay -> Paid), after(30 minuts, pay))]
    Pending,
    #[state(terminal)]
    Paid,
}

fn main() {}
