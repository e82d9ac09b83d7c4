//! `MemoryStore` semantics, without HTTP.

use conflict_runtime::StateMachine;
use conflict_runtime::store::{Expected, Inserted, MemoryStore, Move, Resource, Store, StoreError};

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
struct Room {
    name: &'static str,
    door: Door,
}

impl Resource for Room {
    type State = Door;

    fn state(&self) -> Door {
        self.door
    }

    fn set_state(&mut self, door: Door) {
        self.door = door;
    }
}

fn room(name: &'static str) -> Room {
    Room {
        name,
        door: Door::Closed,
    }
}

#[tokio::test]
async fn moves_bump_the_version_and_no_ops_do_not() {
    let store = MemoryStore::<Room>::new();
    let created = store.create(|_| room("hall"));
    assert_eq!((*created.id(), created.version()), (1, 1));
    let opened = store
        .apply(&1, Move::Action(DoorAction::Open), None)
        .await
        .unwrap();
    assert_eq!((opened.version(), opened.value().door), (2, Door::Open));
    let same = store.apply(&1, Move::To(Door::Open), None).await.unwrap();
    assert_eq!(same.version(), 2);
    let closed = store.apply(&1, Move::To(Door::Closed), None).await.unwrap();
    assert_eq!((closed.version(), closed.value().door), (3, Door::Closed));
    assert_eq!(store.get(&1).await.unwrap(), closed);
}

#[tokio::test]
async fn refusals_commit_nothing() {
    let store = MemoryStore::<Room>::new();
    store.create(|_| room("hall"));
    let illegal = store
        .apply(&1, Move::Action(DoorAction::Unlock), None)
        .await
        .unwrap_err();
    assert!(matches!(illegal, StoreError::Transition(e) if e.current() == Door::Closed));
    let stale = store
        .apply(
            &1,
            Move::Action(DoorAction::Open),
            Some(&Expected::OneOf(vec![7])),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        stale,
        StoreError::PreconditionFailed {
            version: 1,
            state: Door::Closed
        }
    ));
    assert!(matches!(
        store.apply(&2, Move::To(Door::Open), None).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get(&1).await.unwrap().version(), 1);
    // `*` and a matching tag both hold.
    store
        .apply(&1, Move::Action(DoorAction::Lock), Some(&Expected::Any))
        .await
        .unwrap();
    store
        .apply(
            &1,
            Move::Action(DoorAction::Unlock),
            Some(&Expected::OneOf(vec![1, 2])),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn insert_is_idempotent_for_identical_content_only() {
    let store = MemoryStore::<Room, &'static str>::new();
    assert!(matches!(
        store.insert("a", room("hall")).await,
        Ok(Inserted::Created(_))
    ));
    assert!(matches!(
        store.insert("a", room("hall")).await,
        Ok(Inserted::Existing(_))
    ));
    let different = store.insert("a", room("attic")).await.unwrap_err();
    assert!(matches!(
        different,
        StoreError::AlreadyExists {
            version: 1,
            state: Door::Closed
        }
    ));
    assert_eq!(store.get(&"a").await.unwrap().value().name, "hall");
}

#[test]
fn concurrent_moves_never_lose_an_update() {
    // 8 threads each toggle the same door 500 times with open/close actions;
    // every committed move bumps the version by exactly one.
    let store = MemoryStore::<Room>::new();
    store.create(|_| room("hall"));
    let committed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                scope.spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let mut committed = 0;
                    for i in 0..500 {
                        let action = if i % 2 == 0 {
                            DoorAction::Open
                        } else {
                            DoorAction::Close
                        };
                        if runtime
                            .block_on(store.apply(&1, Move::Action(action), None))
                            .is_ok()
                        {
                            committed += 1;
                        }
                    }
                    committed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let final_version = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.get(&1))
        .unwrap()
        .version();
    assert_eq!(final_version, 1 + committed as u64);
}
