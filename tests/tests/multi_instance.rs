//! Two `orders` servers on two loopback ports share one Postgres database:
//! racing moves across both have exactly one winner, and the history holds
//! only legal edges.

#[macro_use]
mod support;

use conflict_examples::orders::{Options, OrderStatus};
use conflict_runtime::store::PgPool;
use conflict_runtime::{Action, StateMachine};
use serde_json::{Value, json};
use support::{Backend, Server};

/// A paid order, then 100 racing `ship`/`cancel` spread over both servers.
/// Returns the order's id and the state that won.
async fn race(servers: &[Server; 2], round: usize) -> (i64, String) {
    let created: Value = servers[0]
        .client
        .post(servers[0].url("/orders"))
        .json(&json!({"item": "race", "quantity": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let paid = servers[1]
        .client
        .post(servers[1].url(&format!("/orders/{id}/pay")))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let racers: Vec<_> = (0..100)
        .map(|i| {
            let server = &servers[i % 2];
            let action = if (i / 2 + round).is_multiple_of(2) {
                "ship"
            } else {
                "cancel"
            };
            let mut request = server
                .client
                .post(server.url(&format!("/orders/{id}/{action}")));
            if action == "ship" {
                request = request.json(&serde_json::json!({"tracking_number": "1Z999AA1"}));
            }
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap());
    }
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(status, _)| *status == 200)
        .collect();
    assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
    let won = winners[0].1["status"].as_str().unwrap().to_owned();
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(
            body["current_state"],
            won.as_str(),
            "a loser learns the state that won"
        );
    }
    // Both instances see the winner: no lost update.
    for server in servers {
        let order: Value = server
            .client
            .get(server.url(&format!("/orders/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(order["status"], won.as_str());
    }
    (id, won)
}

/// The recorded history of order `id` is `pay` then the winner, each edge legal.
async fn assert_history(pool: &PgPool, id: i64, won: &str) {
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT version, from_state, to_state, action FROM conflict_history
          WHERE kind = 'order' AND id = $1 ORDER BY version",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
    .unwrap();
    let edges: Vec<(&str, &str)> = rows
        .iter()
        .map(|(_, from, to, _)| (from.as_str(), to.as_str()))
        .collect();
    assert_eq!(edges, [("pending", "paid"), ("paid", won)], "order {id}");
    for (version, from, to, action) in &rows {
        let from = OrderStatus::from_name(from).unwrap();
        let to = OrderStatus::from_name(to).unwrap();
        let action = action
            .as_deref()
            .and_then(<OrderStatus as StateMachine>::Action::from_name)
            .unwrap();
        assert_eq!(
            from.target(action),
            Some(to),
            "an illegal edge at version {version} of order {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_moves_across_two_instances_have_one_winner() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let servers = [
        backend.serve(Options::default()).await,
        backend.serve(Options::default()).await,
    ];
    let pool = backend.pool().await;
    for round in 0..20 {
        let (id, won) = race(&servers, round).await;
        assert_history(&pool, id, &won).await;
    }
    pool.close().await;
    backend.finish().await;
}

#[tokio::test]
async fn a_retry_on_another_instance_replays_the_first_answer() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let [a, b] = [
        backend.serve(Options::default()).await,
        backend.serve(Options::default()).await,
    ];
    let created: Value = a
        .client
        .post(a.url("/orders"))
        .json(&json!({"item": "x", "quantity": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let pay = |server: &Server| {
        server
            .client
            .post(server.url(&format!("/orders/{id}/pay")))
            .header("idempotency-key", "\"pay-once\"")
            .header("if-match", "\"1\"")
    };
    let first = pay(&a).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let retry = pay(&b).send().await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    assert_eq!(retry.headers()["etag"], "\"2\"");
    backend.finish().await;
}

#[tokio::test]
async fn database_errors_do_not_leak_into_responses() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let server = backend.serve(Options::default()).await;
    // Break the database under the running server.
    sqlx::raw_sql("DROP TABLE notifications; DROP TABLE payments; DROP TABLE orders")
        .execute(&backend.pool().await)
        .await
        .unwrap();
    let response = server
        .client
        .get(server.url("/orders/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "type": "urn:conflict:problem:internal",
            "title": "Internal server error",
            "status": 500,
            "detail": "the server failed to handle the request; it has been logged",
            "instance": "/orders/1"
        })
    );
    backend.finish().await;
}
