//! After-commit hooks and guard composition, on a small machine of the
//! tests' own, through a real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use conflict_runtime::StateMachine;
use conflict_runtime::guard::{Blocker, Verdict};
use conflict_runtime::http::{HOOK_FAILED, MoveRequest, Problem};
use conflict_runtime::moves::{Anonymous, HookError, Moved, Rules};
use conflict_runtime::store::{Create, MemoryStore, Resource, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[macro_use]
mod support;

use support::{Backend, Door, DoorAction, Room, Server, room};

/// How often each hook ran.
#[derive(Clone, Default)]
struct Counts {
    opened: Arc<AtomicUsize>,
    left_closed: Arc<AtomicUsize>,
    entered_locked: Arc<AtomicUsize>,
}

impl Counts {
    fn get(&self) -> [usize; 3] {
        [
            self.opened.load(Ordering::SeqCst),
            self.left_closed.load(Ordering::SeqCst),
            self.entered_locked.load(Ordering::SeqCst),
        ]
    }
}

fn counting(
    counter: &Arc<AtomicUsize>,
) -> impl Fn(conflict_runtime::moves::Committed<Room>) -> std::future::Ready<Result<(), HookError>>
+ Send
+ Sync
+ 'static {
    let counter = Arc::clone(counter);
    move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(()))
    }
}

fn hooked_rules(counts: &Counts) -> Rules<Room> {
    Rules::new()
        .after(DoorAction::Open, "count_openings", counting(&counts.opened))
        .on_leave(Door::Closed, "count_leaving", counting(&counts.left_closed))
        .on_enter(
            Door::Locked,
            "count_locking",
            counting(&counts.entered_locked),
        )
        .after(DoorAction::Lock, "alarm", |locked| async move {
            Err(HookError::from(format!(
                "the alarm of {} is offline",
                locked.resource.name
            )))
        })
        .after(DoorAction::Unlock, "buzzer", |_| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            panic!("the buzzer hook panics");
        })
}

#[derive(Clone)]
struct App<St> {
    rooms: St,
    rules: Rules<Room>,
}

async fn act<St: Store<Room, Id = i64>>(
    State(app): State<App<St>>,
    request: MoveRequest<Door, i64>,
) -> Result<Moved<i64, Room>, Problem> {
    request.apply_with(&app.rooms, &app.rules, &Anonymous).await
}

async fn serve<St: Store<Room, Id = i64>>(rooms: St, rules: Rules<Room>) -> Server {
    let app = Router::new()
        .route("/rooms/{id}/{action}", post(act::<St>))
        .with_state(App { rooms, rules });
    Server::start(app).await
}

async fn move_room(server: &Server, id: i64, action: &str) -> (u16, Option<String>, Value) {
    let response = server
        .client
        .post(server.url(&format!("/rooms/{id}/{action}")))
        .send()
        .await
        .unwrap();
    let failed = response
        .headers()
        .get(HOOK_FAILED)
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        failed,
        response.json().await.unwrap(),
    )
}

async fn hooks_run_once_per_committed_move_and_their_failures_are_surfaced<St>(rooms: St)
where
    St: Store<Room, Id = i64> + Create<Room>,
{
    let counts = Counts::default();
    let id = *rooms.create(room("hall")).await.unwrap().id();
    let server = serve(rooms.clone(), hooked_rules(&counts)).await;

    let (status, failed, body) = move_room(&server, id, "open").await;
    assert_eq!((status, failed, &body["door"]), (200, None, &json!("open")));
    assert_eq!(counts.get(), [1, 1, 0]);

    // Refused moves run no hook.
    assert_eq!(move_room(&server, id, "open").await.0, 409);
    assert_eq!(move_room(&server, id, "lock").await.0, 409);
    assert_eq!(counts.get(), [1, 1, 0]);

    assert_eq!(move_room(&server, id, "close").await.0, 200);
    // A failing hook does not undo the move; the answer names it.
    let (status, failed, body) = move_room(&server, id, "lock").await;
    assert_eq!(
        (status, failed.as_deref(), &body["door"]),
        (200, Some("alarm"), &json!("locked"))
    );
    assert_eq!(counts.get(), [1, 2, 1]);
    // Nor does a panicking one.
    let (status, failed, body) = move_room(&server, id, "unlock").await;
    assert_eq!(
        (status, failed.as_deref(), &body["door"]),
        (200, Some("buzzer"), &json!("closed"))
    );
    let stored = rooms.get(&id).await.unwrap();
    assert_eq!((stored.version(), stored.value().door), (5, Door::Closed));
    assert_eq!(rooms.history(&id).await.unwrap().len(), 4);

    // 32 racing openings: one commits, and its hooks run once.
    let racers: Vec<_> = (0..32)
        .map(|_| {
            let request = server.client.post(server.url(&format!("/rooms/{id}/open")));
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), 31);
    assert_eq!(counts.get(), [2, 3, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_in_memory() {
    hooks_run_once_per_committed_move_and_their_failures_are_surfaced(
        MemoryStore::<Room, i64>::new(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_on_postgres() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    hooks_run_once_per_committed_move_and_their_failures_are_surfaced(backend.pg_rooms().await)
        .await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooks_on_sqlite() {
    let backend = Backend::sqlite().await;
    hooks_run_once_per_committed_move_and_their_failures_are_surfaced(backend.sqlite_rooms().await)
        .await;
    backend.finish().await;
}

/// A gate with a guard on the derive, and more registered at runtime.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "gate")]
enum GateState {
    #[state(initial, on(open -> Open if Gate::is_clear))]
    Shut,
    #[state(on(shut -> Shut))]
    Open,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Gate {
    state: GateState,
    obstacles: u32,
    keeper: String,
    frozen: bool,
}

impl Gate {
    fn is_clear(&self) -> Result<(), Blocker> {
        if self.obstacles == 0 {
            return Ok(());
        }
        Err(Blocker::new("obstructed", "something is in the way").with("obstacles", self.obstacles))
    }
}

impl Resource for Gate {
    type State = GateState;

    fn state(&self) -> GateState {
        self.state
    }

    fn set_state(&mut self, state: GateState) {
        self.state = state;
    }
}

fn gate_rules() -> Rules<Gate> {
    Rules::new()
        .guard(GateStateAction::Open, |gate: &Gate| {
            if gate.keeper.is_empty() {
                return Err(vec![
                    Blocker::new("no_keeper", "nobody keeps the gate"),
                    Blocker::new("unsupervised", "opening needs a keeper present"),
                ]);
            }
            Ok(())
        })
        .guard_async(GateStateAction::Open, |gate: Gate| async move {
            // Stands for a call to another service.
            tokio::task::yield_now().await;
            let mut verdict = Verdict::allow();
            if gate.frozen {
                verdict.add(Err::<(), _>(Blocker::new(
                    "frozen",
                    "the hinges are frozen",
                )));
            }
            verdict
        })
        .guard_entering(GateState::Shut, |gate: &Gate| {
            if gate.obstacles > 0 {
                return Err(Blocker::new(
                    "would_crush",
                    "shutting would crush an obstacle",
                ));
            }
            Ok(())
        })
}

fn gate(obstacles: u32, keeper: &str, frozen: bool) -> Gate {
    Gate {
        state: GateState::Shut,
        obstacles,
        keeper: keeper.to_owned(),
        frozen,
    }
}

fn codes(verdict: &Verdict) -> Vec<&str> {
    verdict.blockers().iter().map(Blocker::code).collect()
}

#[tokio::test]
async fn guards_compose_derive_first_then_in_registration_order() {
    let rules = gate_rules();
    let open = Some(GateStateAction::Open);
    let all = rules
        .verdict(&gate(2, "", true), open, GateState::Open)
        .await;
    assert_eq!(
        codes(&all),
        ["obstructed", "no_keeper", "unsupervised", "frozen"]
    );
    assert_eq!(all.blockers()[0].parameters()["obstacles"], 2);
    let some = rules
        .verdict(&gate(0, "", false), open, GateState::Open)
        .await;
    assert_eq!(codes(&some), ["no_keeper", "unsupervised"]);
    assert!(
        rules
            .verdict(&gate(0, "ann", false), open, GateState::Open)
            .await
            .is_allowed()
    );
    // The derive's guard applies without any rules registered.
    let bare = Rules::<Gate>::new();
    assert_eq!(
        codes(
            &bare
                .verdict(&gate(1, "ann", false), open, GateState::Open)
                .await
        ),
        ["obstructed"]
    );
    // A guard on entering a state applies to every move into it.
    let mut open_gate = gate(3, "ann", false);
    open_gate.state = GateState::Open;
    assert_eq!(
        codes(
            &rules
                .verdict(&open_gate, Some(GateStateAction::Shut), GateState::Shut)
                .await
        ),
        ["would_crush"]
    );
    assert_eq!(
        codes(&rules.verdict(&open_gate, None, GateState::Shut).await),
        ["would_crush"]
    );
    let guard = &<GateState as StateMachine>::GUARDS[0];
    assert_eq!(
        (guard.from(), guard.action(), guard.name()),
        (GateState::Shut, GateStateAction::Open, "Gate::is_clear")
    );
    assert!(GateState::MERMAID.contains("Shut --> Open: open [Gate::is_clear]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_blocker_of_every_guard_is_in_the_409() {
    let gates = MemoryStore::<Gate>::new();
    let id = *gates.create(|_| gate(1, "", true)).id();
    let app = Router::new()
        .route(
            "/gates/{id}/{action}",
            post(
                |State((gates, rules)): State<(MemoryStore<Gate>, Rules<Gate>)>,
                 request: MoveRequest<GateState, u64>| async move {
                    request.apply_with(&gates, &rules, &Anonymous).await
                },
            ),
        )
        .with_state((gates, gate_rules()));
    let server = Server::start(app).await;
    let response = server
        .client
        .post(server.url(&format!("/gates/{id}/open")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "type": "urn:conflict:problem:transition-blocked",
            "title": "Transition blocked",
            "status": 409,
            "detail": format!("cannot open gate {id} now: something is in the way; nobody keeps the gate; opening needs a keeper present; the hinges are frozen"),
            "instance": format!("/gates/{id}/open"),
            "resource": "gate",
            "current_state": "shut",
            "action": "open",
            "blockers": [
                {"code": "obstructed", "message": "something is in the way", "parameters": {"obstacles": 1}},
                {"code": "no_keeper", "message": "nobody keeps the gate", "parameters": {}},
                {"code": "unsupervised", "message": "opening needs a keeper present", "parameters": {}},
                {"code": "frozen", "message": "the hinges are frozen", "parameters": {}}
            ],
            "allowed_next_states": [],
            "allowed_actions": []
        })
    );
}
