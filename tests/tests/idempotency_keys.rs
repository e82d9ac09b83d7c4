//! What the `Idempotency` layer promises beyond replay: an answer too large
//! to keep never turns into an error, a key store that fails to keep an
//! answer is tried again and then reported, a handler that panics lets its
//! key go.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use conflict_examples::orders::{Options, Order, router_with};
use conflict_examples::storage::orders_table;
use conflict_runtime::http::{
    Begin, Fingerprint, IDEMPOTENCY_REPLAYED, IDEMPOTENCY_UNSAVED, Idempotency, IdempotencyStore,
    KeyStoreError, MemoryKeys, PgKeys, ScopedKey, StoredResponse,
};
use conflict_runtime::store::PgStore;

mod support;

use support::{Backend, Server};

const BIG: usize = 2 * 1024 * 1024;

async fn send(server: &Server, path: &str, key: &str) -> reqwest::Response {
    server
        .client
        .post(server.url(path))
        .header("idempotency-key", key)
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn an_answer_too_large_to_keep_is_sent_whole_and_replayed_as_status_and_headers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = Router::new()
        .route(
            "/big",
            post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        [("content-type", "text/plain"), ("x-made", "once")],
                        "x".repeat(BIG),
                    )
                }
            }),
        )
        .layer(Idempotency::new(MemoryKeys::default()));
    let server = Server::start(app).await;

    let first = send(&server, "/big", "big-1").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.bytes().await.expect("body").len(), BIG);

    let replayed = send(&server, "/big", "big-1").await;
    assert_eq!(replayed.status(), 200);
    assert!(replayed.headers().contains_key(IDEMPOTENCY_REPLAYED));
    assert_eq!(replayed.headers()["x-made"], "once");
    assert!(!replayed.headers().contains_key("content-type"));
    assert!(replayed.bytes().await.expect("body").is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "handled once");
}

/// Keys in `K`, except that keeping an answer after the handler always
/// fails: what a crash between a move's commit and the layer's keeping of
/// its answer looks like.
#[derive(Clone, Default)]
struct ForgetfulKeys<K = MemoryKeys> {
    keys: K,
    attempts: Arc<AtomicUsize>,
}

impl<K: IdempotencyStore> IdempotencyStore for ForgetfulKeys<K> {
    async fn begin(&self, key: &ScopedKey, fingerprint: Fingerprint) -> Begin {
        self.keys.begin(key, fingerprint).await
    }

    async fn complete(
        &self,
        _: &ScopedKey,
        _: Fingerprint,
        _: StoredResponse,
    ) -> Result<(), KeyStoreError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Err("the disk is full".into())
    }

    async fn release(&self, key: &ScopedKey) -> Result<(), KeyStoreError> {
        self.keys.release(key).await
    }
}

#[tokio::test]
async fn a_key_store_that_cannot_keep_the_answer_is_tried_again_then_reported() {
    let keys = ForgetfulKeys::<MemoryKeys>::default();
    let app = Router::new()
        .route("/moves", post(|| async { "moved" }))
        .layer(Idempotency::new(keys.clone()));
    let server = Server::start(app).await;

    let answer = send(&server, "/moves", "unsaved-1").await;
    assert_eq!(
        answer.status(),
        200,
        "the move's answer is sent all the same"
    );
    assert_eq!(answer.headers()[IDEMPOTENCY_UNSAVED], "true");
    assert_eq!(answer.text().await.expect("body"), "moved");
    assert_eq!(keys.attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_handler_that_panics_lets_its_key_go() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = Router::new()
        .route(
            "/flaky",
            post(move || {
                let call = counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    assert!(call > 0, "the first call panics");
                    "done"
                }
            }),
        )
        .layer(Idempotency::new(MemoryKeys::default()));
    let server = Server::start(app).await;

    let failed = send(&server, "/flaky", "flaky-1").await;
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.headers()["content-type"], "application/problem+json");
    let retried = send(&server, "/flaky", "flaky-1").await;
    assert_eq!(retried.status(), 200);
    assert!(!retried.headers().contains_key(IDEMPOTENCY_REPLAYED));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// On Postgres a committed move's answer is kept in the move's own
/// transaction: even when nothing is kept after the handler (the process
/// died there), a retry on another instance replays it, and the move is not
/// applied twice. A refusal commits nothing, and is kept after the handler
/// as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_a_committed_move_keeps_its_answer_in_its_transaction() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let instance = async || {
        let pool = backend.pool().await;
        let orders: PgStore<Order, i64> = PgStore::connect(pool.clone(), orders_table())
            .await
            .expect("the orders table");
        let keys = ForgetfulKeys {
            keys: PgKeys::new(pool),
            attempts: Arc::default(),
        };
        let server = Server::start(router_with(orders, keys.clone(), Options::default())).await;
        (server, keys)
    };
    let (first, first_keys) = instance().await;
    let created: serde_json::Value = first
        .client
        .post(first.url("/orders"))
        .json(&serde_json::json!({"item": "lamp", "quantity": 1}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("the order");
    let path = format!("/orders/{}/pay", created["id"]);

    let paid = send(&first, &path, "pay-durably").await;
    assert_eq!(paid.status(), 200);
    assert!(!paid.headers().contains_key(IDEMPOTENCY_UNSAVED));
    assert_eq!(
        first_keys.attempts.load(Ordering::SeqCst),
        0,
        "kept with the move"
    );
    let etag = paid.headers()["etag"].clone();
    let body = paid.text().await.expect("body");

    let (second, _) = instance().await;
    let replayed = send(&second, &path, "pay-durably").await;
    assert_eq!(replayed.status(), 200);
    assert_eq!(replayed.headers()[IDEMPOTENCY_REPLAYED], "true");
    assert_eq!(replayed.headers()["etag"], etag);
    assert_eq!(replayed.text().await.expect("body"), body);
    let history: Vec<serde_json::Value> = second
        .client
        .get(second.url(&format!("/orders/{}/history", created["id"])))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("entries");
    assert_eq!(history.len(), 1, "paid once");

    // A refusal: kept after the handler, which fails here.
    let refused = send(&first, &path, "pay-again").await;
    assert_eq!(refused.status(), 409);
    assert_eq!(refused.headers()[IDEMPOTENCY_UNSAVED], "true");
    backend.finish().await;
}
