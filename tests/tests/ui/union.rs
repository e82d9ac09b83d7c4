use conflict_runtime::StateMachine;

#[derive(StateMachine)]
union Order {
    status: u8,
}

fn main() {}
