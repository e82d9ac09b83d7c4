//! The `orders` example's payment window over HTTP, on every store: a
//! pending order shows its deadline in its representation and its
//! transitions; once due, the scheduler expires it as an ordinary move
//! (history actor `deadline`), and a caller without the permission may not
//! expire it early.

mod support;

use std::time::{Duration, SystemTime};

use conflict_examples::orders::{Options, deadlines, router_with};
use conflict_examples::storage::{Orders, orders_table};
use conflict_runtime::http::MemoryKeys;
use conflict_runtime::moves::ManualClock;
use conflict_runtime::store::{MemoryStore, PgStore, SqliteStore};
use serde_json::{Value, json};
use support::{Backend, Server};

async fn json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn unpaid_orders_expire_after_the_payment_window<St: Orders + Clone>(orders: St) {
    let server = Server::start(router_with(
        orders.clone(),
        MemoryKeys::default(),
        Options::default(),
    ))
    .await;
    let create = || {
        server
            .client
            .post(server.url("/orders"))
            .json(&json!({"item": "lamp", "quantity": 1}))
    };
    // The deadline is shown to the millisecond, truncated: a creation in
    // the same millisecond as this reading shows a time up to 1 ms before
    // it plus the window.
    let before = SystemTime::now() - Duration::from_millis(1);
    let (status, created) = json(create()).await;
    assert_eq!(status, 201);
    let id = created["id"].as_i64().expect("an id");

    let (_, order) = json(server.client.get(server.url(&format!("/orders/{id}")))).await;
    assert_eq!(order["deadline"]["action"], "expire");
    let at =
        humantime::parse_rfc3339(order["deadline"]["at"].as_str().expect("at")).expect("RFC 3339");
    let window = at.duration_since(before).expect("after the creation");
    assert!(
        (Duration::from_mins(30)..Duration::from_mins(31)).contains(&window),
        "{window:?}"
    );
    let (_, transitions) = json(
        server
            .client
            .get(server.url(&format!("/orders/{id}/transitions"))),
    )
    .await;
    assert_eq!(transitions["deadline"], order["deadline"]);

    // Not early by a caller without the permission.
    let (status, problem) = json(
        server
            .client
            .post(server.url(&format!("/orders/{id}/expire"))),
    )
    .await;
    assert_eq!((status, &problem["action"]), (403, &json!("expire")));

    // A paid order is not expired: paying cleared its deadline.
    let (_, paid) = json(create()).await;
    let paid = paid["id"].as_i64().expect("an id");
    let (status, _) = json(
        server
            .client
            .post(server.url(&format!("/orders/{paid}/pay"))),
    )
    .await;
    assert_eq!(status, 200);

    let clock = ManualClock::new();
    clock.advance(Duration::from_mins(31));
    let made = deadlines(orders).clock(clock).run_due().await.expect("run");
    assert_eq!(made, 1);
    let (_, order) = json(server.client.get(server.url(&format!("/orders/{id}")))).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order.get("deadline"), None);
    let (_, history) = json(
        server
            .client
            .get(server.url(&format!("/orders/{id}/history"))),
    )
    .await;
    assert_eq!(history[0]["action"], "expire");
    assert_eq!(history[0]["actor"], "deadline");
    let (_, order) = json(server.client.get(server.url(&format!("/orders/{paid}")))).await;
    assert_eq!(order["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory() {
    unpaid_orders_expire_after_the_payment_window(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let orders = PgStore::connect(backend.pool().await, orders_table())
        .await
        .expect("the orders table");
    unpaid_orders_expire_after_the_payment_window(orders).await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite() {
    let backend = Backend::sqlite().await;
    let orders = SqliteStore::connect(backend.sqlite_pool().await, orders_table())
        .await
        .expect("the orders table");
    unpaid_orders_expire_after_the_payment_window(orders).await;
    backend.finish().await;
}
