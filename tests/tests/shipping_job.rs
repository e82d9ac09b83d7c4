//! The `shipping` job moves orders through the same engine, rules, history
//! and hooks as the HTTP service, on the same store, with no router.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use conflict_examples::orders::{OrderStatusAction, rules};
use conflict_examples::shipping::{Outcome, run};
use conflict_runtime::moves::{Engine, MoveError};
use conflict_runtime::store::{PgStore, SqliteStore, Store};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[macro_use]
mod support;

use support::{Backend, Server};

/// Runs the job over `lines` and collects what became of each.
async fn ship<St: Store<conflict_examples::orders::Order, Id = i64>>(
    orders: St,
    lines: &[&str],
    hooks: &Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let counted = Arc::clone(hooks);
    let rules = rules().after(OrderStatusAction::Ship, "count", move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    });
    let (send, received) = mpsc::channel(8);
    let (outcomes, mut reported) = mpsc::channel(8);
    let job = tokio::spawn(run(Engine::new(orders, rules), received, outcomes));
    for line in lines {
        send.send((*line).to_owned())
            .await
            .expect("the job listens");
    }
    drop(send);
    let mut all = Vec::new();
    while let Some(outcome) = reported.recv().await {
        all.push(outcome);
    }
    job.await.expect("the job ends when its channel closes");
    all
}

async fn order(server: &Server, quantity: u32) -> i64 {
    let created: Value = server
        .client
        .post(server.url("/orders"))
        .json(&json!({"item": "lamp", "quantity": quantity}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("JSON");
    created["id"].as_i64().expect("an id")
}

async fn get(server: &Server, path: &str) -> Value {
    server
        .client
        .get(server.url(path))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON")
}

async fn the_job_and_the_service_share_moves_rules_and_history<St>(orders: St, server: Server)
where
    St: Store<conflict_examples::orders::Order, Id = i64>,
{
    let (paid, pending) = (order(&server, 1).await, order(&server, 1).await);
    let response = server
        .client
        .post(server.url(&format!("/orders/{paid}/pay")))
        .send()
        .await
        .expect("pay");
    assert_eq!(response.status(), 200);

    let hooks = Arc::new(AtomicUsize::new(0));
    let outcomes = ship(
        orders,
        &[
            &format!("ship {paid} 1Z999AA1"),
            &format!("ship {paid} 1Z999AA1"),
            &format!("ship {pending} 1Z999AA2"),
            &format!("cancel {pending} {{\"reason\": \"lost in transit\"}}"),
            &format!("ship {paid} not a number!"),
            "fly 1",
        ],
        &hooks,
    )
    .await;
    assert!(
        matches!(&outcomes[0], Outcome::Moved { id, version: 3, failed_hooks, .. } if *id == paid && failed_hooks.is_empty()),
        "{}",
        outcomes[0]
    );
    assert!(
        matches!(
            &outcomes[1],
            Outcome::Refused {
                error: MoveError::Illegal { .. },
                ..
            }
        ),
        "{}",
        outcomes[1]
    );
    assert!(
        matches!(
            &outcomes[2],
            Outcome::Refused {
                error: MoveError::Illegal { .. },
                ..
            }
        ),
        "{}",
        outcomes[2]
    );
    assert!(
        matches!(&outcomes[3], Outcome::Moved { .. }),
        "{}",
        outcomes[3]
    );
    assert!(
        matches!(
            &outcomes[4],
            Outcome::Refused {
                error: MoveError::Input(_),
                ..
            }
        ),
        "{}",
        outcomes[4]
    );
    assert!(
        matches!(&outcomes[5], Outcome::Unreadable(_)),
        "{}",
        outcomes[5]
    );
    assert_eq!(hooks.load(Ordering::SeqCst), 1, "one ship committed");

    // The service serves what the job did, with the job as the actor.
    let shipped = get(&server, &format!("/orders/{paid}")).await;
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(shipped["tracking_number"], "1Z999AA1");
    let history = get(&server, &format!("/orders/{paid}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    assert_eq!(history[1]["actor"], "shipping-job");
    assert_eq!(history[1]["action"], "ship");
    let cancelled = get(&server, &format!("/orders/{pending}/history")).await;
    assert_eq!(cancelled[0]["reason"], "lost in transit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory() {
    let orders = conflict_examples::orders::MemoryOrders::new();
    let server = Server::start(conflict_examples::orders::router(orders.clone())).await;
    the_job_and_the_service_share_moves_rules_and_history(orders, server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite() {
    let backend = Backend::sqlite().await;
    let server = backend
        .serve(conflict_examples::orders::Options::default())
        .await;
    let job_store: SqliteStore<conflict_examples::orders::Order, i64> = SqliteStore::connect(
        backend.sqlite_pool().await,
        conflict_examples::storage::orders_table(),
    )
    .await
    .expect("the orders table");
    the_job_and_the_service_share_moves_rules_and_history(job_store, server).await;
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let server = backend
        .serve(conflict_examples::orders::Options::default())
        .await;
    let job_store: PgStore<conflict_examples::orders::Order, i64> = PgStore::connect(
        backend.pool().await,
        conflict_examples::storage::orders_table(),
    )
    .await
    .expect("the orders table");
    the_job_and_the_service_share_moves_rules_and_history(job_store, server).await;
    backend.finish().await;
}
