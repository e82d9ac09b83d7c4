//! The `orders` example's HTTP contract, through a real server on a loopback
//! port and a real client.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

#[macro_use]
mod support;

use conflict_examples::orders::Options;
use support::{Backend, Server};

trait Calls {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response;
    async fn create(&self, item: &str, quantity: u32) -> u64;
    async fn act(&self, id: u64, action: &str) -> Response;
    async fn patch(&self, id: u64, body: &str, headers: &[(&str, &str)]) -> Response;
}

impl Calls for Server {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        request.send().await.unwrap()
    }

    async fn create(&self, item: &str, quantity: u32) -> u64 {
        let response = self
            .send(
                Method::POST,
                "/orders",
                &JSON,
                Some(&json!({"item": item, "quantity": quantity}).to_string()),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    /// As a member of staff who may refund; `ship` with a tracking number.
    async fn act(&self, id: u64, action: &str) -> Response {
        let (headers, body) = staff_move(action);
        self.send(
            Method::POST,
            &format!("/orders/{id}/{action}"),
            &headers,
            body,
        )
        .await
    }

    async fn patch(&self, id: u64, body: &str, headers: &[(&str, &str)]) -> Response {
        let mut all = JSON.to_vec();
        all.extend_from_slice(headers);
        self.send(Method::PATCH, &format!("/orders/{id}"), &all, Some(body))
            .await
    }
}

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

/// The headers and body of `action` by staff: the identity holds
/// `orders:refund`, and `ship` carries its required tracking number.
fn staff_move(action: &str) -> ([(&'static str, &'static str); 3], Option<&'static str>) {
    let headers = [
        ("content-type", "application/json"),
        ("x-user", "staff"),
        ("x-permissions", "orders:refund"),
    ];
    let body = (action == "ship").then_some(r#"{"tracking_number": "1Z999AA1"}"#);
    (headers, body)
}

/// Asserts a problem response and returns its body.
async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "{:?}", response.url());
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    for member in ["type", "title", "detail"] {
        assert!(
            body[member].as_str().is_some_and(|s| !s.is_empty()),
            "`{member}` in {body}"
        );
    }
    body
}

fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

async fn create_answers_201_with_location_and_etag(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let body = json!({"item": "book", "quantity": 2}).to_string();
    let response = server
        .send(Method::POST, "/orders", &JSON, Some(&body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/orders/1");
    assert_eq!(etag(&response), "\"1\"");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"id": 1, "status": "pending", "item": "book", "quantity": 2})
    );
    let response = server.send(Method::GET, "/orders/1", &[], None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(etag(&response), "\"1\"");
}

async fn every_action_on_the_happy_paths(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let paths: [&[(&str, &str)]; 4] = [
        &[
            ("pay", "paid"),
            ("ship", "shipped"),
            ("deliver", "delivered"),
        ],
        &[("cancel", "cancelled")],
        &[("pay", "paid"), ("cancel", "cancelled")],
        &[("pay", "paid"), ("refund", "refunded")],
    ];
    for path in paths {
        let id = server.create("lamp", 1).await;
        for (version, (action, state)) in path.iter().enumerate() {
            let response = server.act(id, action).await;
            assert_eq!(response.status(), StatusCode::OK, "{action}");
            assert_eq!(etag(&response), format!("\"{}\"", version + 2));
            let order: Value = response.json().await.unwrap();
            assert_eq!(order["status"], *state);
            assert_eq!(order["id"], id);
        }
    }
}

async fn an_illegal_move_is_the_exact_409_body(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("lamp", 1).await;
    server.act(id, "pay").await;
    server.act(id, "ship").await;
    let body = problem(server.act(id, "cancel").await, 409).await;
    assert_eq!(
        body,
        json!({
            "type": "urn:conflict:problem:illegal-transition",
            "title": "Illegal state transition",
            "status": 409,
            "detail": format!("cannot cancel order {id}: it is shipped"),
            "instance": format!("/orders/{id}/cancel"),
            "resource": "order",
            "current_state": "shipped",
            "action": "cancel",
            "requested_state": "cancelled",
            "allowed_next_states": ["delivered"],
            "allowed_actions": ["deliver"]
        })
    );
    // The same move asked as a target state names no action.
    let body = problem(
        server.patch(id, r#"{"status": "cancelled"}"#, &[]).await,
        409,
    )
    .await;
    assert_eq!(
        body["detail"],
        format!("cannot move order {id} to cancelled: it is shipped")
    );
    assert_eq!(body["requested_state"], "cancelled");
    assert!(body.get("action").is_none());
    // A terminal state allows nothing.
    server.act(id, "deliver").await;
    let body = problem(server.act(id, "refund").await, 409).await;
    assert_eq!(body["allowed_actions"], json!([]));
    assert_eq!(body["allowed_next_states"], json!([]));
}

async fn patch_moves_by_target_state_and_a_same_state_patch_is_a_no_op(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("chair", 4).await;
    let response = server.patch(id, r#"{"status": "paid"}"#, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(etag(&response), "\"2\"");
    let response = server.patch(id, r#"{"status": "paid"}"#, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        etag(&response),
        "\"2\"",
        "a no-op does not change the version"
    );
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "paid");
    // A stale If-Match is 412 even for a move that would be a no-op.
    let body = problem(
        server
            .patch(id, r#"{"status": "paid"}"#, &[("if-match", "\"1\"")])
            .await,
        412,
    )
    .await;
    assert_eq!(body["current_state"], "paid");
}

async fn transitions_list_what_the_order_may_do_now(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("desk", 1).await;
    server.act(id, "pay").await;
    let response = server
        .send(
            Method::GET,
            &format!("/orders/{id}/transitions"),
            &[("x-permissions", "orders:refund")],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({
            "current_state": "paid",
            "allowed_actions": ["ship", "cancel", "refund"],
            "allowed_next_states": ["shipped", "cancelled", "refunded"]
        })
    );
}

async fn not_found_for_unknown_ids_actions_and_routes(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("pen", 1).await;
    for path in [
        "/orders/99",
        "/orders/abc",
        "/orders/-1",
        "/orders/99999999999999999999999",
        "/orders/99/transitions",
    ] {
        let body = problem(server.send(Method::GET, path, &[], None).await, 404).await;
        assert_eq!(body["instance"], path);
    }
    problem(server.act(99, "pay").await, 404).await;
    let body = problem(server.act(id, "teleport").await, 404).await;
    assert_eq!(
        body["known_actions"],
        json!(["pay", "cancel", "expire", "ship", "refund", "deliver"])
    );
    assert_eq!(body["type"], "urn:conflict:problem:unknown-action");
    problem(server.send(Method::GET, "/nowhere", &[], None).await, 404).await;
    problem(
        server
            .send(Method::DELETE, &format!("/orders/{id}"), &[], None)
            .await,
        405,
    )
    .await;
}

async fn bad_bodies_get_400_413_415_and_422(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("cup", 1).await;
    let order = format!("/orders/{id}");
    let patch = |body: &'static str, headers: &'static [(&'static str, &'static str)]| {
        server.send(Method::PATCH, &order, headers, Some(body))
    };
    problem(patch("{\"status\": ", &JSON).await, 400).await;
    problem(patch("{\"status\": \"paid\"}", &[]).await, 415).await;
    problem(
        patch("{\"status\": \"paid\"}", &[("content-type", "text/plain")]).await,
        415,
    )
    .await;
    let body = problem(patch("{\"status\": \"lost\"}", &JSON).await, 422).await;
    assert_eq!(
        body["known_states"],
        json!([
            "pending",
            "paid",
            "shipped",
            "delivered",
            "cancelled",
            "refunded"
        ])
    );
    problem(patch("{\"status\": 3}", &JSON).await, 422).await;
    problem(patch("[]", &JSON).await, 422).await;
    problem(patch("{}", &JSON).await, 422).await;
    let huge = format!("{{\"status\": \"{}\"}}", "x".repeat(200_000));
    // The server closes a connection whose body it refused unread; without
    // `connection: close` the client may send the next request on it.
    problem(
        server
            .send(
                Method::PATCH,
                &format!("/orders/{id}"),
                &[JSON[0], ("connection", "close")],
                Some(&huge),
            )
            .await,
        413,
    )
    .await;
    // application/*+json is JSON too
    let response = server
        .send(
            Method::PATCH,
            &format!("/orders/{id}"),
            &[("content-type", "application/merge-patch+json")],
            Some("{\"status\": \"paid\"}"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn create_validates_its_input(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let create = |body: &'static str| server.send(Method::POST, "/orders", &JSON, Some(body));
    assert_eq!(
        problem(create(r#"{"item": " ", "quantity": 1}"#).await, 422).await["field"],
        "item"
    );
    assert_eq!(
        problem(create(r#"{"item": "x", "quantity": 0}"#).await, 422).await["field"],
        "quantity"
    );
    problem(create(r#"{"item": "x", "quantity": -1}"#).await, 422).await;
    problem(create(r#"{"item": "x", "quantity": 1.5}"#).await, 422).await;
    problem(create(r#"{"item": "x"}"#).await, 422).await;
    problem(create(r#"{"item": "x", "quantity": 1"#).await, 400).await;
    problem(
        server
            .send(
                Method::POST,
                "/orders",
                &[],
                Some(r#"{"item": "x", "quantity": 1}"#),
            )
            .await,
        415,
    )
    .await;
}

async fn if_match_is_honoured_and_if_none_match_answers_304(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = server.create("hat", 1).await;
    let path = format!("/orders/{id}/pay");
    let body = problem(
        server
            .send(Method::POST, &path, &[("if-match", "\"7\"")], None)
            .await,
        412,
    )
    .await;
    assert_eq!(body["etag"], "\"1\"");
    assert_eq!(body["current_state"], "pending");
    assert_eq!(
        body["detail"],
        format!(
            "order {id} has changed: it is pending now, with ETag \"1\"; review it and resend with If-Match: \"1\""
        )
    );
    assert_eq!(body["allowed_actions"], json!(["pay", "cancel", "expire"]));
    problem(
        server
            .send(Method::POST, &path, &[("if-match", "not-a-tag")], None)
            .await,
        400,
    )
    .await;
    let response = server
        .send(Method::POST, &path, &[("if-match", "\"1\"")], None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(etag(&response), "\"2\"");

    let show = format!("/orders/{id}");
    let response = server
        .send(Method::GET, &show, &[("if-none-match", "\"2\"")], None)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&response), "\"2\"");
    let response = server
        .send(Method::GET, &show, &[("if-none-match", "W/\"1\"")], None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    problem(
        server
            .send(Method::GET, &show, &[("if-none-match", "garbage")], None)
            .await,
        400,
    )
    .await;
}

async fn racing_conflicting_moves_have_exactly_one_winner(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    for round in 0..5 {
        let id = server.create("race", 1).await;
        assert_eq!(server.act(id, "pay").await.status(), StatusCode::OK);
        let requests = (0..50).map(|i| {
            let client = server.client.clone();
            let action = if (i + round) % 2 == 0 {
                "ship"
            } else {
                "cancel"
            };
            let url = format!("{}/orders/{id}/{action}", server.base);
            let (headers, body) = staff_move(action);
            tokio::spawn(async move {
                let mut request = client.post(url);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                if let Some(body) = body {
                    request = request.body(body);
                }
                let response = request.send().await.unwrap();
                let status = response.status();
                (action, status, response.json::<Value>().await.unwrap())
            })
        });
        let mut outcomes = Vec::new();
        for request in requests.collect::<Vec<_>>() {
            outcomes.push(request.await.unwrap());
        }
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(_, status, _)| *status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let (winner, _, body) = winners[0];
        let won_state = if *winner == "ship" {
            "shipped"
        } else {
            "cancelled"
        };
        assert_eq!(body["status"], won_state);
        let conflicts = outcomes
            .iter()
            .filter(|(_, status, _)| *status == StatusCode::CONFLICT);
        for (_, _, body) in conflicts.clone() {
            assert_eq!(
                body["current_state"], won_state,
                "a loser learns the state that won"
            );
        }
        assert_eq!(conflicts.count(), 49);
        let order: Value = server
            .send(Method::GET, &format!("/orders/{id}"), &[], None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(order["status"], won_state);
    }
}

async fn put_creates_under_a_client_id_at_most_once(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let body = r#"{"item": "kettle", "quantity": 1}"#;
    let other = r#"{"item": "kettle", "quantity": 2}"#;
    let response = server
        .send(Method::PUT, "/orders/77", &JSON, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/orders/77");
    assert_eq!(response.json::<Value>().await.unwrap()["id"], 77);
    // The identical create again is a retry: 200, even when create-only.
    let response = server
        .send(Method::PUT, "/orders/77", &JSON, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let create_only = [JSON[0], ("if-none-match", "*")];
    let response = server
        .send(Method::PUT, "/orders/77", &create_only, Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Different content: 409, or 412 when the request was create-only.
    let body409 = problem(
        server
            .send(Method::PUT, "/orders/77", &JSON, Some(other))
            .await,
        409,
    )
    .await;
    assert_eq!(body409["type"], "urn:conflict:problem:already-exists");
    assert_eq!(body409["etag"], "\"1\"");
    let body412 = problem(
        server
            .send(Method::PUT, "/orders/77", &create_only, Some(other))
            .await,
        412,
    )
    .await;
    assert_eq!(body412["current_state"], "pending");
    // Server-assigned ids skip the ones clients took (memory and Postgres
    // go on from 1, SQLite from the largest id taken).
    let (first, second) = (server.create("x", 1).await, server.create("x", 1).await);
    assert!(
        first != 77 && second != 77 && first < second,
        "{first}, {second}"
    );
    problem(
        server
            .send(Method::PUT, "/orders/78", &JSON, Some(r#"{"item": ""}"#))
            .await,
        422,
    )
    .await;
}

on_every_backend!(
    create_answers_201_with_location_and_etag,
    every_action_on_the_happy_paths,
    an_illegal_move_is_the_exact_409_body,
    patch_moves_by_target_state_and_a_same_state_patch_is_a_no_op,
    transitions_list_what_the_order_may_do_now,
    not_found_for_unknown_ids_actions_and_routes,
    bad_bodies_get_400_413_415_and_422,
    create_validates_its_input,
    if_match_is_honoured_and_if_none_match_answers_304,
    racing_conflicting_moves_have_exactly_one_winner,
    put_creates_under_a_client_id_at_most_once,
);
