//! Why not, and who may: guards with blockers, permissions, typed input and
//! the history, through the `orders` example on a real server.

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

#[macro_use]
mod support;

use conflict_examples::orders::Options;
use support::{Backend, Server};

async fn create(server: &Server, quantity: u32) -> u64 {
    let response = server
        .client
        .post(server.url("/orders"))
        .json(&json!({"item": "bolts", "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn post(server: &Server, path: &str) -> RequestBuilder {
    server.client.post(server.url(path))
}

fn get(server: &Server, path: &str) -> RequestBuilder {
    server.client.get(server.url(path))
}

/// The status and the body of a response, which must be JSON.
async fn answer(request: RequestBuilder) -> (u16, Value) {
    let response: Response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The body of a problem response of `status`, with its media type checked.
async fn problem(request: RequestBuilder, status: u16) -> Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), status, "{:?}", response.url());
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

fn quantity_limit(quantity: u32) -> Value {
    json!({
        "code": "quantity_limit",
        "message": "an order of more than 100 units needs a credit review before it is paid",
        "parameters": {"quantity": quantity, "limit": 100}
    })
}

async fn a_guarded_move_is_409_with_its_blockers_and_cancel_stays_allowed(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, 150).await;
    let body = problem(post(&server, &format!("/orders/{id}/pay")), 409).await;
    assert_eq!(
        body,
        json!({
            "type": "urn:conflict:problem:transition-blocked",
            "title": "Transition blocked",
            "status": 409,
            "detail": format!("cannot pay order {id} now: an order of more than 100 units needs a credit review before it is paid"),
            "instance": format!("/orders/{id}/pay"),
            "resource": "order",
            "current_state": "pending",
            "action": "pay",
            "blockers": [quantity_limit(150)],
            "allowed_next_states": ["cancelled"],
            "allowed_actions": ["cancel"]
        })
    );
    // The same guard applies to a move by target.
    let body = problem(
        server
            .client
            .patch(server.url(&format!("/orders/{id}")))
            .json(&json!({"status": "paid"})),
        409,
    )
    .await;
    assert_eq!(body["type"], "urn:conflict:problem:transition-blocked");
    assert_eq!(body["requested_state"], "paid");
    assert_eq!(body["blockers"], json!([quantity_limit(150)]));
    // Blocked moves commit nothing.
    let (status, order) = answer(get(&server, &format!("/orders/{id}"))).await;
    assert_eq!((status, &order["status"]), (200, &json!("pending")));
    assert_eq!(
        answer(get(&server, &format!("/orders/{id}/history")))
            .await
            .1,
        json!([])
    );
    // What is still allowed is allowed.
    let (status, order) = answer(post(&server, &format!("/orders/{id}/cancel"))).await;
    assert_eq!((status, &order["status"]), (200, &json!("cancelled")));
    // An illegal move says what the table forbids, not what a guard would.
    let small = create(&server, 100).await;
    assert_eq!(
        answer(post(&server, &format!("/orders/{small}/pay")))
            .await
            .0,
        200
    );
}

/// The transitions of a pending order, its deadline checked and taken out.
async fn pending_transitions(request: RequestBuilder) -> (u16, Value) {
    let (status, mut body) = answer(request).await;
    let deadline = body
        .as_object_mut()
        .and_then(|body| body.remove("deadline"))
        .expect("a pending order's deadline");
    assert_eq!(deadline["action"], "expire");
    assert!(
        deadline["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{deadline}"
    );
    (status, body)
}

async fn transitions_follow_guards_and_permissions_and_explain_blockers(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let big = create(&server, 101).await;
    let transitions =
        |id: u64, query: &str| get(&server, &format!("/orders/{id}/transitions{query}"));
    assert_eq!(
        pending_transitions(transitions(big, "")).await,
        (
            200,
            json!({
                "current_state": "pending",
                "allowed_actions": ["cancel"],
                "allowed_next_states": ["cancelled"]
            })
        )
    );
    assert_eq!(
        pending_transitions(transitions(big, "?explain=true")).await,
        (
            200,
            json!({
                "current_state": "pending",
                "allowed_actions": ["cancel"],
                "allowed_next_states": ["cancelled"],
                "moves": [
                    {"action": "pay", "to": "paid", "allowed": false, "blockers": [quantity_limit(101)]},
                    {"action": "cancel", "to": "cancelled", "allowed": true, "blockers": []}
                ]
            })
        )
    );
    assert_eq!(
        problem(transitions(big, "?explain=yes"), 400).await["detail"],
        "`explain` is `true` or `false`, not `yes`"
    );
    // `refund` is listed only to a caller who may refund, explained or not.
    let small = create(&server, 1).await;
    post(&server, &format!("/orders/{small}/pay"))
        .send()
        .await
        .unwrap();
    let (_, anonymous) = answer(transitions(small, "?explain=1")).await;
    assert_eq!(anonymous["allowed_actions"], json!(["ship", "cancel"]));
    let actions: Vec<&Value> = anonymous["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["action"])
        .collect();
    assert_eq!(actions, [&json!("ship"), &json!("cancel")]);
    let (_, staff) = answer(transitions(small, "").header("x-permissions", "orders:refund")).await;
    assert_eq!(
        staff["allowed_actions"],
        json!(["ship", "cancel", "refund"])
    );
    assert_eq!(
        staff["allowed_next_states"],
        json!(["shipped", "cancelled", "refunded"])
    );
}

async fn a_move_without_its_permission_is_403_naming_only_the_action(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, 1).await;
    // 403 whatever the state: the answer does not tell a caller who may not
    // refund whether a refund would be legal now.
    for _ in 0..2 {
        let body = problem(post(&server, &format!("/orders/{id}/refund")), 403).await;
        assert_eq!(
            body,
            json!({
                "type": "urn:conflict:problem:forbidden",
                "title": "Forbidden",
                "status": 403,
                "detail": format!("you may not refund order {id}"),
                "instance": format!("/orders/{id}/refund"),
                "resource": "order",
                "action": "refund"
            })
        );
        post(&server, &format!("/orders/{id}/pay"))
            .send()
            .await
            .unwrap();
    }
    let body = problem(
        server
            .client
            .patch(server.url(&format!("/orders/{id}")))
            .header("x-permissions", "orders:ship")
            .json(&json!({"status": "refunded"})),
        403,
    )
    .await;
    assert_eq!(body["action"], "refund");
    let (status, order) = answer(
        post(&server, &format!("/orders/{id}/refund"))
            .header("x-user", "carol")
            .header("x-permissions", "orders:ship, orders:refund"),
    )
    .await;
    assert_eq!((status, &order["status"]), (200, &json!("refunded")));
    let (_, history) = answer(get(&server, &format!("/orders/{id}/history"))).await;
    assert_eq!(history[1]["actor"], "carol");
    assert_eq!(history[1]["action"], "refund");
}

async fn ship_requires_a_valid_tracking_number(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, 1).await;
    post(&server, &format!("/orders/{id}/pay"))
        .send()
        .await
        .unwrap();
    let ship = || post(&server, &format!("/orders/{id}/ship"));
    let json_body =
        |body: &'static str| ship().header("content-type", "application/json").body(body);
    let missing = problem(ship(), 422).await;
    assert_eq!(missing["field"], "tracking_number");
    assert_eq!(
        missing["detail"],
        "`tracking_number`: missing field `tracking_number`"
    );
    assert_eq!(
        problem(json_body(r#"{"tracking_number": 7}"#), 422).await["field"],
        "tracking_number"
    );
    let invalid = problem(json_body(r#"{"tracking_number": "no spaces"}"#), 422).await;
    assert_eq!(
        (invalid["field"].clone(), invalid["detail"].clone()),
        (
            json!("tracking_number"),
            json!("`tracking_number`: may hold only letters, digits and dashes")
        )
    );
    assert_eq!(
        problem(json_body(r#"{"tracking_number": ""}"#), 422).await["detail"],
        "`tracking_number`: must be 1 to 64 characters long"
    );
    // serde would read the struct from an array; the API takes objects only.
    assert_eq!(
        problem(json_body(r#"["1Z999"]"#), 422).await["detail"],
        "expected a JSON object"
    );
    problem(json_body(r#"{"tracking_number": "#), 400).await;
    problem(
        ship().header("content-type", "text/plain").body("1Z999"),
        415,
    )
    .await;
    // None of those moved the order.
    assert_eq!(
        answer(get(&server, &format!("/orders/{id}"))).await.1["status"],
        "paid"
    );
    let (status, mut order) = answer(json_body(r#"{"tracking_number": "1Z999-AA1"}"#)).await;
    assert_eq!(status, 200);
    // The payment `pay` recorded is part of the order: when it was made varies.
    assert_eq!(order["payment"]["method"], "card");
    order["payment"]["paid_at"] = json!("<at>");
    assert_eq!(
        order,
        json!({"id": id, "status": "shipped", "item": "bolts", "quantity": 1, "tracking_number": "1Z999-AA1",
               "payment": {"method": "card", "paid_at": "<at>"}})
    );
    // Stored, not only answered.
    assert_eq!(
        answer(get(&server, &format!("/orders/{id}"))).await.1["tracking_number"],
        "1Z999-AA1"
    );
}

async fn history_records_every_committed_move_with_actor_reason_and_input(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, 3).await;
    assert_eq!(
        answer(get(&server, &format!("/orders/{id}/history"))).await,
        (200, json!([]))
    );
    post(&server, &format!("/orders/{id}/pay"))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    // Refused moves record nothing: illegal, forbidden, invalid.
    post(&server, &format!("/orders/{id}/deliver"))
        .send()
        .await
        .unwrap();
    post(&server, &format!("/orders/{id}/refund"))
        .send()
        .await
        .unwrap();
    post(&server, &format!("/orders/{id}/ship"))
        .send()
        .await
        .unwrap();
    let (status, _) = answer(
        post(&server, &format!("/orders/{id}/cancel"))
            .header("x-user", "bob")
            .json(&json!({"reason": "found a cheaper supplier"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, history) = answer(get(&server, &format!("/orders/{id}/history"))).await;
    assert_eq!(status, 200);
    let mut entries = history.as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{history}");
    for entry in &mut entries {
        let at = entry["at"].as_str().unwrap().to_owned();
        // RFC 3339, UTC, milliseconds: 2026-11-23T15:05:10.173Z
        assert_eq!(at.len(), 24, "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
        entry["at"] = json!("<at>");
    }
    assert_eq!(
        entries,
        [
            json!({"version": 2, "from": "pending", "to": "paid", "action": "pay", "at": "<at>",
                   "actor": "alice", "reason": null, "metadata": {"method": "card"}}),
            json!({"version": 3, "from": "paid", "to": "cancelled", "action": "cancel", "at": "<at>",
                   "actor": "bob", "reason": "found a cheaper supplier",
                   "metadata": {"reason": "found a cheaper supplier"}}),
        ]
    );
    // A move by target is recorded with the action that leads there.
    let other = create(&server, 1).await;
    server
        .client
        .patch(server.url(&format!("/orders/{other}")))
        .json(&json!({"status": "cancelled", "reason": "duplicate"}))
        .send()
        .await
        .unwrap();
    let (_, history) = answer(get(&server, &format!("/orders/{other}/history"))).await;
    assert_eq!(history[0]["action"], "cancel");
    assert_eq!(history[0]["reason"], "duplicate");
    let body = problem(get(&server, "/orders/424242/history"), 404).await;
    assert_eq!(body["detail"], "no order 424242 exists");
}

async fn a_reason_that_is_too_long_is_422_and_commits_nothing(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let id = create(&server, 1).await;
    let body = problem(
        post(&server, &format!("/orders/{id}/cancel")).json(&json!({"reason": "x".repeat(501)})),
        422,
    )
    .await;
    assert_eq!(body["field"], "reason");
    assert_eq!(
        answer(get(&server, &format!("/orders/{id}"))).await.1["status"],
        "pending"
    );
}

async fn nul_characters_are_422_on_every_store(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let body = problem(
        server
            .client
            .post(server.url("/orders"))
            .json(&json!({"item": "bo\u{0}lts", "quantity": 1})),
        422,
    )
    .await;
    assert_eq!(body["field"], "item");
    let id = create(&server, 1).await;
    let body = problem(
        post(&server, &format!("/orders/{id}/cancel")).json(&json!({"reason": "\u{0}"})),
        422,
    )
    .await;
    assert_eq!(body["field"], "reason");
}

/// The representation lists the moves this caller may make now, as the 409
/// and `transitions` do: guards and permissions apply, and each has its
/// `Link`.
async fn the_representation_lists_what_the_caller_may_do(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let names = |actions: &Value| -> Vec<String> {
        actions
            .as_array()
            .unwrap()
            .iter()
            .map(|action| action["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Over the credit limit: `pay` is blocked, so not offered; `expire`
    // needs a permission this caller lacks.
    let big = create(&server, 500).await;
    let response = get(&server, &format!("/orders/{big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["vary"], "x-user, x-permissions");
    let links: Vec<String> = response
        .headers()
        .get_all("link")
        .iter()
        .map(|link| link.to_str().unwrap().to_owned())
        .collect();
    let order: Value = response.json().await.unwrap();
    assert_eq!(names(&order["actions"]), ["cancel"]);
    assert_eq!(
        order["actions"][0],
        json!({
            "name": "cancel", "method": "POST", "href": format!("/orders/{big}/cancel"),
            "to": "cancelled", "input": "#/components/schemas/Cancellation"
        })
    );
    assert_eq!(
        links,
        [format!(
            "</orders/{big}/cancel>; rel=\"urn:conflict:rel:action\"; title=\"cancel\""
        )]
    );
    // The same list as `transitions` and as a refusal's.
    let (_, transitions) = answer(get(&server, &format!("/orders/{big}/transitions"))).await;
    assert_eq!(transitions["allowed_actions"], json!(["cancel"]));
    let refused = problem(post(&server, &format!("/orders/{big}/deliver")), 409).await;
    assert_eq!(refused["allowed_actions"], json!(["cancel"]));

    // With the permission, `expire` is offered too, and a small order's `pay`.
    let small = create(&server, 1).await;
    let (status, order) =
        answer(get(&server, &format!("/orders/{small}")).header("x-permissions", "orders:expire"))
            .await;
    assert_eq!(status, 200);
    assert_eq!(names(&order["actions"]), ["pay", "cancel", "expire"]);
    // A terminal order offers nothing, and says so by leaving `actions` out.
    let (status, _) = answer(post(&server, &format!("/orders/{small}/cancel"))).await;
    assert_eq!(status, 200);
    let (_, order) = answer(get(&server, &format!("/orders/{small}"))).await;
    assert_eq!(order.get("actions"), None);
}

on_every_backend!(
    the_representation_lists_what_the_caller_may_do,
    nul_characters_are_422_on_every_store,
    a_guarded_move_is_409_with_its_blockers_and_cancel_stays_allowed,
    transitions_follow_guards_and_permissions_and_explain_blockers,
    a_move_without_its_permission_is_403_naming_only_the_action,
    ship_requires_a_valid_tracking_number,
    history_records_every_committed_move_with_actor_reason_and_input,
    a_reason_that_is_too_long_is_422_and_commits_nothing,
);
