//! Optimistic concurrency through a real server: `If-Match` races, required
//! preconditions, and `Idempotency-Key` replays.

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use conflict_examples::orders::Options;
use conflict_runtime::http::{Idempotency, MemoryKeys};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

#[macro_use]
mod support;

use support::{Backend, Server};

async fn create(client: &Client, base: &str) -> u64 {
    let response = client
        .post(format!("{base}/orders"))
        .json(&json!({"item": "lamp", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn etag(response: &reqwest::Response) -> &str {
    response.headers()["etag"].to_str().unwrap()
}

async fn racing_patches_with_one_if_match_have_one_winner_and_49_412s(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let (base, client) = (server.base.clone(), server.client.clone());
    for _ in 0..20 {
        let id = create(&client, &base).await;
        let paid = client
            .post(format!("{base}/orders/{id}/pay"))
            .send()
            .await
            .unwrap();
        let tag = etag(&paid).to_owned();
        // Each with its action's input, by a caller who may refund.
        let targets = [
            json!({"status": "shipped", "tracking_number": "1Z999AA1"}),
            json!({"status": "cancelled", "reason": "changed my mind"}),
            json!({"status": "refunded"}),
        ];
        let racers: Vec<_> = (0..50)
            .map(|i| {
                let request = client
                    .patch(format!("{base}/orders/{id}"))
                    .header("if-match", &tag)
                    .header("x-permissions", "orders:refund")
                    .json(&targets[i % 3]);
                tokio::spawn(async move {
                    let response = request.send().await.unwrap();
                    (response.status(), response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.unwrap());
        }
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "{outcomes:?}");
        let won = winners[0].1["status"].clone();
        let stale: Vec<_> = outcomes
            .iter()
            .filter(|(s, _)| *s == StatusCode::PRECONDITION_FAILED)
            .collect();
        assert_eq!(stale.len(), 49);
        for (_, body) in stale {
            assert_eq!(
                body["current_state"], won,
                "a loser sees the state that won"
            );
            assert_eq!(body["etag"], "\"3\"");
        }
    }
}

async fn a_route_can_require_if_match(backend: Backend) {
    let server = backend
        .serve(Options {
            require_if_match: true,
        })
        .await;
    let (base, client) = (server.base.clone(), server.client.clone());
    let id = create(&client, &base).await;
    let response = client
        .post(format!("{base}/orders/{id}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["detail"],
        format!("moving order {id} requires If-Match; fetch it and resend with If-Match: \"1\"")
    );
    // An unknown id is still a 404: the route and id come first.
    let response = client
        .post(format!("{base}/orders/999/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client
        .post(format!("{base}/orders/{id}/pay"))
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = client
        .post(format!("{base}/orders/{id}/ship"))
        .header("if-match", "*")
        .json(&json!({"tracking_number": "1Z999AA1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

fn keyed(request: RequestBuilder, key: &str) -> RequestBuilder {
    request.header("idempotency-key", format!("\"{key}\""))
}

async fn a_retried_key_replays_the_first_answer_before_preconditions(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let (base, client) = (server.base.clone(), server.client.clone());
    let id = create(&client, &base).await;
    let pay = || {
        keyed(
            client
                .post(format!("{base}/orders/{id}/pay"))
                .header("if-match", "\"1\""),
            "pay-1",
        )
    };
    let first = pay().send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first_body: Value = first.json().await.unwrap();
    // The retry's If-Match is stale now, and paying again would be a 409:
    // it gets the first answer instead.
    let retry = pay().send().await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    assert_eq!(etag(&retry), "\"2\"");
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    let order: Value = client
        .get(format!("{base}/orders/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "paid");

    // The same key on another request is a 422.
    let other = keyed(client.post(format!("{base}/orders/{id}/ship")), "pay-1")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["type"], "urn:conflict:problem:idempotency-key-reused");

    // Keys are per client: another client's "pay-1" is its own.
    let id2 = create(&client, &base).await;
    let mine =
        keyed(client.post(format!("{base}/orders/{id2}/pay")), "k").header("x-client-id", "alice");
    let theirs =
        keyed(client.post(format!("{base}/orders/{id2}/cancel")), "k").header("x-client-id", "bob");
    assert_eq!(mine.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(theirs.send().await.unwrap().status(), StatusCode::OK);

    // A refused move is an answer too, and is replayed as such.
    let refused = || {
        keyed(
            client
                .post(format!("{base}/orders/{id2}/ship"))
                .json(&json!({"tracking_number": "1Z999AA1"})),
            "late-ship",
        )
    };
    assert_eq!(
        refused().send().await.unwrap().status(),
        StatusCode::CONFLICT
    );
    let again = refused().send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(again.headers()["idempotency-replayed"], "true");

    let malformed = client
        .post(format!("{base}/orders/{id}/ship"))
        .header("idempotency-key", "\"\"")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_first_is_running_is_409() {
    // A slow handler keeps the first request in flight.
    let app = Router::new()
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
        .layer(Idempotency::new(MemoryKeys::default()));
    let server = Server::start(app).await;
    let (base, client) = (server.base.clone(), server.client.clone());
    let first = tokio::spawn(keyed(client.post(format!("{base}/slow")), "once").send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = keyed(client.post(format!("{base}/slow")), "once")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let body: Value = second.json().await.unwrap();
    assert_eq!(
        body["type"],
        "urn:conflict:problem:idempotency-key-in-flight"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let third = keyed(client.post(format!("{base}/slow")), "once")
        .send()
        .await
        .unwrap();
    assert_eq!(third.headers()["idempotency-replayed"], "true");
    assert_eq!(third.text().await.unwrap(), "done");
}

on_every_backend!(
    racing_patches_with_one_if_match_have_one_winner_and_49_412s,
    a_route_can_require_if_match,
    a_retried_key_replays_the_first_answer_before_preconditions,
);
