//! A client that hangs up mid-move does not leave the move half done: the
//! commit, its hooks and the keeping of its `Idempotency-Key` answer finish
//! without it, and its retry gets the committed answer replayed.
//!
//! Each case holds the move at one point (before the commit: an async guard
//! in memory, a row lock from a second connection in Postgres; after the
//! commit: a hook), hangs up, checks that the server dropped the request,
//! lets the move go on, and retries with the same key.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use conflict_runtime::guard::Blocker;
use conflict_runtime::http::{
    IDEMPOTENCY_REPLAYED, Idempotency, IdempotencyStore, MemoryKeys, MoveRequest, PgKeys, Problem,
};
use conflict_runtime::moves::{Anonymous, Engine, Moved, Rules};
use conflict_runtime::store::{Create, MemoryStore, Store};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[macro_use]
mod support;

use support::{Backend, Door, DoorAction, Room, Server, room};

/// Where the move waits while the client hangs up.
#[derive(Clone, Copy, Debug)]
enum Hold {
    /// In an async guard, before the commit.
    Guard,
    /// On a row lock another connection holds, before the commit.
    RowLock,
    /// In an after-commit hook.
    Hook,
}

/// What the test watches: the hook's runs, the gate the move waits at, and
/// whether the server dropped a request before it answered.
#[derive(Clone)]
struct Probe {
    hooks: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    dropped: Arc<AtomicBool>,
}

impl Probe {
    fn new() -> Self {
        Probe {
            hooks: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(Semaphore::new(0)),
            dropped: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Waits at the gate while it is closed.
    async fn pass(gate: &Semaphore) {
        drop(
            gate.acquire()
                .await
                .expect("the gate is never closed for good"),
        );
    }

    fn open(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

fn rules(probe: &Probe, hold: Hold) -> Rules<Room> {
    let (hooks, gate) = (Arc::clone(&probe.hooks), Arc::clone(&probe.gate));
    let rules = Rules::new().after(DoorAction::Open, "count", move |_| {
        let (hooks, gate) = (Arc::clone(&hooks), Arc::clone(&gate));
        async move {
            if matches!(hold, Hold::Hook) {
                Probe::pass(&gate).await;
            }
            hooks.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    if !matches!(hold, Hold::Guard) {
        return rules;
    }
    let gate = Arc::clone(&probe.gate);
    rules.guard_async(DoorAction::Open, move |_| {
        let gate = Arc::clone(&gate);
        async move {
            Probe::pass(&gate).await;
            Ok::<(), Blocker>(())
        }
    })
}

async fn act<St: Store<Room, Id = i64>>(
    State(engine): State<Engine<Room, St>>,
    request: MoveRequest<Door, i64>,
) -> Result<Moved<i64, Room>, Problem> {
    request.perform(&engine, &Anonymous).await
}

/// Sets `dropped` when the server drops a request's future before it
/// answered: the mark of a client that hung up.
async fn watch(State(probe): State<Probe>, request: Request, next: Next) -> Response {
    struct Armed(Arc<AtomicBool>, bool);
    impl Drop for Armed {
        fn drop(&mut self) {
            if self.1 {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }
    let mut armed = Armed(Arc::clone(&probe.dropped), true);
    let response = next.run(request).await;
    armed.1 = false;
    response
}

async fn serve<St, K>(rooms: St, keys: K, probe: &Probe, hold: Hold) -> Server
where
    St: Store<Room, Id = i64>,
    K: IdempotencyStore,
{
    let app = Router::new()
        .route("/rooms/{id}/{action}", post(act::<St>))
        .layer(Idempotency::new(keys))
        .layer(middleware::from_fn_with_state(probe.clone(), watch))
        .with_state(Engine::new(rooms, rules(probe, hold)));
    Server::start(app).await
}

/// Waits for `condition`, at most ten seconds.
async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Sends `POST /rooms/{id}/open` with an `Idempotency-Key` and returns the
/// open connection without reading the answer.
async fn send_and_wait(server: &Server, id: i64) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!(
        "POST /rooms/{id}/open HTTP/1.1\r\nhost: {address}\r\nidempotency-key: \"hang-up-1\"\r\ncontent-length: 0\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    stream
}

/// Retries until the first request's answer is kept (a 409 meanwhile says
/// it is still in flight), and returns the retry's answer.
async fn retry(server: &Server, id: i64) -> (u16, bool, Value) {
    for _ in 0..400 {
        let response = server
            .client
            .post(server.url(&format!("/rooms/{id}/open")))
            .header("idempotency-key", "\"hang-up-1\"")
            .send()
            .await
            .expect("retry");
        let status = response.status().as_u16();
        let replayed = response.headers().get(IDEMPOTENCY_REPLAYED).is_some();
        let body: Value = response.json().await.expect("a JSON answer");
        if body["type"] != "urn:conflict:problem:idempotency-key-in-flight" {
            return (status, replayed, body);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the first request never completed");
}

async fn a_client_that_hangs_up_gets_the_committed_answer_on_retry<St, K>(
    rooms: St,
    keys: K,
    hold: Hold,
    lock: Option<&Backend>,
) where
    St: Store<Room, Id = i64> + Create<Room>,
    K: IdempotencyStore,
{
    let probe = Probe::new();
    if matches!(hold, Hold::RowLock) {
        probe.open();
    }
    let id = *rooms.create(room("hall")).await.expect("create").id();
    let server = serve(rooms.clone(), keys, &probe, hold).await;

    // Another connection locks the row, so the move waits on it.
    let locked = match lock {
        Some(backend) => {
            let pool = backend.pool().await;
            let mut transaction = pool.begin().await.expect("begin");
            sqlx::query("SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE")
                .bind(id)
                .execute(&mut *transaction)
                .await
                .expect("lock the row");
            Some((pool, transaction))
        }
        None => None,
    };

    let connection = send_and_wait(&server, id).await;
    match (&locked, hold) {
        (Some((pool, _)), _) => {
            eventually("the move to wait on the row lock", async || {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%rooms%'",
                )
                .fetch_one(pool)
                .await
                .expect("pg_stat_activity")
                    > 0
            })
            .await;
        }
        (None, Hold::Hook) => {
            eventually("the move to commit", async || {
                rooms.history(&id).await.expect("history").len() == 1
            })
            .await;
        }
        // The guard waits at the gate: nothing to observe but time.
        (None, _) => tokio::time::sleep(Duration::from_millis(100)).await,
    }
    // The client hangs up, and the server drops its request.
    drop(connection);
    eventually("the server to drop the request", async || {
        probe.dropped.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(probe.hooks.load(Ordering::SeqCst), 0, "{hold:?}: too early");

    // The move goes on without the client.
    probe.open();
    if let Some((_, transaction)) = locked {
        transaction.commit().await.expect("release the row");
    }
    let (status, replayed, body) = retry(&server, id).await;
    assert_eq!((status, replayed), (200, true), "{hold:?}: {body}");
    assert_eq!(body["door"], "open");
    eventually("the hook to run", async || {
        probe.hooks.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        probe.hooks.load(Ordering::SeqCst),
        1,
        "{hold:?}: hooks ran once"
    );
    let history = rooms.history(&id).await.expect("history");
    assert_eq!(history.len(), 1, "{hold:?}: one committed move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_held_by_a_guard_before_the_commit() {
    a_client_that_hangs_up_gets_the_committed_answer_on_retry(
        MemoryStore::<Room, i64>::new(),
        MemoryKeys::default(),
        Hold::Guard,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_held_by_a_hook_after_the_commit() {
    a_client_that_hangs_up_gets_the_committed_answer_on_retry(
        MemoryStore::<Room, i64>::new(),
        MemoryKeys::default(),
        Hold::Hook,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_held_by_a_row_lock_before_the_commit() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let pool = backend.pool().await;
    a_client_that_hangs_up_gets_the_committed_answer_on_retry(
        backend.pg_rooms().await,
        PgKeys::new(pool),
        Hold::RowLock,
        Some(&backend),
    )
    .await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_held_by_a_hook_after_the_commit() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let pool = backend.pool().await;
    a_client_that_hangs_up_gets_the_committed_answer_on_retry(
        backend.pg_rooms().await,
        PgKeys::new(pool),
        Hold::Hook,
        None,
    )
    .await;
    backend.finish().await;
}
