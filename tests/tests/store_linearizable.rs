//! Random concurrent histories against `MemoryStore`, `PgStore` and
//! `SqliteStore`: whatever
//! the interleaving, the committed moves form one sequential history of legal
//! moves, and none is lost.

mod support;

use conflict_runtime::StateMachine;
use conflict_runtime::store::{Change, Create, MemoryStore, Move, Store, StoreError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{Backend, Door, DoorAction, Room, room};

/// A committed move: the version it made, the action, the state after it.
type Commit = (u64, DoorAction, Door);

fn histories() -> impl Strategy<Value = Vec<Vec<DoorAction>>> {
    let action = prop::sample::select(vec![
        DoorAction::Open,
        DoorAction::Close,
        DoorAction::Lock,
        DoorAction::Unlock,
    ]);
    prop::collection::vec(prop::collection::vec(action, 1..30), 2..8)
}

/// Runs `tasks` concurrently on a new resource and checks the outcome.
/// Returns the resource's id and the committed `(version, action, state)`.
fn run_and_check<St>(
    runtime: &tokio::runtime::Runtime,
    store: &St,
    tasks: Vec<Vec<DoorAction>>,
) -> Result<(i64, Vec<Commit>), TestCaseError>
where
    St: Store<Room, Id = i64> + Create<Room>,
{
    let id = *runtime.block_on(store.create(room("hall"))).unwrap().id();
    let committed: Vec<Commit> = runtime.block_on(async {
        let handles: Vec<_> = tasks
            .into_iter()
            .map(|actions| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut committed = Vec::new();
                    for action in actions {
                        match store.apply(&id, Change::new(Move::Action(action))).await {
                            Ok(now) => committed.push((now.version(), action, now.value().door)),
                            // A refusal names a state in which the action is indeed illegal.
                            Err(StoreError::Transition(refused)) => {
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
    let last = runtime.block_on(store.get(&id)).unwrap();
    prop_assert_eq!(last.version(), history.len() as u64 + 1);
    prop_assert_eq!(last.value().door, state);
    Ok((id, history))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn memory_histories_are_linearizable() {
    let runtime = runtime();
    let store = MemoryStore::<Room, i64>::new();
    TestRunner::new(Config::with_cases(64))
        .run(&histories(), |tasks| {
            run_and_check(&runtime, &store, tasks).map(drop)
        })
        .unwrap();
}

#[test]
fn postgres_histories_are_linearizable_and_recorded() {
    let runtime = runtime();
    let Some(backend) = runtime.block_on(Backend::postgres()) else {
        return;
    };
    let pool = runtime.block_on(backend.pool());
    let store = runtime.block_on(backend.pg_rooms());
    TestRunner::new(Config::with_cases(16))
        .run(&histories(), |tasks| {
            let (id, history) = run_and_check(&runtime, &store, tasks)?;
            // The history table holds exactly the committed moves, in order.
            let rows: Vec<(i64, String, String, Option<String>)> = runtime
                .block_on(
                    sqlx::query_as(
                        "SELECT version, from_state, to_state, action FROM conflict_history
                          WHERE kind = 'door' AND id = $1 ORDER BY version",
                    )
                    .bind(id.to_string())
                    .fetch_all(&pool),
                )
                .unwrap();
            prop_assert_eq!(rows.len(), history.len());
            let mut before = Door::Closed;
            for ((version, from, to, action), (committed, by, after)) in rows.iter().zip(&history) {
                prop_assert_eq!(u64::try_from(*version).unwrap(), *committed);
                prop_assert_eq!(from.as_str(), before.name());
                prop_assert_eq!(to.as_str(), after.name());
                prop_assert_eq!(action.as_deref(), Some(conflict_runtime::Action::name(*by)));
                before = *after;
            }
            Ok(())
        })
        .unwrap();
    runtime.block_on(backend.finish());
}

#[test]
fn sqlite_histories_are_linearizable_and_recorded() {
    let runtime = runtime();
    let backend = runtime.block_on(Backend::sqlite());
    let store = runtime.block_on(backend.sqlite_rooms());
    TestRunner::new(Config::with_cases(16))
        .run(&histories(), |tasks| {
            let (id, history) = run_and_check(&runtime, &store, tasks)?;
            let recorded = runtime.block_on(store.history(&id)).unwrap();
            prop_assert_eq!(recorded.len(), history.len());
            let mut before = Door::Closed;
            for (entry, (committed, by, after)) in recorded.iter().zip(&history) {
                prop_assert_eq!(entry.version, *committed);
                prop_assert_eq!(
                    (entry.from, entry.to, entry.action),
                    (before, *after, Some(*by))
                );
                before = *after;
            }
            Ok(())
        })
        .unwrap();
    runtime.block_on(backend.finish());
}
