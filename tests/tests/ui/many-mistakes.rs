use conflict_runtime::StateMachine;

// Five independent mistakes, all reported by one build.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(resurce = "order")]
enum Order {
    #[state(on(pay -> Payed))]
    Pending,
    #[state(terminal, on(refund -> Pending))]
    Paid,
    Shipped,
}

fn main() {}
