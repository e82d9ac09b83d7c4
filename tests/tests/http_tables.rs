//! The SQL stores over HTTP: orders listed by state a page at a time, moved
//! many at once, paid in one transaction with their payment row; a resource
//! keyed by UUID with its state in a Postgres enum column; and a move
//! inside the caller's transaction that rolls back with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use conflict_examples::orders::{Options, Order, OrderStatus, OrderStatusAction, rules};
use conflict_examples::storage::orders_table;
use conflict_runtime::http::{ListQuery, Listed, MoveRequest, Problem, ResourceId};
use conflict_runtime::moves::{Anonymous, Engine, MoveError, MoveSpec, Moved, Rules};
use conflict_runtime::store::{
    Create, Keyed, List, MemoryStore, PgStore, Resource, SqliteStore, Store, Table, Versioned,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

#[macro_use]
mod support;

use support::{Backend, Door, Server};

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create(server: &Server, item: &str) -> i64 {
    let (status, body) = send(
        server
            .client
            .post(server.url("/orders"))
            .json(&json!({"item": item, "quantity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().expect("an id")
}

async fn act(server: &Server, id: i64, action: &str) -> StatusCode {
    let request = server
        .client
        .post(server.url(&format!("/orders/{id}/{action}")));
    let request = if action == "ship" {
        request.json(&json!({"tracking_number": "1Z999"}))
    } else {
        request
    };
    send(request).await.0
}

async fn orders_are_listed_by_state_a_page_at_a_time(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let mut ids = Vec::new();
    for item in ["a", "b", "c", "d", "e"] {
        ids.push(create(&server, item).await);
    }
    for &id in &ids[1..4] {
        assert_eq!(act(&server, id, "pay").await, StatusCode::OK);
    }
    let list = |query: &str| server.client.get(server.url(&format!("/orders{query}")));
    let (status, first) = send(list("?status=paid&limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    let items: Vec<i64> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|order| order["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(items, ids[1..3]);
    assert_eq!(first["items"][0]["payment"]["method"], "card");
    let next = first["next"].as_str().expect("a next page");
    let (_, rest) = send(list(&format!("?status=paid&limit=2&after={next}"))).await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["items"][0]["id"], ids[3]);
    assert_eq!(rest["next"], Value::Null);
    let (_, both) = send(list("?status=pending&status=paid")).await;
    assert_eq!(both["items"].as_array().map(Vec::len), Some(5));
    let (_, all) = send(list("")).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(5));

    // Each bad parameter is named, none is a 500.
    for (query, status, parameter) in [
        ("?status=payed", 422, "status"),
        ("?after=42", 400, "after"),
        ("?after=c1.zz", 400, "after"),
        ("?limit=ten", 400, "limit"),
        ("?limit=0", 422, "limit"),
        ("?limit=101", 422, "limit"),
    ] {
        let (got, problem) = send(list(query)).await;
        assert_eq!(got.as_u16(), status, "{query}: {problem}");
        assert_eq!(problem["parameter"], parameter, "{query}");
    }
    let (_, unknown) = send(list("?status=payed")).await;
    assert_eq!(unknown["known_states"][1], "paid");
}

async fn many_orders_move_at_once_with_a_result_each(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let mut ids = Vec::new();
    for item in ["a", "b", "c"] {
        ids.push(create(&server, item).await);
    }
    assert_eq!(act(&server, ids[2], "pay").await, StatusCode::OK);
    assert_eq!(act(&server, ids[2], "ship").await, StatusCode::OK);
    let bulk = |action: &str, body: Value| {
        server
            .client
            .post(server.url(&format!("/orders/actions/{action}")))
            .json(&body)
    };
    let (status, answer) = send(bulk(
        "pay",
        json!({"ids": [ids[0], ids[2], 999_999, ids[1], ids[0]]}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    let summary: Vec<(i64, u64)> = results
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    // An id named twice is moved and answered once.
    assert_eq!(
        summary,
        [(ids[0], 200), (ids[2], 409), (999_999, 404), (ids[1], 200)]
    );
    assert_eq!(results[0]["resource"]["status"], "paid");
    assert_eq!(results[1]["problem"]["current_state"], "shipped");
    assert_eq!(results[1]["problem"]["allowed_actions"], json!(["deliver"]));
    assert_eq!(answer["more"], false);
    // Each moved order has its history entry.
    let (_, history) = send(
        server
            .client
            .get(server.url(&format!("/orders/{}/history", ids[1]))),
    )
    .await;
    assert_eq!(history[0]["action"], "pay");

    // By state, with the action's input: every paid order is cancelled.
    let (status, answer) = send(bulk(
        "cancel",
        json!({"status": ["paid"], "input": {"reason": "stock gone"}}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
    let (_, history) = send(
        server
            .client
            .get(server.url(&format!("/orders/{}/history", ids[0]))),
    )
    .await;
    assert_eq!(history[1]["reason"], "stock gone");

    // An action no guard, input or hook concerns moves in one statement.
    let (status, answer) = send(bulk("deliver", json!({"ids": [ids[2], ids[1]]}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["resource"]["status"], "delivered");
    assert_eq!(answer["results"][1]["status"], 409);
    assert_eq!(
        answer["results"][1]["problem"]["current_state"],
        "cancelled"
    );
    let (_, history) = send(
        server
            .client
            .get(server.url(&format!("/orders/{}/history", ids[2]))),
    )
    .await;
    assert_eq!(history[2]["action"], "deliver");

    // Refused as a whole: no permission, bad input, too many, no target.
    let (status, _) = send(bulk("refund", json!({"ids": [ids[0]]}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(bulk(
        "cancel",
        json!({"ids": [ids[0]], "input": {"reason": 5}}),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let many: Vec<i64> = (1..=1001).collect();
    let (status, problem) = send(bulk("cancel", json!({ "ids": many }))).await;
    assert_eq!(
        (status, problem["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("ids"))
    );
    let (status, _) = send(bulk("cancel", json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(bulk("fly", json!({"ids": [1]}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let huge = json!({"ids": [ids[0]], "input": {"reason": "x".repeat(70 * 1024)}});
    let (status, problem) = send(bulk("cancel", huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
}

on_every_backend!(
    orders_are_listed_by_state_a_page_at_a_time,
    many_orders_move_at_once_with_a_result_each,
    pay_records_its_payment_with_the_move,
);

/// A resource keyed by UUID, its state in a Postgres enum column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Vault {
    id: Uuid,
    name: String,
    door: Door,
}

impl Resource for Vault {
    type State = Door;

    fn state(&self) -> Door {
        self.door
    }

    fn set_state(&mut self, door: Door) {
        self.door = door;
    }
}

impl Keyed<Uuid> for Vault {
    fn set_id(&mut self, id: &Uuid) {
        self.id = *id;
    }
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Vault {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Vault {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            door: row.try_get("door")?,
        })
    }
}

fn vault_router<St>(vaults: St) -> Router
where
    St: Store<Vault, Id = Uuid> + Create<Vault> + List<Vault>,
{
    async fn create<St: Create<Vault, Id = Uuid>>(
        State(engine): State<Engine<Vault, St>>,
    ) -> Result<Versioned<Uuid, Vault>, Problem> {
        let vault = Vault {
            id: Uuid::nil(),
            name: "main".to_owned(),
            door: Door::Closed,
        };
        Ok(engine.store().create(vault).await?)
    }
    async fn show<St: Store<Vault, Id = Uuid>>(
        State(engine): State<Engine<Vault, St>>,
        id: ResourceId<Uuid, Door>,
    ) -> Result<Versioned<Uuid, Vault>, Problem> {
        id.load(engine.store()).await
    }
    async fn list<St: List<Vault, Id = Uuid>>(
        State(engine): State<Engine<Vault, St>>,
        query: ListQuery<Door, Uuid>,
    ) -> Result<Listed<Uuid, Vault>, Problem> {
        query.page(engine.store()).await
    }
    async fn act<St: Store<Vault, Id = Uuid>>(
        State(engine): State<Engine<Vault, St>>,
        request: MoveRequest<Door, Uuid>,
    ) -> Result<Moved<Uuid, Vault>, Problem> {
        request.perform(&engine, &Anonymous).await
    }
    Router::new()
        .route("/vaults", post(create::<St>).get(list::<St>))
        .route("/vaults/{id}", get(show::<St>).patch(act::<St>))
        .route("/vaults/{id}/{action}", post(act::<St>))
        .with_state(Engine::new(vaults, Rules::new()))
}

async fn a_uuid_keyed_resource_end_to_end<St>(vaults: St)
where
    St: Store<Vault, Id = Uuid> + Create<Vault> + List<Vault>,
{
    let server = Server::start(vault_router(vaults)).await;
    let (status, created) = send(server.client.post(server.url("/vaults"))).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id: Uuid = created["id"]
        .as_str()
        .expect("a uuid")
        .parse()
        .expect("a uuid");
    assert_ne!(id, Uuid::nil(), "the store chose the id");
    let (status, opened) = send(
        server
            .client
            .post(server.url(&format!("/vaults/{id}/open"))),
    )
    .await;
    assert_eq!(
        (status, opened["door"].clone()),
        (StatusCode::OK, json!("open"))
    );
    let (status, refused) = send(
        server
            .client
            .post(server.url(&format!("/vaults/{id}/lock"))),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["current_state"], "open");
    let (status, shown) = send(server.client.get(server.url(&format!("/vaults/{id}")))).await;
    assert_eq!(
        (status, shown["door"].clone()),
        (StatusCode::OK, json!("open"))
    );
    let (_, page) = send(server.client.get(server.url("/vaults?status=open"))).await;
    assert_eq!(page["items"][0]["id"], id.to_string());
    // An id that is not a UUID names nothing: 404, not 400 or 500.
    let (status, _) = send(server.client.get(server.url("/vaults/not-a-uuid"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        server
            .client
            .get(server.url(&format!("/vaults/{}", Uuid::from_u128(7)))),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uuid_keys_in_memory() {
    a_uuid_keyed_resource_end_to_end(MemoryStore::<Vault, Uuid>::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uuid_keys_and_an_enum_state_column_on_postgres() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let vaults: PgStore<Vault, Uuid> =
        PgStore::connect(backend.pool().await, Table::new("vaults").state("door"))
            .await
            .expect("the vaults table");
    a_uuid_keyed_resource_end_to_end(vaults).await;
    backend.finish().await;
}

/// A move inside the caller's transaction: with the payment row, it commits
/// or rolls back with it; the hooks run only after a commit.
macro_rules! in_the_callers_transaction {
    ($store:expr, $begin:expr, $insert:literal, $count:literal, $pool:expr) => {{
        let hooks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hooks);
        let engine = Engine::new(
            $store,
            rules().after(OrderStatusAction::Pay, "count", move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            }),
        );
        let order = engine
            .store()
            .create(Order {
                id: 0,
                status: OrderStatus::Pending,
                item: "lamp".to_owned(),
                quantity: 1,
                tracking_number: None,
                payment: None,
            })
            .await
            .expect("create");
        let id = *order.id();
        let pay = || MoveSpec::action(id, OrderStatusAction::Pay);

        // Rolled back: neither the move, its history, nor the payment stays.
        let mut transaction = $begin.await.expect("begin");
        let paid = engine
            .perform_in(&mut transaction, &Anonymous, pay())
            .await
            .expect("pay");
        assert_eq!(paid.moved().resource().value().status, OrderStatus::Paid);
        sqlx::query($insert)
            .bind(id)
            .execute(&mut *transaction)
            .await
            .expect("the payment");
        transaction.rollback().await.expect("rollback");
        drop(paid);
        let now = engine.store().get(&id).await.expect("get");
        assert_eq!(
            (now.value().status, now.version()),
            (OrderStatus::Pending, 1)
        );
        assert_eq!(engine.store().history(&id).await.expect("history"), []);
        let payments: i64 = sqlx::query_scalar($count)
            .bind(id)
            .fetch_one($pool)
            .await
            .expect("count");
        assert_eq!(payments, 0);
        assert_eq!(
            hooks.load(Ordering::SeqCst),
            0,
            "no hook for a rolled back move"
        );

        // A refusal inside the transaction leaves it usable.
        let mut transaction = $begin.await.expect("begin");
        let refused = engine
            .perform_in(
                &mut transaction,
                &Anonymous,
                MoveSpec::action(id, OrderStatusAction::Deliver),
            )
            .await;
        assert!(matches!(refused, Err(MoveError::Illegal { .. })));
        let paid = engine
            .perform_in(&mut transaction, &Anonymous, pay())
            .await
            .expect("pay");
        sqlx::query($insert)
            .bind(id)
            .execute(&mut *transaction)
            .await
            .expect("the payment");
        assert_eq!(hooks.load(Ordering::SeqCst), 0, "hooks wait for the commit");
        transaction.commit().await.expect("commit");
        let paid = paid.after_commit().await;
        assert!(paid.failed_hooks().is_empty());
        assert_eq!(hooks.load(Ordering::SeqCst), 1);
        let now = engine.store().get(&id).await.expect("get");
        assert_eq!((now.value().status, now.version()), (OrderStatus::Paid, 2));
        assert_eq!(engine.store().history(&id).await.expect("history").len(), 1);
        let payments: i64 = sqlx::query_scalar($count)
            .bind(id)
            .fetch_one($pool)
            .await
            .expect("count");
        assert_eq!(payments, 1);
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_rolls_back_with_the_callers_transaction_on_postgres() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let pool = backend.pool().await;
    let orders: PgStore<Order, i64> = PgStore::connect(pool.clone(), orders_table())
        .await
        .expect("the orders table");
    in_the_callers_transaction!(
        orders,
        pool.begin(),
        "INSERT INTO payments (order_id, method) VALUES ($1, 'card')",
        "SELECT count(*) FROM payments WHERE order_id = $1",
        &pool
    );
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_rolls_back_with_the_callers_transaction_on_sqlite() {
    let backend = Backend::sqlite().await;
    let pool = backend.sqlite_pool().await;
    let orders: SqliteStore<Order, i64> = SqliteStore::connect(pool.clone(), orders_table())
        .await
        .expect("the orders table");
    in_the_callers_transaction!(
        orders,
        pool.begin_with("BEGIN IMMEDIATE"),
        "INSERT INTO payments (order_id, method) VALUES (?1, 'card')",
        "SELECT count(*) FROM payments WHERE order_id = ?1",
        &pool
    );
    backend.finish().await;
}

/// `pay` over HTTP writes the payment row in the move's transaction, and
/// the order shows it.
async fn pay_records_its_payment_with_the_move(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, "lamp").await;
    let (status, paid) = send(
        server
            .client
            .post(server.url(&format!("/orders/{id}/pay")))
            .json(&json!({"method": "invoice"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["payment"]["method"], "invoice");
    let (_, shown) = send(server.client.get(server.url(&format!("/orders/{id}")))).await;
    assert_eq!(shown["payment"], paid["payment"]);
    let (status, _) = send(
        server
            .client
            .post(server.url(&format!("/orders/{id}/pay")))
            .json(&json!({"method": "barter"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
