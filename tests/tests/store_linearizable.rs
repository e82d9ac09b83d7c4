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

/// A committed move: the version it made, the move, the state after it.
type Commit = (u64, Move<Door>, Door);

/// Moves by action (one state each leads from), and to `closed` (which
/// both `open` and `locked` lead to).
fn histories() -> impl Strategy<Value = Vec<Vec<Move<Door>>>> {
    let requested = prop::sample::select(vec![
        Move::Action(DoorAction::Open),
        Move::Action(DoorAction::Close),
        Move::Action(DoorAction::Lock),
        Move::Action(DoorAction::Unlock),
        Move::To(Door::Closed),
    ]);
    prop::collection::vec(prop::collection::vec(requested, 1..30), 2..8)
}

/// Where `requested` leads from `state`, if it is legal there.
fn leads(state: Door, requested: Move<Door>) -> Option<Door> {
    requested.decide(state).ok().flatten()
}

/// Runs `tasks` concurrently on a new resource and checks the outcome.
/// Returns the resource's id and the committed `(version, move, state)`.
fn run_and_check<St>(
    runtime: &tokio::runtime::Runtime,
    store: &St,
    tasks: Vec<Vec<Move<Door>>>,
) -> Result<(i64, Vec<Commit>), TestCaseError>
where
    St: Store<Room, Id = i64> + Create<Room>,
{
    let id = *runtime.block_on(store.create(room("hall"))).unwrap().id();
    // Every answer that was not a refusal: a commit, or (a move to where
    // the door is) a no-op answered with the version it found.
    let answered: Vec<Commit> = runtime.block_on(async {
        let handles: Vec<_> = tasks
            .into_iter()
            .map(|moves| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut answered = Vec::new();
                    for requested in moves {
                        match store.apply(&id, Change::new(requested)).await {
                            Ok(now) => answered.push((now.version(), requested, now.value().door)),
                            // A refusal names a state in which the move is indeed illegal.
                            Err(StoreError::Transition(refused)) => {
                                assert!(requested.decide(refused.current()).is_err());
                            }
                            Err(other) => panic!("unexpected {other}"),
                        }
                        tokio::task::yield_now().await;
                    }
                    answered
                })
            })
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            all.extend(handle.await.unwrap());
        }
        all
    });
    let last = runtime.block_on(store.get(&id)).unwrap();
    // A move by action always commits: no two share a version.
    let mut by_action: Vec<u64> = answered
        .iter()
        .filter(|(_, requested, _)| matches!(requested, Move::Action(_)))
        .map(|(version, ..)| *version)
        .collect();
    let actions = by_action.len();
    by_action.sort_unstable();
    by_action.dedup();
    prop_assert_eq!(
        by_action.len(),
        actions,
        "two moves by action answered one version"
    );
    // Versions 2, 3, ... up to the last, none missing; replayed in order,
    // each is a legal move from the one before, by one of the moves answered
    // with it, and every answer with a version names the state it made.
    let mut history = Vec::new();
    let mut state = Door::Closed;
    for version in 2..=last.version() {
        // A move by action at a version made it; a move to `closed` there may
        // be a no-op that found it made.
        let mut at: Vec<&Commit> = answered.iter().filter(|(v, ..)| *v == version).collect();
        at.sort_by_key(|(_, requested, _)| matches!(requested, Move::To(_)));
        prop_assert!(!at.is_empty(), "no answer made version {}", version);
        let after = at[0].2;
        prop_assert!(at.iter().all(|(_, _, door)| *door == after));
        let Some(made) = at
            .iter()
            .find(|(_, requested, _)| leads(state, *requested) == Some(after))
        else {
            return Err(TestCaseError::fail(format!(
                "version {version}: no legal move from {state:?} to {after:?} among {at:?}"
            )));
        };
        history.push(**made);
        state = after;
    }
    // No-ops answered the state they found.
    for (version, requested, door) in &answered {
        if leads(*door, *requested).is_none() && matches!(requested, Move::To(_)) {
            prop_assert!(*version <= last.version());
        }
    }
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
    postgres_histories(false);
}

/// The same on a table whose state and version the statements answer cast.
#[test]
fn postgres_cast_histories_are_linearizable_and_recorded() {
    postgres_histories(true);
}

/// The Postgres property, on the `rooms` table or on `lodges`.
fn postgres_histories(lodges: bool) {
    let runtime = runtime();
    let Some(backend) = runtime.block_on(Backend::postgres()) else {
        return;
    };
    let pool = runtime.block_on(backend.pool());
    let store = if lodges {
        runtime.block_on(backend.pg_lodges())
    } else {
        runtime.block_on(backend.pg_rooms())
    };
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
                prop_assert_eq!(
                    action.as_deref(),
                    by.action().map(conflict_runtime::Action::name)
                );
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
                    (before, *after, by.action())
                );
                before = *after;
            }
            Ok(())
        })
        .unwrap();
    runtime.block_on(backend.finish());
}
