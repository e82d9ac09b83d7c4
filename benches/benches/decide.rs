//! Part 1: deciding moves of the `orders` machine on an unpredictable stream,
//! in `conflict`, a hand-written `match`, a hand-written `const` table, and
//! the peer crates.
#![allow(
    missing_docs,
    unreachable_pub,
    reason = "bench harness and peer-generated code"
)]

use std::hint::black_box;

use conflict_benches::{OrderStatus, OrderStatusAction, move_stream};
use conflict_runtime::{Action, StateMachine};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const STREAM: usize = 4096;

mod by_hand {
    use OrderStatus::{Cancelled, Delivered, Paid, Pending, Refunded, Shipped};
    use OrderStatusAction::{Cancel, Deliver, Expire, Pay, Refund, Ship};
    use conflict_benches::{OrderStatus, OrderStatusAction};

    #[inline(never)]
    pub fn by_match(state: OrderStatus, action: OrderStatusAction) -> Option<OrderStatus> {
        match (state, action) {
            (Pending, Pay) => Some(Paid),
            (Pending | Paid, Cancel) | (Pending, Expire) => Some(Cancelled),
            (Paid, Ship) => Some(Shipped),
            (Paid, Refund) => Some(Refunded),
            (Shipped, Deliver) => Some(Delivered),
            _ => None,
        }
    }

    // Rows are states, columns actions (Pay, Cancel, Expire, Ship, Refund,
    // Deliver).
    const TABLE: [[Option<OrderStatus>; 6]; 6] = [
        [
            Some(Paid),
            Some(Cancelled),
            Some(Cancelled),
            None,
            None,
            None,
        ],
        [
            None,
            Some(Cancelled),
            None,
            Some(Shipped),
            Some(Refunded),
            None,
        ],
        [None, None, None, None, None, Some(Delivered)],
        [None; 6],
        [None; 6],
        [None; 6],
    ];

    #[inline(never)]
    pub fn by_table(state: OrderStatus, action: OrderStatusAction) -> Option<OrderStatus> {
        TABLE[state as usize][action as usize]
    }

    #[inline(never)]
    pub fn allowed_by_match(from: OrderStatus, to: OrderStatus) -> bool {
        matches!(
            (from, to),
            (Pending, Paid | Cancelled)
                | (Paid, Shipped | Cancelled | Refunded)
                | (Shipped, Delivered)
        )
    }

    const ALLOWED: [[bool; 6]; 6] = [
        [false, true, false, false, true, false],
        [false, false, true, false, true, true],
        [false, false, false, true, false, false],
        [false; 6],
        [false; 6],
        [false; 6],
    ];

    #[inline(never)]
    pub fn allowed_by_table(from: OrderStatus, to: OrderStatus) -> bool {
        ALLOWED[from as usize][to as usize]
    }
}

#[inline(never)]
fn allowed_by_conflict(from: OrderStatus, to: OrderStatus) -> bool {
    from.can_transition_to(to)
}

#[inline(never)]
fn by_conflict(state: OrderStatus, action: OrderStatusAction) -> Option<OrderStatus> {
    state.target(action)
}

mod peer_rust_fsm {
    rust_fsm::state_machine! {
        pub orders(Pending)

        Pending => {
            Pay => Paid,
            Cancel => Cancelled,
            Expire => Cancelled,
        },
        Paid => {
            Ship => Shipped,
            Cancel => Cancelled,
            Refund => Refunded,
        },
        Shipped(Deliver) => Delivered,
    }

    pub use orders::{Input, State};

    #[inline(never)]
    pub fn decide(state: &State, input: &Input) -> Option<State> {
        <orders::Impl as rust_fsm::StateMachineImpl>::transition(state, input)
    }
}

mod peer_smlang {
    smlang::statemachine! {
        derive_states: [Clone, Copy],
        derive_events: [Clone, Copy],
        transitions: {
            *Pending + Pay = Paid,
            Pending + Cancel = Cancelled,
            Pending + Expire = Cancelled,
            Paid + Ship = Shipped,
            Paid + Cancel = Cancelled,
            Paid + Refund = Refunded,
            Shipped + Deliver = Delivered,
        }
    }

    pub struct Context;

    impl StateMachineContext for Context {}

    #[inline(never)]
    pub fn decide(state: States, event: Events) -> Option<States> {
        let mut machine = StateMachine::new_with_state(Context, state);
        machine.process_event(event).ok().copied()
    }
}

mod peer_statig {
    #[allow(
        clippy::wildcard_imports,
        reason = "statig's macros expect its prelude in scope"
    )]
    use statig::blocking::*;

    #[derive(Default)]
    pub struct Orders;

    pub enum Event {
        Pay,
        Cancel,
        Expire,
        Ship,
        Refund,
        Deliver,
    }

    #[state_machine(initial = "State::pending()")]
    impl Orders {
        #[state]
        fn pending(event: &Event) -> Outcome<State> {
            match event {
                Event::Pay => Transition(State::paid()),
                Event::Cancel | Event::Expire => Transition(State::cancelled()),
                _ => Handled,
            }
        }

        #[state]
        fn paid(event: &Event) -> Outcome<State> {
            match event {
                Event::Ship => Transition(State::shipped()),
                Event::Cancel => Transition(State::cancelled()),
                Event::Refund => Transition(State::refunded()),
                _ => Handled,
            }
        }

        #[state]
        fn shipped(event: &Event) -> Outcome<State> {
            match event {
                Event::Deliver => Transition(State::delivered()),
                _ => Handled,
            }
        }

        #[state]
        fn delivered(event: &Event) -> Outcome<State> {
            let _ = event;
            Handled
        }

        #[state]
        fn cancelled(event: &Event) -> Outcome<State> {
            let _ = event;
            Handled
        }

        #[state]
        fn refunded(event: &Event) -> Outcome<State> {
            let _ = event;
            Handled
        }
    }

    #[inline(never)]
    pub fn decide(state: usize, event: &Event) -> Option<State> {
        // statig's states are not `Clone`; a unit state is built for free.
        let mut state = match state {
            0 => State::Pending {},
            1 => State::Paid {},
            2 => State::Shipped {},
            3 => State::Delivered {},
            4 => State::Cancelled {},
            _ => State::Refunded {},
        };
        match statig::blocking::State::call_handler(&mut state, &mut Orders, event, &mut ()) {
            Outcome::Transition(next) => Some(next),
            _ => None,
        }
    }
}

fn decisions(c: &mut Criterion) {
    let stream = move_stream(STREAM);
    let ours: Vec<(OrderStatus, OrderStatusAction)> = stream
        .iter()
        .map(|&(s, a)| (OrderStatus::STATES[s], OrderStatusAction::ALL[a]))
        .collect();

    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(STREAM as u64));

    let mut run = |name: &str, decide: &dyn Fn(OrderStatus, OrderStatusAction) -> Option<usize>| {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut legal = 0usize;
                for &(state, action) in &ours {
                    if let Some(next) = decide(black_box(state), black_box(action)) {
                        legal = legal.wrapping_add(next + 1);
                    }
                }
                legal
            });
        });
    };
    run("conflict", &|s, a| {
        by_conflict(s, a).map(StateMachine::index)
    });
    run("hand-written match", &|s, a| {
        by_hand::by_match(s, a).map(StateMachine::index)
    });
    run("hand-written table", &|s, a| {
        by_hand::by_table(s, a).map(StateMachine::index)
    });

    let fsmlang_states = [
        peer_rust_fsm::State::Pending,
        peer_rust_fsm::State::Paid,
        peer_rust_fsm::State::Shipped,
        peer_rust_fsm::State::Delivered,
        peer_rust_fsm::State::Cancelled,
        peer_rust_fsm::State::Refunded,
    ];
    let rust_fsm_inputs = [
        peer_rust_fsm::Input::Pay,
        peer_rust_fsm::Input::Cancel,
        peer_rust_fsm::Input::Expire,
        peer_rust_fsm::Input::Ship,
        peer_rust_fsm::Input::Refund,
        peer_rust_fsm::Input::Deliver,
    ];
    run("rust-fsm", &|s, a| {
        peer_rust_fsm::decide(&fsmlang_states[s.index()], &rust_fsm_inputs[a.index()])
            .map(|n| n as usize)
    });

    let smlang_states = [
        peer_smlang::States::Pending,
        peer_smlang::States::Paid,
        peer_smlang::States::Shipped,
        peer_smlang::States::Delivered,
        peer_smlang::States::Cancelled,
        peer_smlang::States::Refunded,
    ];
    let smlang_events = [
        peer_smlang::Events::Pay,
        peer_smlang::Events::Cancel,
        peer_smlang::Events::Expire,
        peer_smlang::Events::Ship,
        peer_smlang::Events::Refund,
        peer_smlang::Events::Deliver,
    ];
    run("smlang", &|s, a| {
        peer_smlang::decide(smlang_states[s.index()], smlang_events[a.index()]).map(|n| n as usize)
    });

    let statig_events = [
        peer_statig::Event::Pay,
        peer_statig::Event::Cancel,
        peer_statig::Event::Expire,
        peer_statig::Event::Ship,
        peer_statig::Event::Refund,
        peer_statig::Event::Deliver,
    ];
    run("statig", &|s, a| {
        peer_statig::decide(s.index(), &statig_events[a.index()]).map(|n| match n {
            peer_statig::State::Pending {} => 0,
            peer_statig::State::Paid {} => 1,
            peer_statig::State::Shipped {} => 2,
            peer_statig::State::Delivered {} => 3,
            peer_statig::State::Cancelled {} => 4,
            peer_statig::State::Refunded {} => 5,
        })
    });
    group.finish();
}

/// `can_transition_to` on (state, target) pairs: the check behind `PATCH`.
fn checks(c: &mut Criterion) {
    let pairs: Vec<(OrderStatus, OrderStatus)> = move_stream(STREAM)
        .iter()
        .map(|&(s, a)| {
            let from = OrderStatus::STATES[s];
            // a legal pair's target, or a state picked from the action index
            let to = from
                .target(OrderStatusAction::ALL[a])
                .unwrap_or(OrderStatus::STATES[(s + a) % 6]);
            (from, to)
        })
        .collect();
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(STREAM as u64));
    let mut run = |name: &str, allowed: &dyn Fn(OrderStatus, OrderStatus) -> bool| {
        group.bench_function(name, |b| {
            b.iter(|| {
                pairs
                    .iter()
                    .filter(|&&(from, to)| allowed(black_box(from), black_box(to)))
                    .count()
            });
        });
    };
    run("conflict", &allowed_by_conflict);
    run("hand-written match", &by_hand::allowed_by_match);
    run("hand-written table", &by_hand::allowed_by_table);
    group.finish();
}

criterion_group!(benches, decisions, checks);
criterion_main!(benches);
