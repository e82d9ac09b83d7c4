use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    #[state(initial, on(pay -> Paid))]
    Pending,
    #[state(on(ship -> Shipped))]
    Paid,
    #[state(terminal)]
    Shipped,
}

// A move the declaration forbids fails the build.
const _: () = assert!(Order::Pending.can_transition_to(Order::Shipped));

fn main() {}
