//! Deadlines kept by `MemoryStore`, `PgStore` and `SqliteStore` alike, and
//! made by schedulers: a room's open door closes itself after an hour. A
//! deadline is set and cleared with the move, made once as an ordinary move
//! (history, events, guards), cancelled by a move in between, shared by two
//! schedulers without a double, backed off when a guard blocks it, and made
//! at start when every scheduler was down.

#[macro_use]
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use conflict_runtime::deadline::{Deadline, InvalidDeadline};
use conflict_runtime::guard::Blocker;
use conflict_runtime::moves::{
    Anonymous, Clock, Deadlines, Engine, ManualClock, MoveSpec, Outbox, Retry, Rules, Scheduler,
};
use conflict_runtime::store::{Change, Create, MemoryStore, Move, PgStore, SqliteStore, Store};
use conflict_tests::rooms::{Door, DoorAction, Room, room};
use support::events_after;

/// The store of a backend, as the one type the tests take.
trait Rooms:
    Store<Room, Id = i64> + Create<Room> + Deadlines<Room> + Outbox<Room> + Clone + 'static
{
    /// The store's own `with_deadline`.
    fn with(self, deadline: Deadline<Door>) -> Self;

    /// The store's own `with_deadline_at`: the room's `closes_at` makes the
    /// move `action` from `state`.
    fn closing_at(self, state: Door, action: DoorAction) -> Result<Self, InvalidDeadline>;
}

/// When a room says its door closes.
fn closes_at(room: &Room) -> Option<SystemTime> {
    let seconds = u64::try_from(room.closes_at?).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

impl Rooms for MemoryStore<Room, i64> {
    fn with(self, deadline: Deadline<Door>) -> Self {
        self.with_deadline(deadline)
    }

    fn closing_at(self, state: Door, action: DoorAction) -> Result<Self, InvalidDeadline> {
        self.with_deadline_at(state, action, closes_at)
    }
}

impl Rooms for PgStore<Room, i64> {
    fn with(self, deadline: Deadline<Door>) -> Self {
        self.with_deadline(deadline)
    }

    fn closing_at(self, state: Door, action: DoorAction) -> Result<Self, InvalidDeadline> {
        self.with_deadline_at(state, action, closes_at)
    }
}

impl Rooms for SqliteStore<Room, i64> {
    fn with(self, deadline: Deadline<Door>) -> Self {
        self.with_deadline(deadline)
    }

    fn closing_at(self, state: Door, action: DoorAction) -> Result<Self, InvalidDeadline> {
        self.with_deadline_at(state, action, closes_at)
    }
}

const HOUR: Duration = Duration::from_hours(1);

async fn open(store: &impl Rooms, id: i64) {
    store
        .apply(&id, Change::new(Move::Action(DoorAction::Open)))
        .await
        .unwrap();
}

async fn close(store: &impl Rooms, id: i64) {
    store
        .apply(&id, Change::new(Move::Action(DoorAction::Close)))
        .await
        .unwrap();
}

fn scheduler<St: Rooms>(store: &St, clock: &ManualClock) -> Scheduler<Room, St> {
    Scheduler::new(Engine::new(store.clone(), Rules::new())).clock(clock.clone())
}

/// The closes in the room's history: (version, actor).
async fn closes(store: &impl Rooms, id: i64) -> Vec<(u64, Option<String>)> {
    store
        .history(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|entry| entry.action == Some(DoorAction::Close))
        .map(|entry| (entry.version, entry.note.actor))
        .collect()
}

async fn entering_a_state_sets_its_deadline_and_leaving_clears_it<St: Rooms>(store: St, _: St) {
    let id = *store.create(room("hall")).await.unwrap().id();
    assert_eq!(store.pending(&id).await.unwrap(), None, "closed has none");
    let before = SystemTime::now();
    open(&store, id).await;
    let after = SystemTime::now();
    let pending = store.pending(&id).await.unwrap().expect("open has one");
    assert_eq!(pending.action, DoorAction::Close);
    // Stores keep microseconds: allow for the rounding.
    let slack = Duration::from_millis(1);
    assert!(
        before + HOUR - slack <= pending.at && pending.at <= after + HOUR + slack,
        "{pending:?}"
    );
    assert_eq!(pending.not_made, None);
    close(&store, id).await;
    assert_eq!(store.pending(&id).await.unwrap(), None, "cleared");
    assert!(store.pending(&404).await.is_err(), "no such room");
}

async fn a_deadline_set_at_runtime_replaces_the_declared_one<St: Rooms>(store: St, _: St) {
    assert_eq!(
        Deadline::of(Door::Closed, DoorAction::Close, HOUR),
        Err(InvalidDeadline::NotAMove {
            state: "closed",
            action: "close"
        })
    );
    assert_eq!(
        Deadline::of(Door::Open, DoorAction::Close, Duration::from_millis(10)),
        Err(InvalidDeadline::UnderASecond)
    );
    // A ten-second window, and a deadline where none is declared.
    let store = store
        .with(Deadline::of(Door::Open, DoorAction::Close, Duration::from_secs(10)).unwrap())
        .with(Deadline::of(Door::Locked, DoorAction::Unlock, Duration::from_mins(1)).unwrap());
    assert_eq!(store.schedule().len(), 2);
    let id = *store.create(room("hall")).await.unwrap().id();
    let before = SystemTime::now();
    open(&store, id).await;
    let pending = store.pending(&id).await.unwrap().expect("open has one");
    let slack = Duration::from_millis(1);
    assert!(
        pending.at >= before + Duration::from_secs(10) - slack
            && pending.at < before + Duration::from_mins(1),
        "{pending:?}"
    );
    close(&store, id).await;
    store
        .apply(&id, Change::new(Move::Action(DoorAction::Lock)))
        .await
        .unwrap();
    let pending = store
        .pending(&id)
        .await
        .unwrap()
        .expect("locked has one now");
    assert_eq!(pending.action, DoorAction::Unlock);
    let clock = ManualClock::new();
    clock.advance(Duration::from_secs(61));
    assert_eq!(scheduler(&store, &clock).run_due().await.unwrap(), 1);
    assert_eq!(store.get(&id).await.unwrap().value().door, Door::Closed);
}

async fn a_due_deadline_is_made_once_as_an_ordinary_move<St: Rooms>(store: St, _: St) {
    let id = *store.create(room("hall")).await.unwrap().id();
    open(&store, id).await;
    // The clock starts after the opening: due in an hour from about now.
    let clock = ManualClock::new();
    let scheduler = scheduler(&store, &clock);
    let start = store.latest().await.unwrap();
    assert_eq!(scheduler.run_due().await.unwrap(), 0, "not yet due");
    clock.advance(Duration::from_secs(3599));
    assert_eq!(scheduler.run_due().await.unwrap(), 0, "a second early");
    clock.advance(Duration::from_secs(2));
    assert_eq!(scheduler.run_due().await.unwrap(), 1);
    assert_eq!(store.get(&id).await.unwrap().value().door, Door::Closed);
    assert_eq!(closes(&store, id).await, [(3, Some("deadline".to_owned()))]);
    assert_eq!(store.pending(&id).await.unwrap(), None);
    assert_eq!(scheduler.run_due().await.unwrap(), 0, "made once");
    // An event like any move's, for durable handlers and streams.
    let events = events_after(&store, start, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].entry.action, Some(DoorAction::Close));
    assert_eq!(events[0].entry.note.actor.as_deref(), Some("deadline"));
}

async fn a_move_in_between_cancels_the_deadline<St: Rooms>(store: St, _: St) {
    let clock = ManualClock::new();
    let id = *store.create(room("hall")).await.unwrap().id();
    open(&store, id).await;
    // A scheduler claims the deadline set at version 2...
    clock.advance(HOUR + Duration::from_secs(1));
    let claimed = store
        .claim_due(clock.now(), 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].version), (id, 2));
    // ...while the door is closed and opened again by hand.
    close(&store, id).await;
    open(&store, id).await;
    // Done with the old claim: the new deadline (version 4) stays.
    store
        .settle_due(&claimed[0], conflict_runtime::moves::DueSettled::Done)
        .await
        .unwrap();
    let pending = store.pending(&id).await.unwrap().expect("the new deadline");
    assert!(
        pending.at > claimed[0].at,
        "due an hour after the reopening"
    );
    // Making the old deadline's move now is refused: version 2 is gone.
    let stale = Engine::new(store.clone(), Rules::new())
        .perform(
            &conflict_runtime::moves::Anonymous,
            conflict_runtime::moves::MoveSpec::action(id, DoorAction::Close).expecting(
                conflict_runtime::store::Expected::OneOf(vec![claimed[0].version]),
            ),
        )
        .await;
    assert!(stale.is_err());
    assert_eq!(closes(&store, id).await, [(3, None)], "closed by hand only");
}

async fn two_schedulers_make_each_of_many_deadlines_once<St: Rooms>(first: St, second: St) {
    const ROOMS: usize = 1000;
    let mut ids = Vec::with_capacity(ROOMS);
    for n in 0..ROOMS {
        let id = *first.create(room(&format!("r{n}"))).await.unwrap().id();
        open(&first, id).await;
        ids.push(id);
    }
    // Every tenth is closed by hand just before its deadline.
    for id in ids.iter().step_by(10) {
        close(&second, *id).await;
    }
    // Now: every deadline is due within the hour and a second from here.
    let clock = ManualClock::new();
    clock.advance(HOUR + Duration::from_secs(1));
    let schedulers = [scheduler(&first, &clock), scheduler(&second, &clock)];
    let runs: Vec<_> = schedulers
        .iter()
        .map(|scheduler| {
            let scheduler = scheduler.clone().batch(50);
            tokio::spawn(async move { scheduler.run_due().await.unwrap() })
        })
        .collect();
    let mut made = Vec::new();
    for run in runs {
        made.push(run.await.unwrap());
    }
    assert_eq!(made.iter().sum::<usize>(), ROOMS - ROOMS / 10, "{made:?}");
    eprintln!(
        "made by the first scheduler: {}, by the second: {}",
        made[0], made[1]
    );
    for (n, id) in ids.iter().enumerate() {
        let closes = closes(&first, *id).await;
        let expected_actor = if n % 10 == 0 {
            None
        } else {
            Some("deadline".to_owned())
        };
        assert_eq!(closes, [(3, expected_actor)], "room {id}");
    }
    assert_eq!(first.next_due().await.unwrap(), None, "nothing left");
}

async fn a_blocked_deadline_records_why_and_waits_its_backoff<St: Rooms>(store: St, _: St) {
    let stuck = Arc::new(AtomicBool::new(true));
    let rules = Rules::new().guard(DoorAction::Close, {
        let stuck = Arc::clone(&stuck);
        move |_: &Room| {
            if stuck.load(Ordering::SeqCst) {
                Err(Blocker::new("jammed", "the door is jammed"))
            } else {
                Ok(())
            }
        }
    });
    let id = *store.create(room("hall")).await.unwrap().id();
    open(&store, id).await;
    let clock = ManualClock::new();
    let scheduler = Scheduler::new(Engine::new(store.clone(), rules))
        .clock(clock.clone())
        .backoff(Retry {
            attempts: u32::MAX,
            first: Duration::from_mins(1),
            max: Duration::from_mins(10),
        });
    clock.advance(HOUR + Duration::from_secs(1));
    assert_eq!(scheduler.run_due().await.unwrap(), 0, "blocked");
    let pending = store.pending(&id).await.unwrap().expect("still pending");
    assert_eq!(
        pending.not_made.as_deref(),
        Some("jammed: the door is jammed")
    );
    // Not tried again before its backoff: no tight loop.
    stuck.store(false, Ordering::SeqCst);
    assert_eq!(scheduler.run_due().await.unwrap(), 0, "waits");
    assert_eq!(store.get(&id).await.unwrap().value().door, Door::Open);
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        scheduler.run_due().await.unwrap(),
        1,
        "tried after the backoff"
    );
    assert_eq!(store.get(&id).await.unwrap().value().door, Door::Closed);
}

async fn missed_deadlines_are_made_at_start_in_due_order<St: Rooms>(store: St, _: St) {
    let clock = ManualClock::new();
    // Other tests move rooms in the same database at the same time, and an
    // event gets its place once every older transaction is over: read from
    // before this test's first move, and only this test's rooms.
    let before = store.latest().await.unwrap();
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let id = *store.create(room(name)).await.unwrap().id();
        open(&store, id).await;
        ids.push(id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Every scheduler was down when they were due.
    clock.advance(2 * HOUR);
    let running = scheduler(&store, &clock).start();
    let mut closed = HashSet::new();
    for _ in 0..6000 {
        for id in &ids {
            if store.get(id).await.unwrap().value().door == Door::Closed {
                closed.insert(*id);
            }
        }
        if closed.len() == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.shutdown().await;
    assert_eq!(closed.len(), ids.len(), "every missed deadline made");
    let due_order: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let mut order = Vec::new();
    for _ in 0..6000 {
        order = store
            .events(before, 100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.entry.to == Door::Closed && due_order.contains(&event.id))
            .map(|event| event.id)
            .collect();
        if order.len() == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(order, due_order);
}

async fn a_deadline_read_from_the_resource_is_set_with_the_move<St: Rooms>(store: St, _: St) {
    assert_eq!(
        store
            .clone()
            .closing_at(Door::Closed, DoorAction::Close)
            .err(),
        Some(InvalidDeadline::NotAMove {
            state: "closed",
            action: "close"
        })
    );
    let store = store.closing_at(Door::Open, DoorAction::Close).unwrap();
    assert!(store.reads_due_times());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let in_90s = i64::try_from(now + 90).unwrap();
    let timed = |name: &str| Room {
        closes_at: Some(in_90s),
        ..room(name)
    };
    let due = closes_at(&timed("")).unwrap();

    // Created closed: no deadline until the door opens, then the room's own.
    let hall = *store.create(timed("hall")).await.unwrap().id();
    assert_eq!(store.pending(&hall).await.unwrap(), None);
    open(&store, hall).await;
    let pending = store.pending(&hall).await.unwrap().expect("the room's own");
    assert_eq!((pending.action, pending.at), (DoorAction::Close, due));
    // A room that names no time has no deadline: the declared hour is replaced.
    let attic = *store.create(room("attic")).await.unwrap().id();
    open(&store, attic).await;
    assert_eq!(store.pending(&attic).await.unwrap(), None);
    // Created open, by the store's id or by one chosen: due from the start.
    let open_now = || Room {
        door: Door::Open,
        ..timed("porch")
    };
    let porch = *store.create(open_now()).await.unwrap().id();
    assert_eq!(
        store.pending(&porch).await.unwrap().map(|p| p.at),
        Some(due)
    );
    store.insert(9_000, open_now()).await.unwrap();
    assert_eq!(
        store.pending(&9_000).await.unwrap().map(|p| p.at),
        Some(due)
    );
    // Moved together, each from its own data.
    let cellar = *store.create(timed("cellar")).await.unwrap().id();
    let shed = *store.create(room("shed")).await.unwrap().id();
    let change = Change::new(Move::Action(DoorAction::Open));
    let moved = store
        .apply_each(vec![(cellar, change.clone()), (shed, change)])
        .await;
    assert!(moved.iter().all(Result::is_ok), "{moved:?}");
    assert_eq!(
        store.pending(&cellar).await.unwrap().map(|p| p.at),
        Some(due)
    );
    assert_eq!(store.pending(&shed).await.unwrap(), None);

    // Made when the room says, as an ordinary move.
    let clock = ManualClock::new();
    let early = due - Duration::from_secs(1);
    clock.advance(early.duration_since(clock.now()).unwrap());
    assert_eq!(scheduler(&store, &clock).run_due().await.unwrap(), 0);
    clock.advance(Duration::from_secs(2));
    assert_eq!(scheduler(&store, &clock).run_due().await.unwrap(), 4);
    for id in [hall, porch, 9_000, cellar] {
        assert_eq!(store.get(&id).await.unwrap().value().door, Door::Closed);
        assert_eq!(store.pending(&id).await.unwrap(), None);
    }
    assert_eq!(
        closes(&store, hall).await,
        [(3, Some("deadline".to_owned()))]
    );
    assert_eq!(store.get(&attic).await.unwrap().value().door, Door::Open);
}

on_every_store!(
    entering_a_state_sets_its_deadline_and_leaving_clears_it,
    a_deadline_set_at_runtime_replaces_the_declared_one,
    a_deadline_read_from_the_resource_is_set_with_the_move,
    a_due_deadline_is_made_once_as_an_ordinary_move,
    a_move_in_between_cancels_the_deadline,
    two_schedulers_make_each_of_many_deadlines_once,
    a_blocked_deadline_records_why_and_waits_its_backoff,
    missed_deadlines_are_made_at_start_in_due_order,
);

/// A deadline read from the room, moved in the caller's transaction: set
/// when the transaction commits, not when it rolls back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadline_read_from_the_resource_commits_with_the_callers_transaction() {
    let Some(backend) = support::Backend::postgres().await else {
        return;
    };
    let store = backend
        .pg_rooms()
        .await
        .with_deadline_at(Door::Open, DoorAction::Close, closes_at)
        .unwrap();
    let engine = Engine::new(store.clone(), Rules::new());
    let timed = Room {
        closes_at: Some(4_102_444_800),
        ..room("hall")
    };
    let due = closes_at(&timed);
    let id = *store.create(timed).await.unwrap().id();
    for commit in [false, true] {
        let mut transaction = store.pool().begin().await.unwrap();
        let opened = engine
            .perform_in(
                &mut transaction,
                &Anonymous,
                MoveSpec::action(id, DoorAction::Open),
            )
            .await
            .unwrap();
        if commit {
            transaction.commit().await.unwrap();
            let _ = opened.after_commit().await;
        } else {
            transaction.rollback().await.unwrap();
            drop(opened);
        }
        let pending = store.pending(&id).await.unwrap().map(|p| p.at);
        assert_eq!(pending, if commit { due } else { None });
    }
    backend.finish().await;
}
