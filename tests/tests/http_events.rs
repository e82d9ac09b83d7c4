//! Committed moves as Server-Sent Events, against a real server on every
//! store: `GET /orders/events` and `GET /orders/{id}/events` in order,
//! resumable with `Last-Event-ID` without a loss or a repeat, filtered by
//! the caller's permissions; a bad resume point is a problem, not silence.

#[macro_use]
mod support;

use std::time::Duration;

use conflict_examples::orders::{MemoryOrders, Options, Order, durable, router_with};
use conflict_examples::storage::{Orders, orders_table};
use conflict_runtime::http::MemoryKeys;
use conflict_runtime::moves::Outbox;
use conflict_runtime::store::{PgStore, SqliteStore};
use reqwest::Response;
use serde_json::{Value, json};
use support::{Backend, Server};

/// One event as the stream sent it.
#[derive(Debug)]
struct Sent {
    id: u64,
    event: String,
    data: Value,
}

/// Reads a `text/event-stream` response an event at a time.
struct Stream {
    response: Response,
    text: String,
}

impl Stream {
    async fn open(server: &Server, path: &str, headers: &[(&str, &str)]) -> Stream {
        let mut request = server.client.get(server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the stream");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Stream {
            response,
            text: String::new(),
        }
    }

    /// The next event (comments skipped), within ten seconds.
    async fn next(&mut self) -> Sent {
        tokio::time::timeout(Duration::from_secs(10), self.read())
            .await
            .expect("an event within ten seconds")
    }

    async fn read(&mut self) -> Sent {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(str::to_owned)
                };
                let Some(data) = field("data: ") else {
                    continue;
                };
                return Sent {
                    id: field("id: ").expect("an id").parse().expect("a position"),
                    event: field("event: ").expect("an event name"),
                    data: serde_json::from_str(&data).expect("JSON data"),
                };
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("the stream goes on")
                .expect("the stream is open");
            self.text
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}

const STAFF: [(&str, &str); 3] = [
    ("content-type", "application/json"),
    ("x-user", "staff"),
    ("x-permissions", "orders:refund"),
];

async fn create(server: &Server) -> u64 {
    let response = server
        .client
        .post(server.url("/orders"))
        .json(&json!({"item": "book", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap()
}

async fn act(server: &Server, id: u64, action: &str) {
    let mut request = server
        .client
        .post(server.url(&format!("/orders/{id}/{action}")));
    for (name, value) in STAFF {
        request = request.header(name, value);
    }
    let body = if action == "ship" {
        json!({"tracking_number": "1Z999AA1"})
    } else {
        json!({})
    };
    let response = request.json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{action} {id}");
}

/// What the tests compare: order, version, target state.
fn seen(sent: &Sent) -> (String, u64, String) {
    (
        sent.data["id"].as_str().unwrap().to_owned(),
        sent.data["version"].as_u64().unwrap(),
        sent.data["to"].as_str().unwrap().to_owned(),
    )
}

fn moved(id: u64, version: u64, to: &str) -> (String, u64, String) {
    (id.to_string(), version, to.to_owned())
}

async fn a_client_that_resumes_misses_nothing_and_sees_nothing_twice(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let first = create(&server).await;
    // Without `Last-Event-ID`, a stream starts with what commits next.
    let mut stream = Stream::open(&server, "/orders/events", &[]).await;
    for action in ["pay", "ship", "deliver"] {
        act(&server, first, action).await;
    }
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(stream.next().await);
    }
    assert_eq!(
        before.iter().map(seen).collect::<Vec<_>>(),
        [
            moved(first, 2, "paid"),
            moved(first, 3, "shipped"),
            moved(first, 4, "delivered")
        ]
    );
    let event = &before[1];
    assert_eq!(event.event, "moved");
    assert_eq!(event.data["schema"], "conflict.event.v1");
    assert_eq!(event.data["action"], "ship");
    assert_eq!(event.data["from"], "paid");
    assert_eq!(event.data["actor"], "staff");
    assert_eq!(event.data["input"]["tracking_number"], "1Z999AA1");
    assert_eq!(event.data["position"], event.id);
    assert!(before.windows(2).all(|pair| pair[0].id < pair[1].id));

    // The client goes away after the second event; more moves commit.
    drop(stream);
    let second = create(&server).await;
    act(&server, second, "pay").await;
    act(&server, second, "cancel").await;
    let resume = before[1].id.to_string();
    let mut stream = Stream::open(&server, "/orders/events", &[("last-event-id", &resume)]).await;
    let mut after = Vec::new();
    for _ in 0..3 {
        after.push(stream.next().await);
    }
    assert_eq!(
        after.iter().map(seen).collect::<Vec<_>>(),
        [
            moved(first, 4, "delivered"),
            moved(second, 2, "paid"),
            moved(second, 3, "cancelled")
        ]
    );
    assert_eq!(after[0].id, before[2].id);
    assert!(after.windows(2).all(|pair| pair[0].id < pair[1].id));
    // Nothing more has committed: nothing more comes, then the next does.
    let third = create(&server).await;
    act(&server, third, "pay").await;
    assert_eq!(seen(&stream.next().await), moved(third, 2, "paid"));

    // One order's stream, from its start (`?after=0`): its moves only.
    let mut stream = Stream::open(&server, &format!("/orders/{second}/events?after=0"), &[]).await;
    let one = [stream.next().await, stream.next().await];
    assert_eq!(
        one.iter().map(seen).collect::<Vec<_>>(),
        [moved(second, 2, "paid"), moved(second, 3, "cancelled")]
    );
    assert_eq!(one[0].id, after[1].id);
}

async fn events_of_actions_the_caller_may_not_request_are_left_out(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let (refunded, paid) = (create(&server).await, create(&server).await);
    let mut anyone = Stream::open(&server, "/orders/events", &[]).await;
    let mut staff = Stream::open(
        &server,
        "/orders/events",
        &[("x-permissions", "orders:refund")],
    )
    .await;
    act(&server, refunded, "pay").await;
    act(&server, refunded, "refund").await;
    act(&server, paid, "pay").await;
    let anyone = [anyone.next().await, anyone.next().await];
    assert_eq!(
        anyone.iter().map(seen).collect::<Vec<_>>(),
        [moved(refunded, 2, "paid"), moved(paid, 2, "paid")]
    );
    let staff = [staff.next().await, staff.next().await, staff.next().await];
    assert_eq!(
        staff.iter().map(seen).collect::<Vec<_>>(),
        [
            moved(refunded, 2, "paid"),
            moved(refunded, 3, "refunded"),
            moved(paid, 2, "paid")
        ]
    );
}

/// Asserts a problem answer of `status` and `type`.
async fn problem(response: Response, status: u16, kind: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{:?}", response.url());
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], kind, "{body}");
    body
}

async fn a_bad_resume_point_is_a_problem(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server).await;
    let get = |path: &str, last_event_id: Option<&str>| {
        let mut request = server.client.get(server.url(path));
        if let Some(last_event_id) = last_event_id {
            request = request.header("last-event-id", last_event_id);
        }
        request.send()
    };
    for bad in ["abc", "-1", "1.5", ""] {
        let body = problem(
            get("/orders/events", Some(bad)).await.unwrap(),
            400,
            "urn:conflict:problem:malformed-request",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("Last-Event-ID"),
            "{body}"
        );
    }
    problem(
        get(&format!("/orders/{id}/events?after=x"), None)
            .await
            .unwrap(),
        400,
        "urn:conflict:problem:malformed-request",
    )
    .await;
    // A position this store never gave: the client must start afresh.
    problem(
        get("/orders/events", Some("999999999")).await.unwrap(),
        410,
        "urn:conflict:problem:gone",
    )
    .await;
    problem(
        get("/orders/999999/events", None).await.unwrap(),
        404,
        "urn:conflict:problem:not-found",
    )
    .await;
}

on_every_backend!(
    a_client_that_resumes_misses_nothing_and_sees_nothing_twice,
    events_of_actions_the_caller_may_not_request_are_left_out,
    a_bad_resume_point_is_a_problem,
);

/// Opens a stream from before `trimmed` events were trimmed: 410.
async fn resuming_before_the_retention_is_gone(server: &Server, trim: impl AsyncFnOnce()) {
    let id = create(server).await;
    let mut stream = Stream::open(server, "/orders/events", &[]).await;
    act(server, id, "pay").await;
    let paid = stream.next().await.id;
    act(server, id, "ship").await;
    act(server, id, "deliver").await;
    stream.next().await;
    let delivered = stream.next().await.id;
    trim().await;
    let response = server
        .client
        .get(server.url("/orders/events"))
        // A client that last saw the event before `pay`.
        .header("last-event-id", (paid - 1).to_string())
        .send()
        .await
        .unwrap();
    let body = problem(response, 410, "urn:conflict:problem:gone").await;
    assert!(
        body["detail"].as_str().unwrap().contains("no longer kept"),
        "{body}"
    );
    // From the latest, the stream goes on.
    let mut stream = Stream::open(
        server,
        "/orders/events",
        &[("last-event-id", &delivered.to_string())],
    )
    .await;
    let next = create(server).await;
    act(server, next, "pay").await;
    assert_eq!(seen(&stream.next().await), moved(next, 2, "paid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_events_beyond_the_capacity_are_gone() {
    let orders = MemoryOrders::with_event_capacity(2);
    let server = Server::start(router_with(
        orders,
        MemoryKeys::default(),
        Options::default(),
    ))
    .await;
    resuming_before_the_retention_is_gone(&server, async || {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_events_older_than_the_retention_are_gone() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let server = backend.serve(Options::default()).await;
    let orders: PgStore<Order, i64> = PgStore::connect(backend.pool().await, orders_table())
        .await
        .unwrap();
    resuming_before_the_retention_is_gone(&server, async || {
        orders.trim(Duration::ZERO).await.unwrap();
    })
    .await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_events_older_than_the_retention_are_gone() {
    let backend = Backend::sqlite().await;
    let server = backend.serve(Options::default()).await;
    let orders: SqliteStore<Order, i64> =
        SqliteStore::connect(backend.sqlite_pool().await, orders_table())
            .await
            .unwrap();
    resuming_before_the_retention_is_gone(&server, async || {
        orders.trim(Duration::ZERO).await.unwrap();
    })
    .await;
    backend.finish().await;
}

/// `ship` tells the customer through `notify_customer`, a durable handler:
/// one notification row per event, however often it is delivered.
async fn shipping_notifies_the_customer_once<St: Orders>(
    server: &Server,
    orders: St,
    notifications: impl AsyncFn() -> Vec<(String, String)>,
) {
    // Started before the moves, as the example starts it before serving.
    let handlers = durable(orders.clone()).start().await.unwrap();
    let id = create(server).await;
    for action in ["pay", "ship"] {
        act(server, id, action).await;
    }
    let key = format!("order:{id}:3");
    let mut notified = Vec::new();
    for _ in 0..500 {
        notified = notifications().await;
        if !notified.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handlers.shutdown().await;
    assert_eq!(
        notified,
        [(
            key.clone(),
            format!("order {id} shipped, tracking number 1Z999AA1")
        )]
    );
    // Delivered again (a crash before it was settled), it sends nothing new.
    let shipped = orders
        .events_of(&id.to_string(), 0, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|event| event.key() == key)
        .unwrap();
    orders.notify(&shipped).await.unwrap();
    assert_eq!(notifications().await.len(), 1);
    assert_eq!(durable(orders).run_once().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres_shipping_notifies_the_customer_once() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let server = backend.serve(Options::default()).await;
    let orders: PgStore<Order, i64> = PgStore::connect(backend.pool().await, orders_table())
        .await
        .unwrap();
    let pool = backend.pool().await;
    shipping_notifies_the_customer_once(&server, orders, async || {
        sqlx::query_as(NOTIFICATIONS)
            .fetch_all(&pool)
            .await
            .unwrap()
    })
    .await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_shipping_notifies_the_customer_once() {
    let backend = Backend::sqlite().await;
    let server = backend.serve(Options::default()).await;
    let orders: SqliteStore<Order, i64> =
        SqliteStore::connect(backend.sqlite_pool().await, orders_table())
            .await
            .unwrap();
    let pool = backend.sqlite_pool().await;
    shipping_notifies_the_customer_once(&server, orders, async || {
        sqlx::query_as(NOTIFICATIONS)
            .fetch_all(&pool)
            .await
            .unwrap()
    })
    .await;
    backend.finish().await;
}

const NOTIFICATIONS: &str = "SELECT event_key, message FROM notifications ORDER BY event_key";
