//! Random concurrent histories against `MemoryStore`: whatever the
//! interleaving, the committed moves form one sequential history of legal
//! moves, and none is lost.

use conflict_runtime::StateMachine;
use conflict_runtime::store::{MemoryStore, Move, Resource, Store, StoreError};
use proptest::prelude::*;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    #[state(initial, on(open -> Open, lock -> Locked))]
    Closed,
    #[state(on(close -> Closed))]
    Open,
    #[state(on(unlock -> Closed))]
    Locked,
}

#[derive(Clone, Debug, PartialEq)]
struct Room(Door);

impl Resource for Room {
    type State = Door;

    fn state(&self) -> Door {
        self.0
    }

    fn set_state(&mut self, door: Door) {
        self.0 = door;
    }
}

fn action() -> impl Strategy<Value = DoorAction> {
    prop::sample::select(vec![
        DoorAction::Open,
        DoorAction::Close,
        DoorAction::Lock,
        DoorAction::Unlock,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn concurrent_moves_form_one_legal_sequential_history(
        tasks in prop::collection::vec(prop::collection::vec(action(), 1..40), 2..8)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
        let store = MemoryStore::<Room>::new();
        store.create(|_| Room(Door::Closed));
        let committed: Vec<(u64, DoorAction, Door)> = runtime.block_on(async {
            let handles: Vec<_> = tasks
                .into_iter()
                .map(|actions| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut committed = Vec::new();
                        for action in actions {
                            match store.apply(&1, Move::Action(action), None).await {
                                Ok(now) => committed.push((now.version(), action, now.value().0)),
                                Err(StoreError::Transition(refused)) => {
                                    // A refusal names a state in which the action is indeed illegal.
                                    assert_eq!(refused.current().target(action), None);
                                }
                                Err(other) => panic!("unexpected {other}"),
                            }
                            tokio::task::yield_now().await;
                        }
                        committed
                    })
                })
                .collect();
            let mut all = Vec::new();
            for handle in handles {
                all.extend(handle.await.unwrap());
            }
            all
        });
        let mut history = committed;
        history.sort_by_key(|(version, _, _)| *version);
        // Versions 2, 3, ... with no gap and no repeat: every commit counted once.
        for (i, (version, _, _)) in history.iter().enumerate() {
            prop_assert_eq!(*version, i as u64 + 2);
        }
        // Replayed in version order, each commit is a legal move from the one before.
        let mut state = Door::Closed;
        for (_, action, after) in &history {
            prop_assert_eq!(state.target(*action), Some(*after));
            state = *after;
        }
        let last = runtime.block_on(store.get(&1)).unwrap();
        prop_assert_eq!(last.version(), history.len() as u64 + 1);
        prop_assert_eq!(last.value().0, state);
    }
}
