// A facade crate that re-exports the runtime points the derive at it.
mod facade {
    pub use conflict_runtime as machines;
}

use facade::machines::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
#[state_machine(crate = facade::machines, action = Command)]
enum Door {
    #[state(initial, on(open -> Open))]
    Closed,
    #[state(on(close -> Closed))]
    Open,
}

fn main() {
    assert_eq!(Door::Closed.open(), Ok(Door::Open));
    assert_eq!(Door::Open.apply(Command::Close), Ok(Door::Closed));
}
