use conflict_runtime::StateMachine;

#[derive(StateMachine)]
struct Order {
    status: u8,
}

fn main() {}
