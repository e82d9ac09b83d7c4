use conflict_runtime::StateMachine;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Order<T> {
    #[state(initial, to(Done))]
    Open,
    #[state(terminal)]
    Done,
    #[state(allow_unreachable, terminal)]
    Never(std::marker::PhantomData<T>),
}

fn main() {}
