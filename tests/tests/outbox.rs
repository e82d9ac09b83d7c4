//! The outbox and durable handlers, for `MemoryStore`, `PgStore` and
//! `SqliteStore` alike: every committed move is one event, nothing else is;
//! handlers are retried, parked dead and revived; dispatchers share the
//! work without handling one delivery twice at once, and a dispatcher that
//! shuts down lets go of what it holds.

#[macro_use]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conflict_runtime::moves::{Dispatcher, Event, Outbox, Retry, Wake};
use conflict_runtime::store::{Change, Create, Expected, Move, Note, Store};
use support::{Backend, Door, DoorAction, Room, events_after, room};

/// The store of `backend`, as the one type the tests take.
trait Rooms: Store<Room, Id = i64> + Create<Room> + Outbox<Room> + Wake + Clone + 'static {}
impl<St> Rooms for St where
    St: Store<Room, Id = i64> + Create<Room> + Outbox<Room> + Wake + Clone + 'static
{
}

fn open() -> Change<Room> {
    Change::new(Move::Action(DoorAction::Open))
}

fn close() -> Change<Room> {
    Change::new(Move::Action(DoorAction::Close))
}

/// Waits (at most a minute) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within a minute");
}

async fn every_committed_move_is_one_event_and_nothing_else_is<St: Rooms>(store: St, _: St) {
    let start = store.latest().await.unwrap();
    let id = *store.create(room("hall")).await.unwrap().id();
    let note = Note {
        actor: Some("ada".to_owned()),
        reason: Some("airing".to_owned()),
        metadata: Some(serde_json::json!({"window": true})),
    };
    store.apply(&id, open().noted(note)).await.unwrap();
    // A no-op, an illegal move and a stale one commit nothing.
    store
        .apply(&id, Change::new(Move::To(Door::Open)))
        .await
        .unwrap();
    store
        .apply(&id, Change::new(Move::Action(DoorAction::Lock)))
        .await
        .unwrap_err();
    store
        .apply(&id, close().expecting(Expected::OneOf(vec![1])))
        .await
        .unwrap_err();
    store.apply(&id, close()).await.unwrap();

    let events = events_after(&store, start, 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (opened, closed) = (&events[0], &events[1]);
    assert!(start < opened.position && opened.position < closed.position);
    assert_eq!(opened.id, id.to_string());
    assert_eq!(
        (opened.entry.version, opened.entry.from, opened.entry.to),
        (2, Door::Closed, Door::Open)
    );
    assert_eq!(opened.entry.action, Some(DoorAction::Open));
    assert_eq!(opened.entry.note.actor.as_deref(), Some("ada"));
    assert_eq!(
        opened.entry.note.metadata,
        Some(serde_json::json!({"window": true}))
    );
    assert_eq!(opened.key(), format!("{}:{id}:2", opened.kind));
    assert_eq!(closed.key(), format!("{}:{id}:3", closed.kind));
    assert_eq!(store.latest().await.unwrap(), closed.position);
    // Resuming after the first reads the second only.
    let rest = store.events(opened.position, 100).await.unwrap();
    assert_eq!(rest, events[1..]);

    let json = serde_json::to_value(opened).unwrap();
    assert_eq!(json["schema"], "conflict.event.v1");
    assert_eq!(json["from"], "closed");
    assert_eq!(json["to"], "open");
    assert_eq!(json["action"], "open");
    assert_eq!(json["version"], 2);
    assert_eq!(json["key"], opened.key());
    assert_eq!(json["input"], serde_json::json!({"window": true}));
}

async fn failing_handlers_are_retried_parked_dead_and_revived<St: Rooms>(store: St, _: St) {
    // `flaky` fails its first three attempts; `broken` fails until fixed.
    let flaky_attempts = Arc::new(AtomicU32::new(0));
    let broken_fixed = Arc::new(AtomicU32::new(0));
    let handled: Arc<Mutex<Vec<(&str, String)>>> = Arc::default();
    let dispatcher = Dispatcher::new(store.clone())
        .on_enter(Door::Open, "flaky", {
            let (attempts, handled) = (Arc::clone(&flaky_attempts), Arc::clone(&handled));
            move |event: Event<Door>| {
                let (attempts, handled) = (Arc::clone(&attempts), Arc::clone(&handled));
                async move {
                    if attempts.fetch_add(1, Ordering::SeqCst) < 3 {
                        return Err("the mail server is away".into());
                    }
                    handled.lock().unwrap().push(("flaky", event.key()));
                    Ok(())
                }
            }
        })
        .after(DoorAction::Open, "broken", {
            let (fixed, handled) = (Arc::clone(&broken_fixed), Arc::clone(&handled));
            move |event: Event<Door>| {
                let (fixed, handled) = (Arc::clone(&fixed), Arc::clone(&handled));
                async move {
                    if fixed.load(Ordering::SeqCst) == 0 {
                        return Err(format!("no printer for {}", event.id).into());
                    }
                    handled.lock().unwrap().push(("broken", event.key()));
                    Ok(())
                }
            }
        })
        .retry(Retry {
            attempts: 5,
            first: Duration::from_millis(5),
            max: Duration::from_millis(20),
        })
        // A revive commits no move: the dispatcher finds it when it looks.
        .idle(Duration::from_millis(100));
    let running = dispatcher.clone().start().await.unwrap();
    let id = *store.create(room("hall")).await.unwrap().id();
    let opened = store.apply(&id, open()).await.unwrap();
    let key = |kind: &str| format!("{kind}:{id}:{}", opened.version());

    eventually("flaky succeeds on its fourth attempt", || {
        handled
            .lock()
            .unwrap()
            .iter()
            .any(|(name, _)| *name == "flaky")
    })
    .await;
    assert_eq!(flaky_attempts.load(Ordering::SeqCst), 4);
    let dead = loop {
        let dead = store.dead(Some("broken")).await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].handler, "broken");
    assert_eq!(dead[0].attempts, 5);
    assert_eq!(dead[0].error, format!("no printer for {id}"));
    assert_eq!(dead[0].event.key(), key(&dead[0].event.kind));
    assert!(store.dead(Some("flaky")).await.unwrap().is_empty());

    // Fixed and revived, the dead delivery runs again, once.
    broken_fixed.store(1, Ordering::SeqCst);
    assert!(
        store
            .revive("broken", dead[0].event.position)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revive("broken", dead[0].event.position)
            .await
            .unwrap()
    );
    eventually("the revived delivery runs", || {
        handled
            .lock()
            .unwrap()
            .iter()
            .any(|(name, _)| *name == "broken")
    })
    .await;
    running.shutdown().await;
    assert!(store.dead(None).await.unwrap().is_empty());
    let handled = handled.lock().unwrap().clone();
    assert_eq!(handled.len(), 2, "{handled:?}");
    for (_, handled_key) in &handled {
        assert_eq!(*handled_key, dead[0].event.key());
    }
}

async fn two_dispatchers_handle_every_event_once_and_never_at_once<St: Rooms>(
    first: St,
    second: St,
) {
    const ROOMS: usize = 50;
    const MOVES_PER_ROOM: usize = 20;
    // What each delivery of each key saw: how many ran it at once, in all.
    #[derive(Default)]
    struct Seen {
        running: HashMap<String, u32>,
        handled: HashMap<String, u32>,
        overlaps: Vec<String>,
        by: [u32; 2],
    }
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let handler = |instance: usize| {
        let seen = Arc::clone(&seen);
        move |event: Event<Door>| {
            let seen = Arc::clone(&seen);
            async move {
                let key = event.key();
                {
                    let mut seen = seen.lock().unwrap();
                    let running = seen.running.entry(key.clone()).or_default();
                    *running += 1;
                    if *running > 1 {
                        seen.overlaps.push(key.clone());
                    }
                }
                tokio::task::yield_now().await;
                let mut seen = seen.lock().unwrap();
                *seen.running.get_mut(&key).unwrap() -= 1;
                *seen.handled.entry(key).or_default() += 1;
                seen.by[instance] += 1;
                Ok(())
            }
        }
    };
    let dispatchers = [
        Dispatcher::new(first.clone())
            .on_enter(Door::Open, "count", handler(0))
            .on_enter(Door::Closed, "count_closed", handler(0))
            .idle(Duration::from_millis(50))
            .start()
            .await
            .unwrap(),
        // The second runs four deliveries at once: still each once, alone.
        Dispatcher::new(second.clone())
            .on_enter(Door::Open, "count", handler(1))
            .on_enter(Door::Closed, "count_closed", handler(1))
            .idle(Duration::from_millis(50))
            .concurrency(4)
            .start()
            .await
            .unwrap(),
    ];

    // 1 000 moves from 50 tasks at once, half through each instance.
    let mut tasks = Vec::new();
    for task in 0..ROOMS {
        let store = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let id = *store.create(room("hall")).await.unwrap().id();
            let mut keys = Vec::new();
            for turn in 0..MOVES_PER_ROOM {
                let change = if turn % 2 == 0 { open() } else { close() };
                let moved = store.apply(&id, change).await.unwrap();
                keys.push(format!("{id}:{}", moved.version()));
            }
            keys
        }));
    }
    let mut committed = Vec::new();
    for task in tasks {
        committed.extend(task.await.unwrap());
    }
    assert_eq!(committed.len(), ROOMS * MOVES_PER_ROOM);

    eventually("every event is handled", || {
        seen.lock().unwrap().handled.len() == ROOMS * MOVES_PER_ROOM
    })
    .await;
    for running in dispatchers {
        running.shutdown().await;
    }
    let seen = seen.lock().unwrap();
    assert!(seen.overlaps.is_empty(), "run at once: {:?}", seen.overlaps);
    for key in &committed {
        let times = seen
            .handled
            .iter()
            .find(|(handled, _)| handled.ends_with(&format!(":{key}")))
            .map(|(_, times)| *times);
        assert_eq!(times, Some(1), "{key}");
    }
    eprintln!(
        "deliveries by the first instance: {}, by the second: {}",
        seen.by[0], seen.by[1]
    );
}

async fn shutdown_finishes_the_running_delivery_and_releases_the_rest<St: Rooms>(store: St, _: St) {
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let first = Dispatcher::new(store.clone())
        .on_enter(Door::Open, "slow", {
            let gate = Arc::clone(&gate);
            move |event: Event<Door>| {
                let (started, gate) = (started_tx.clone(), Arc::clone(&gate));
                async move {
                    let _ = started.send(event.entry.version);
                    let _permit = gate.acquire().await;
                    Ok(())
                }
            }
        })
        .start()
        .await
        .unwrap();
    for name in ["a", "b", "c"] {
        let id = *store.create(room(name)).await.unwrap().id();
        store.apply(&id, open()).await.unwrap();
    }
    // The first delivery is running, the other two are held.
    started.recv().await.unwrap();
    let stopping = tokio::spawn(first.shutdown());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the running one"
    );
    gate.add_permits(1);
    stopping.await.unwrap();
    // Released, the other two are due at once, their attempts uncounted.
    let attempts: Arc<Mutex<Vec<u32>>> = Arc::default();
    let second = Dispatcher::new(store.clone()).on_enter(Door::Open, "slow", {
        let attempts = Arc::clone(&attempts);
        move |_| {
            let attempts = Arc::clone(&attempts);
            async move {
                attempts.lock().unwrap().push(0);
                Ok(())
            }
        }
    });
    let ran = second.run_once().await.unwrap();
    assert_eq!(ran, 2, "the released deliveries are due now");
    assert_eq!(attempts.lock().unwrap().len(), 2);
    assert_eq!(second.run_once().await.unwrap(), 0);
}

async fn a_new_handler_starts_at_the_latest_event<St: Rooms>(store: St, _: St) {
    let id = *store.create(room("hall")).await.unwrap().id();
    store.apply(&id, open()).await.unwrap();
    let handled = Arc::new(AtomicU32::new(0));
    let dispatcher = Dispatcher::new(store.clone()).on_enter(Door::Closed, "late", {
        let handled = Arc::clone(&handled);
        move |_| {
            let handled = Arc::clone(&handled);
            async move {
                handled.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        }
    });
    assert_eq!(dispatcher.run_once().await.unwrap(), 0);
    store.apply(&id, close()).await.unwrap();
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
}

async fn trimming_forgets_old_events_for_readers_not_for_deliveries<St: Rooms>(store: St, _: St) {
    let failing = Arc::new(AtomicU32::new(1));
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let dispatcher = Dispatcher::new(store.clone())
        .on_enter(Door::Closed, "until_fixed", {
            let (failing, handled) = (Arc::clone(&failing), Arc::clone(&handled));
            move |event: Event<Door>| {
                let (failing, handled) = (Arc::clone(&failing), Arc::clone(&handled));
                async move {
                    if failing.load(Ordering::SeqCst) == 1 {
                        return Err("down".into());
                    }
                    handled.lock().unwrap().push(event.key());
                    Ok(())
                }
            }
        })
        .retry(Retry {
            attempts: 1,
            ..Retry::default()
        });
    dispatcher.run_once().await.unwrap();
    let id = *store.create(room("hall")).await.unwrap().id();
    let start = store.latest().await.unwrap();
    store.apply(&id, open()).await.unwrap();
    store.apply(&id, close()).await.unwrap();
    store.apply(&id, open()).await.unwrap();
    let events = events_after(&store, start, 3).await;
    let (closed, latest) = (events[1].position, events[2].position);
    // The close fails its only attempt: dead.
    dispatcher.run_once().await.unwrap();
    assert_eq!(store.dead(Some("until_fixed")).await.unwrap().len(), 1);

    assert_eq!(store.kept_after().await.unwrap(), 0);
    // A young event is kept: the retention is an age.
    assert_eq!(store.trim(Duration::from_hours(1)).await.unwrap(), 0);
    assert_eq!(store.events(0, 100).await.unwrap().len(), 3);
    assert_eq!(store.trim(Duration::ZERO).await.unwrap(), 3);
    assert_eq!(store.kept_after().await.unwrap(), latest);
    assert_eq!(store.events(0, 100).await.unwrap(), []);
    assert_eq!(store.events_of(&id.to_string(), 0, 100).await.unwrap(), []);
    assert_eq!(store.trim(Duration::ZERO).await.unwrap(), 0);

    // The dead delivery keeps its event: revived, it runs.
    let dead = store.dead(None).await.unwrap();
    assert_eq!(dead[0].event.position, closed);
    failing.store(0, Ordering::SeqCst);
    assert!(store.revive("until_fixed", closed).await.unwrap());
    assert_eq!(dispatcher.run_once().await.unwrap(), 1);
    assert_eq!(*handled.lock().unwrap(), [dead[0].event.key()]);

    // What commits next is read as before.
    store.apply(&id, close()).await.unwrap();
    let next = events_after(&store, latest, 1).await;
    assert_eq!(next.len(), 1);
    assert_eq!(
        store.events_of(&id.to_string(), 0, 100).await.unwrap(),
        next
    );
}

on_every_store!(
    every_committed_move_is_one_event_and_nothing_else_is,
    failing_handlers_are_retried_parked_dead_and_revived,
    two_dispatchers_handle_every_event_once_and_never_at_once,
    shutdown_finishes_the_running_delivery_and_releases_the_rest,
    a_new_handler_starts_at_the_latest_event,
    trimming_forgets_old_events_for_readers_not_for_deliveries,
);

/// A move in the caller's transaction: its event and the deadline it sets
/// (an open door closes itself) roll back and commit with it.
mod sql {
    use conflict_runtime::moves::{Anonymous, Deadlines, Engine, MoveSpec, Outbox, Rules};
    use conflict_runtime::store::Create;

    use super::{Backend, DoorAction, events_after, room};

    fn open(id: i64) -> MoveSpec<super::Door, i64> {
        MoveSpec::action(id, DoorAction::Open)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_rolled_back_move_has_no_event_on_postgres() {
        let Some(backend) = Backend::postgres().await else {
            return;
        };
        let store = backend.pg_rooms().await;
        let engine = Engine::new(store.clone(), Rules::new());
        let id = *store.create(room("hall")).await.unwrap().id();
        let start = store.latest().await.unwrap();
        let mut transaction = store.pool().begin().await.unwrap();
        let opened = engine
            .perform_in(&mut transaction, &Anonymous, open(id))
            .await
            .unwrap();
        transaction.rollback().await.unwrap();
        drop(opened);
        assert_eq!(store.events(start, 10).await.unwrap(), []);
        assert_eq!(store.pending(&id).await.unwrap(), None);
        let mut transaction = store.pool().begin().await.unwrap();
        let opened = engine
            .perform_in(&mut transaction, &Anonymous, open(id))
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        let _ = opened.after_commit().await;
        assert_eq!(events_after(&store, start, 1).await.len(), 1);
        assert!(store.pending(&id).await.unwrap().is_some());
        backend.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_rolled_back_move_has_no_event_on_sqlite() {
        let backend = Backend::sqlite().await;
        let store = backend.sqlite_rooms().await;
        let engine = Engine::new(store.clone(), Rules::new());
        let id = *store.create(room("hall")).await.unwrap().id();
        let start = store.latest().await.unwrap();
        let mut transaction = store.pool().begin().await.unwrap();
        let opened = engine
            .perform_in(&mut transaction, &Anonymous, open(id))
            .await
            .unwrap();
        transaction.rollback().await.unwrap();
        drop(opened);
        assert_eq!(store.events(start, 10).await.unwrap(), []);
        assert_eq!(store.pending(&id).await.unwrap(), None);
        let mut transaction = store.pool().begin().await.unwrap();
        let opened = engine
            .perform_in(&mut transaction, &Anonymous, open(id))
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        let _ = opened.after_commit().await;
        assert_eq!(events_after(&store, start, 1).await.len(), 1);
        assert!(store.pending(&id).await.unwrap().is_some());
        backend.finish().await;
    }
}

/// While commits keep coming, a dispatcher looks at the outbox once per
/// pace: commits soon after a look are delivered together by the next one,
/// a commit after a quiet spell at once. On tokio's paused clock, so the
/// instants are exact.
#[tokio::test(start_paused = true)]
async fn a_burst_of_commits_is_one_look_per_pace() {
    let pace = Duration::from_secs(1);
    let store = conflict_runtime::store::MemoryStore::<Room, i64>::new();
    let id = *Create::create(&store, room("hall")).await.unwrap().id();
    let seen: Arc<Mutex<Vec<(u64, tokio::time::Instant)>>> = Arc::default();
    let running = Dispatcher::new(store.clone())
        .pace(pace)
        .every("timed", {
            let seen = Arc::clone(&seen);
            move |event: Event<Door>| {
                let seen = Arc::clone(&seen);
                async move {
                    let at = tokio::time::Instant::now();
                    seen.lock().unwrap().push((event.entry.version, at));
                    Ok(())
                }
            }
        })
        .start()
        .await
        .unwrap();
    let delivered = |count: usize| {
        let seen = Arc::clone(&seen);
        async move {
            while seen.lock().unwrap().len() < count {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen.lock().unwrap().clone()
        }
    };
    let quiet = tokio::time::Instant::now();
    store.apply(&id, open()).await.unwrap();
    let first = delivered(1).await;
    assert!(first[0].1 - quiet < pace, "after a quiet spell, at once");
    for change in [close(), open(), close()] {
        store.apply(&id, change).await.unwrap();
    }
    let all = delivered(4).await;
    let versions: Vec<u64> = all.iter().map(|(version, _)| *version).collect();
    assert_eq!(versions, [2, 3, 4, 5]);
    let burst: Vec<tokio::time::Instant> = all[1..].iter().map(|(_, at)| *at).collect();
    assert!(
        burst.iter().all(|at| *at == burst[0]),
        "one look: {burst:?}"
    );
    assert!(burst[0] - first[0].1 >= pace.saturating_sub(Duration::from_millis(2)));
    running.shutdown().await;
}
