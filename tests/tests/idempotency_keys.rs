//! What the `Idempotency` layer promises beyond replay: an answer too large
//! to keep never turns into an error, a key store that fails to keep an
//! answer is tried again and then reported, a handler that panics lets its
//! key go.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use conflict_runtime::http::{
    Begin, Fingerprint, IDEMPOTENCY_REPLAYED, IDEMPOTENCY_UNSAVED, Idempotency, IdempotencyStore,
    KeyStoreError, MemoryKeys, ScopedKey, StoredResponse,
};

mod support;

use support::Server;

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

/// Keys in memory, except that keeping an answer always fails.
#[derive(Clone, Default)]
struct ForgetfulKeys {
    keys: MemoryKeys,
    attempts: Arc<AtomicUsize>,
}

impl IdempotencyStore for ForgetfulKeys {
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
    let keys = ForgetfulKeys::default();
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
