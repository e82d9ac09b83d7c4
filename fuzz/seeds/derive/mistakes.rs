#[derive(StateMachine)]
enum Door {
    #[state(on(open -> Opn, open -> Locked), to(Door))]
    Closed,
    #[state(terminal, on(close -> Closed))]
    Open,
    Locked,
}
