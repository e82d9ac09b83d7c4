//! The move engine called directly, with no router and no HTTP: what a job,
//! a queue consumer or an admin command sees. Built and run without the
//! `axum` feature too, so the engine cannot lean on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::moves::{
    ActionInput, Anonymous, Caller, Engine, HookError, Input, InputError, Invalid, MOVE_ATTEMPTS,
    MoveError, MoveErrorKind, MoveSpec, Rules,
};
use conflict_runtime::store::{Change, Expected, MemoryStore, Move, Resource, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "parcel")]
enum Stage {
    #[state(initial, on(pack -> Packed, cancel -> Cancelled))]
    Received,
    #[state(on(ship -> Shipped, unpack -> Received, cancel -> Cancelled))]
    Packed,
    #[state(on(deliver -> Delivered))]
    Shipped,
    #[state(terminal)]
    Delivered,
    #[state(terminal)]
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Parcel {
    stage: Stage,
    weight: u32,
    carrier: Option<String>,
}

impl Resource for Parcel {
    type State = Stage;

    fn state(&self) -> Stage {
        self.stage
    }

    fn set_state(&mut self, stage: Stage) {
        self.stage = stage;
    }
}

/// `ship`'s input: the carrier, kept on the parcel.
#[derive(Deserialize, Serialize)]
struct Shipping {
    carrier: String,
    #[serde(default)]
    note: Option<String>,
}

impl ActionInput<Parcel> for Shipping {
    fn validate(&self) -> Result<(), Invalid> {
        if self.carrier.is_empty() {
            return Err(Invalid::new("carrier", "must name a carrier"));
        }
        Ok(())
    }

    fn reason(&self) -> Option<String> {
        self.note.clone()
    }

    fn edit(&self, parcel: &mut Parcel) {
        parcel.carrier = Some(self.carrier.clone());
    }
}

/// A job's identity, with the permissions it was given.
struct Job(&'static [&'static str]);

impl Caller for Job {
    fn actor(&self) -> Option<&str> {
        Some("nightly-job")
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.0.contains(&permission)
    }
}

const CANCEL: &str = "parcels:cancel";

fn parcel(weight: u32) -> Parcel {
    Parcel {
        stage: Stage::Received,
        weight,
        carrier: None,
    }
}

fn heavy(parcel: &Parcel) -> Result<(), Blocker> {
    if parcel.weight > 30 {
        return Err(Blocker::new("too_heavy", "over 30 kg ships by freight").with("limit", 30));
    }
    Ok(())
}

fn rules() -> Rules<Parcel> {
    Rules::new()
        .guard(StageAction::Pack, heavy)
        .permission(StageAction::Cancel, CANCEL)
        .input::<Shipping>(StageAction::Ship)
}

fn engine() -> (MemoryStore<Parcel>, Engine<Parcel, MemoryStore<Parcel>>) {
    let parcels = MemoryStore::new();
    (parcels.clone(), Engine::new(parcels, rules()))
}

#[tokio::test]
async fn a_job_moves_a_resource_with_input_and_the_history_records_it() {
    let (parcels, engine) = engine();
    let id = *parcels.create(|_| parcel(2)).id();
    let job = Job(&[]);

    let packed = engine
        .perform(&job, MoveSpec::action(id, StageAction::Pack))
        .await
        .expect("pack");
    assert!(packed.is_committed());
    assert_eq!(packed.resource().version(), 2);

    let shipping = Input::typed(&Shipping {
        carrier: "UPS".into(),
        note: Some("first truck".into()),
    })
    .expect("serializes");
    let shipped = engine
        .perform(
            &job,
            MoveSpec::to(id, Stage::Shipped)
                .with_input(shipping)
                .expecting(Expected::OneOf(vec![2])),
        )
        .await
        .expect("ship by target");
    assert_eq!(shipped.resource().value().carrier.as_deref(), Some("UPS"));
    assert_eq!(shipped.resource().value().stage, Stage::Shipped);

    // A move to where the parcel is commits nothing, and its input is
    // checked all the same.
    let without_input = engine
        .perform(&job, MoveSpec::to(id, Stage::Shipped))
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(without_input.kind(), MoveErrorKind::InvalidInput);
    let again = engine
        .perform(
            &job,
            MoveSpec::to(id, Stage::Shipped)
                .with_input(Input::Value(serde_json::json!({"carrier": "UPS"}))),
        )
        .await
        .expect("no-op");
    assert!(!again.is_committed());
    assert_eq!(again.resource().version(), 3);

    let history = parcels.history(&id).await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1].from, history[1].to, history[1].action),
        (Stage::Packed, Stage::Shipped, Some(StageAction::Ship)),
        "a move by target is recorded under the action that leads there"
    );
    assert_eq!(history[1].note.actor.as_deref(), Some("nightly-job"));
    assert_eq!(history[1].note.reason.as_deref(), Some("first truck"));
    assert_eq!(
        history[1].note.metadata,
        Some(serde_json::json!({"carrier": "UPS", "note": "first truck"}))
    );
}

#[tokio::test]
async fn every_refusal_is_a_domain_error_in_the_order_of_the_checks() {
    let (parcels, engine) = engine();
    let light = *parcels.create(|_| parcel(2)).id();
    let big = *parcels.create(|_| parcel(50)).id();
    let job = Job(&[]);
    let kind = |result: Result<_, MoveError<Stage>>| result.map(drop).unwrap_err();

    let missing = kind(
        engine
            .perform(&job, MoveSpec::action(99, StageAction::Pack))
            .await,
    );
    assert!(matches!(missing, MoveError::NotFound));

    // The permission comes before any state check: a delivered parcel
    // would refuse `cancel` too, but the caller learns only that it may not.
    let forbidden = kind(
        engine
            .perform(&job, MoveSpec::action(light, StageAction::Cancel))
            .await,
    );
    assert!(matches!(
        forbidden,
        MoveError::Forbidden {
            action: StageAction::Cancel
        }
    ));

    let required = kind(
        engine
            .perform(
                &job,
                MoveSpec::action(light, StageAction::Pack).require_expected(),
            )
            .await,
    );
    assert!(matches!(
        required,
        MoveError::PreconditionRequired { version: 1 }
    ));

    let stale = kind(
        engine
            .perform(
                &job,
                MoveSpec::action(light, StageAction::Pack).expecting(Expected::OneOf(vec![7])),
            )
            .await,
    );
    assert!(matches!(
        stale,
        MoveError::PreconditionFailed {
            version: 1,
            state: Stage::Received
        }
    ));

    // Illegal from `received`; the caller is told what it may do instead:
    // `pack` (allowed), not `cancel` (it lacks the permission).
    let illegal = kind(
        engine
            .perform(&job, MoveSpec::action(light, StageAction::Deliver))
            .await,
    );
    let MoveError::Illegal { refused, allowed } = illegal else {
        panic!("expected an illegal move, got {illegal:?}");
    };
    assert_eq!(refused.current(), Stage::Received);
    assert_eq!(allowed.actions(), [StageAction::Pack]);
    assert_eq!(allowed.states(), [Stage::Packed]);

    let blocked = kind(
        engine
            .perform(&job, MoveSpec::action(big, StageAction::Pack))
            .await,
    );
    let MoveError::Blocked {
        blockers, allowed, ..
    } = blocked
    else {
        panic!("expected a blocked move, got {blocked:?}");
    };
    assert_eq!(blockers[0].code(), "too_heavy");
    assert!(
        allowed.actions().is_empty(),
        "pack is blocked, cancel not permitted"
    );
    assert!(parcels.history(&light).await.expect("history").is_empty());
}

#[tokio::test]
async fn input_is_refused_only_by_actions_that_read_it() {
    let (parcels, engine) = engine();
    let light = *parcels.create(|_| parcel(2)).id();
    let job = Job(&[]);
    let kind = |result: Result<_, MoveError<Stage>>| result.map(drop).unwrap_err();
    let _ = engine
        .perform(&job, MoveSpec::action(light, StageAction::Pack))
        .await
        .expect("pack");
    let syntax = kind(
        engine
            .perform(
                &job,
                MoveSpec::action(light, StageAction::Ship).with_input(Input::Json("{".into())),
            )
            .await,
    );
    assert_eq!(syntax.kind(), MoveErrorKind::MalformedInput);
    let invalid = kind(
        engine
            .perform(
                &job,
                MoveSpec::action(light, StageAction::Ship)
                    .with_input(Input::Value(serde_json::json!({"carrier": ""}))),
            )
            .await,
    );
    let MoveError::Input(InputError::Invalid(invalid)) = invalid else {
        panic!("expected invalid input, got {invalid:?}");
    };
    assert_eq!(invalid.field(), "carrier");
    // A move with input that cannot be read is refused only when the
    // action reads input: `unpack` takes none.
    let unreadable = Input::Unreadable(InputError::Unsupported("send JSON".into()));
    let _ = engine
        .perform(
            &job,
            MoveSpec::action(light, StageAction::Unpack).with_input(unreadable),
        )
        .await
        .expect("unpack ignores its input");
    assert_eq!(
        parcels.history(&light).await.expect("history").len(),
        2,
        "refusals record nothing"
    );
}

#[tokio::test]
async fn a_resource_that_changes_under_every_decision_is_contended() {
    let parcels = MemoryStore::<Parcel>::new();
    let id = *parcels.create(|_| parcel(2)).id();
    let decisions = Arc::new(AtomicUsize::new(0));
    let (store, count) = (parcels.clone(), Arc::clone(&decisions));
    // The guard moves the parcel there and back while it decides, so the
    // version it decided on is gone by the time the move commits.
    let rules = Rules::new().guard_async(StageAction::Cancel, move |_| {
        let (store, count) = (store.clone(), Arc::clone(&count));
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            for action in [StageAction::Pack, StageAction::Unpack] {
                store
                    .apply(&id, Change::new(Move::Action(action)))
                    .await
                    .expect("a move beside the decision");
            }
            Ok::<(), Blocker>(())
        }
    });
    let engine = Engine::new(parcels.clone(), rules);
    let contended = engine
        .perform(&Anonymous, MoveSpec::action(id, StageAction::Cancel))
        .await
        .map(drop)
        .unwrap_err();
    assert!(matches!(contended, MoveError::Contended { attempts } if attempts == MOVE_ATTEMPTS));
    assert_eq!(
        decisions.load(Ordering::SeqCst),
        usize::try_from(MOVE_ATTEMPTS).expect("small")
    );
    assert_eq!(
        parcels.get(&id).await.expect("get").value().stage,
        Stage::Received
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_jobs_exactly_one_wins_and_its_hooks_run_once() {
    let parcels = MemoryStore::<Parcel>::new();
    let id = *parcels.create(|_| parcel(2)).id();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let engine = Engine::new(
        parcels.clone(),
        Rules::new().on_enter(Stage::Packed, "count", move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        }),
    );
    let racers: Vec<_> = (0..32)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .perform(&Anonymous, MoveSpec::action(id, StageAction::Pack))
                    .await
                    .map(|moved| moved.is_committed())
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.expect("the task") {
            Ok(true) => won += 1,
            Ok(false) => panic!("pack is never a no-op"),
            Err(MoveError::Illegal { refused, .. }) => assert_eq!(refused.current(), Stage::Packed),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(parcels.history(&id).await.expect("history").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_waiting_does_not_stop_the_hooks_of_its_commit() {
    let parcels = MemoryStore::<Parcel>::new();
    let id = *parcels.create(|_| parcel(2)).id();
    let gate = Arc::new(Semaphore::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let (hook_gate, counted) = (Arc::clone(&gate), Arc::clone(&runs));
    let engine = Engine::new(
        parcels.clone(),
        Rules::new()
            .after(StageAction::Pack, "slow", move |_| {
                let (gate, counted) = (Arc::clone(&hook_gate), Arc::clone(&counted));
                async move {
                    drop(gate.acquire().await.map_err(HookError::from)?);
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            })
            .after(StageAction::Pack, "failing", |_| async {
                Err(HookError::from("the warehouse is offline"))
            }),
    );
    let waiting = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .perform(&Anonymous, MoveSpec::action(id, StageAction::Pack))
                .await
        })
    };
    // The move committed and its hook is waiting; the caller gives up.
    while parcels.history(&id).await.expect("history").is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waiting.abort();
    assert!(waiting.await.expect_err("aborted").is_cancelled());
    gate.add_permits(1);
    for _ in 0..200 {
        if runs.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the hook ran without the caller"
    );

    // A caller that waits learns which hooks failed; the move stays.
    let unpacked = engine
        .perform(&Anonymous, MoveSpec::action(id, StageAction::Unpack))
        .await
        .expect("unpack");
    assert!(unpacked.failed_hooks().is_empty());
    gate.add_permits(1);
    let packed = engine
        .perform(&Anonymous, MoveSpec::action(id, StageAction::Pack))
        .await
        .expect("pack again");
    assert_eq!(packed.failed_hooks(), ["failing"]);
    assert_eq!(packed.resource().value().stage, Stage::Packed);
}
