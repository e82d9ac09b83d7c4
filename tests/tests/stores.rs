//! Store semantics without HTTP, for `MemoryStore`, `PgStore` and
//! `SqliteStore` alike.

#[macro_use]
mod support;

use conflict_runtime::store::{
    Change, Create, Expected, Inserted, List, MemoryStore, Move, Note, Store, StoreError,
};
use support::{Backend, Door, DoorAction, Room, room};

/// The store of `backend`, as the one type the tests take.
trait Rooms: Store<Room, Id = i64> + Create<Room> + List<Room> {}
impl<St: Store<Room, Id = i64> + Create<Room> + List<Room>> Rooms for St {}

async fn moves_bump_the_version_and_no_ops_do_not(store: impl Rooms) {
    let created = store.create(room("hall")).await.unwrap();
    let id = *created.id();
    assert_eq!(created.version(), 1);
    let opened = store
        .apply(&id, Change::new(Move::Action(DoorAction::Open)))
        .await
        .unwrap();
    assert_eq!((opened.version(), opened.value().door), (2, Door::Open));
    let same = store
        .apply(&id, Change::new(Move::To(Door::Open)))
        .await
        .unwrap();
    assert_eq!(same.version(), 2);
    let closed = store
        .apply(&id, Change::new(Move::To(Door::Closed)))
        .await
        .unwrap();
    assert_eq!((closed.version(), closed.value().door), (3, Door::Closed));
    assert_eq!(store.get(&id).await.unwrap(), closed);
}

async fn refusals_commit_nothing(store: impl Rooms) {
    let id = *store.create(room("hall")).await.unwrap().id();
    let illegal = store
        .apply(&id, Change::new(Move::Action(DoorAction::Unlock)))
        .await
        .unwrap_err();
    assert!(matches!(illegal, StoreError::Transition(e) if e.current() == Door::Closed));
    let stale = store
        .apply(
            &id,
            Change::new(Move::Action(DoorAction::Open)).expecting(Expected::OneOf(vec![7])),
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
    let absent = store
        .apply(&(id + 1000), Change::new(Move::To(Door::Open)))
        .await;
    assert!(matches!(absent, Err(StoreError::NotFound)));
    assert!(matches!(
        store.get(&i64::MAX).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get(&id).await.unwrap().version(), 1);
    // `*` and a matching tag both hold.
    store
        .apply(
            &id,
            Change::new(Move::Action(DoorAction::Lock)).expecting(Expected::Any),
        )
        .await
        .unwrap();
    store
        .apply(
            &id,
            Change::new(Move::Action(DoorAction::Unlock)).expecting(Expected::OneOf(vec![1, 2])),
        )
        .await
        .unwrap();
}

async fn insert_is_idempotent_for_identical_content_only(store: impl Rooms) {
    assert!(matches!(
        store.insert(500, room("hall")).await,
        Ok(Inserted::Created(_))
    ));
    assert!(matches!(
        store.insert(500, room("hall")).await,
        Ok(Inserted::Existing(_))
    ));
    let different = store.insert(500, room("attic")).await.unwrap_err();
    assert!(matches!(
        different,
        StoreError::AlreadyExists {
            version: 1,
            state: Door::Closed
        }
    ));
    assert_eq!(store.get(&500).await.unwrap().value().name, "hall");
    // Server-assigned ids go around the ones taken.
    assert!(matches!(
        store.insert(1, room("taken")).await,
        Ok(Inserted::Created(_))
    ));
    let created = store.create(room("next")).await.unwrap();
    assert_ne!(*created.id(), 1);
    assert_ne!(*created.id(), 500);
}

async fn concurrent_moves_never_lose_an_update(store: impl Rooms + Clone) {
    // 8 tasks each toggle one door 100 times; every committed move bumps the
    // version by exactly one.
    let id = *store.create(room("hall")).await.unwrap().id();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut committed = 0_u64;
                for i in 0..100 {
                    let action = if i % 2 == 0 {
                        DoorAction::Open
                    } else {
                        DoorAction::Close
                    };
                    if store
                        .apply(&id, Change::new(Move::Action(action)))
                        .await
                        .is_ok()
                    {
                        committed += 1;
                    }
                }
                committed
            })
        })
        .collect();
    let mut committed = 0;
    for worker in workers {
        committed += worker.await.unwrap();
    }
    assert_eq!(store.get(&id).await.unwrap().version(), 1 + committed);
}

async fn history_records_committed_moves_with_their_note_only(store: impl Rooms) {
    let id = *store.create(room("hall")).await.unwrap().id();
    assert_eq!(store.history(&id).await.unwrap(), []);
    let note = Note {
        actor: Some("alice".to_owned()),
        reason: Some("airing".to_owned()),
        metadata: Some(serde_json::json!({"window": "too"})),
    };
    let mut renamed = store.get(&id).await.unwrap().into_value();
    "aired hall".clone_into(&mut renamed.name);
    let opened = store
        .apply(
            &id,
            Change::new(Move::Action(DoorAction::Open))
                .expecting(Expected::OneOf(vec![1]))
                .edited(renamed)
                .noted(note.clone()),
        )
        .await
        .unwrap();
    // The edit commits with the move; the state is the move's, not the edit's.
    assert_eq!(opened.value().name, "aired hall");
    assert_eq!(opened.value().door, Door::Open);
    assert_eq!(store.get(&id).await.unwrap().value().name, "aired hall");
    // Refused, stale and no-op moves record nothing.
    assert!(
        store
            .apply(&id, Change::new(Move::Action(DoorAction::Unlock)))
            .await
            .is_err()
    );
    assert!(
        store
            .apply(
                &id,
                Change::new(Move::Action(DoorAction::Close)).expecting(Expected::OneOf(vec![1]))
            )
            .await
            .is_err()
    );
    store
        .apply(&id, Change::new(Move::To(Door::Open)))
        .await
        .unwrap();
    store
        .apply(&id, Change::new(Move::To(Door::Closed)))
        .await
        .unwrap();
    let history = store.history(&id).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    let (first, second) = (&history[0], &history[1]);
    assert_eq!(
        (first.version, first.from, first.to, first.action),
        (2, Door::Closed, Door::Open, Some(DoorAction::Open))
    );
    assert_eq!(first.note, note);
    assert_eq!(
        (second.version, second.from, second.to, second.action),
        (3, Door::Open, Door::Closed, None)
    );
    assert_eq!(second.note, Note::default());
    assert!(first.at <= second.at);
    assert!(second.at <= std::time::SystemTime::now());
    assert!(matches!(
        store.history(&(id + 1000)).await,
        Err(StoreError::NotFound)
    ));
}

/// Lists a state a page at a time, in the order of the ids, and moves many
/// resources with a result each.
async fn lists_by_state_and_moves_many_at_once(store: impl Rooms) {
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(*store.create(room(name)).await.unwrap().id());
    }
    for &id in &ids[..3] {
        store
            .apply(&id, Change::new(Move::Action(DoorAction::Open)))
            .await
            .unwrap();
    }
    let first = store.list(&[Door::Open], None, 2).await.unwrap();
    let names: Vec<&str> = first
        .items
        .iter()
        .map(|r| r.value().name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(first.next, Some(ids[1]));
    let rest = store
        .list(&[Door::Open], first.next.as_ref(), 2)
        .await
        .unwrap();
    let names: Vec<&str> = rest.items.iter().map(|r| r.value().name.as_str()).collect();
    assert_eq!((names, rest.next), (vec!["c"], None));
    let both = store
        .list(&[Door::Closed, Door::Open], None, 10)
        .await
        .unwrap();
    assert_eq!(both.items.len(), 5);
    assert!(both.items.windows(2).all(|w| w[0].id() < w[1].id()));

    // Close the open ones and one closed one: three moves, one refusal, one
    // absent; each with its own answer, in the order asked.
    let close = Change::new(Move::Action(DoorAction::Close)).via(DoorAction::Close);
    let asked = [ids[0], ids[1], ids[3], ids[2], i64::MAX];
    let results = store
        .apply_each(asked.iter().map(|&id| (id, close.clone())).collect())
        .await;
    assert_eq!(results.len(), 5);
    for (i, result) in results.iter().enumerate() {
        match i {
            0 | 1 | 3 => assert_eq!(result.as_ref().unwrap().value().door, Door::Closed),
            2 => assert!(
                matches!(result, Err(StoreError::Transition(e)) if e.current() == Door::Closed)
            ),
            _ => assert!(matches!(result, Err(StoreError::NotFound))),
        }
    }
    for &id in &ids[..3] {
        let history = store.history(&id).await.unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].action, Some(DoorAction::Close));
    }
    assert_eq!(store.history(&ids[3]).await.unwrap(), []);
}

/// SQL keeps no NUL in text: a client error, not a 500, and nothing is
/// written.
async fn nul_characters_are_unstorable(store: impl Rooms) {
    assert!(matches!(
        store.insert(7, room("ha\u{0}ll")).await,
        Err(StoreError::Unstorable(_))
    ));
    assert!(matches!(store.get(&7).await, Err(StoreError::NotFound)));
    let id = *store.create(room("hall")).await.unwrap().id();
    let note = Note {
        reason: Some("\u{0}".to_owned()),
        ..Note::default()
    };
    let refused = store
        .apply(&id, Change::new(Move::Action(DoorAction::Open)).noted(note))
        .await;
    assert!(matches!(refused, Err(StoreError::Unstorable(_))));
    assert_eq!(store.get(&id).await.unwrap().version(), 1);
    assert_eq!(store.history(&id).await.unwrap(), []);
}

/// The tests of `store_tests!` on Postgres, in module `$name`, on the
/// store `Backend::$store` makes.
macro_rules! postgres_tests {
    ($name:ident, $store:ident; $($test:ident),*) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(backend) = super::Backend::postgres().await else {
                        return;
                    };
                    super::$test(backend.$store().await).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

macro_rules! store_tests {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test(super::MemoryStore::<super::Room, i64>::new()).await;
                }
            )*
        }

        postgres_tests!(postgres, pg_rooms; $($test),*);
        // A table whose state and version columns are not `text` and
        // `bigint`, which the statements answer cast.
        postgres_tests!(postgres_cast, pg_lodges; $($test),*);

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let backend = super::Backend::sqlite().await;
                    super::$test(backend.sqlite_rooms().await).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

store_tests!(
    moves_bump_the_version_and_no_ops_do_not,
    refusals_commit_nothing,
    insert_is_idempotent_for_identical_content_only,
    concurrent_moves_never_lose_an_update,
    history_records_committed_moves_with_their_note_only,
    lists_by_state_and_moves_many_at_once,
);

mod sql {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_refuses_nul_characters() {
        let Some(backend) = super::Backend::postgres().await else {
            return;
        };
        super::nul_characters_are_unstorable(backend.pg_rooms().await).await;
        backend.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_refuses_nul_characters() {
        let backend = super::Backend::sqlite().await;
        super::nul_characters_are_unstorable(backend.sqlite_rooms().await).await;
        backend.finish().await;
    }
}
