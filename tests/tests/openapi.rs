//! The example's `/openapi.json`: an `OpenAPI` 3.1 document that lists every
//! route, and declares every status the routes answer with.

#[macro_use]
mod support;

use conflict_examples::orders::Options;
use reqwest::Method;
use serde_json::Value;
use support::{Backend, Server};

const JSON: (&str, &str) = ("content-type", "application/json");

/// A request, and the documented path it exercises.
struct Probe {
    method: &'static str,
    path: &'static str,
    documented: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
}

/// Requests that together draw every status each route can answer with.
const PROBES: &[Probe] = &[
    Probe {
        method: "POST",
        path: "/orders",
        documented: "/orders",
        headers: &[JSON],
        body: Some(r#"{"item": "lamp", "quantity": 1}"#),
    },
    Probe {
        method: "POST",
        path: "/orders",
        documented: "/orders",
        headers: &[JSON],
        body: Some(r#"{"item": "lamp", "quantity": 0}"#),
    },
    Probe {
        method: "POST",
        path: "/orders",
        documented: "/orders",
        headers: &[JSON],
        body: Some(r#"{"item": "#),
    },
    Probe {
        method: "POST",
        path: "/orders",
        documented: "/orders",
        headers: &[],
        body: Some(r#"{"item": "lamp", "quantity": 1}"#),
    },
    Probe {
        method: "GET",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[("if-none-match", "\"1\"")],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[("if-none-match", "nope")],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/999",
        documented: "/orders/{id}",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/1/transitions",
        documented: "/orders/{id}/transitions",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/x/transitions",
        documented: "/orders/{id}/transitions",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/pay",
        documented: "/orders/{id}/pay",
        headers: &[("if-match", "\"9\"")],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/pay",
        documented: "/orders/{id}/pay",
        headers: &[("if-match", "9")],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/pay",
        documented: "/orders/{id}/pay",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/pay",
        documented: "/orders/{id}/pay",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/ship",
        documented: "/orders/{id}/ship",
        headers: &[("idempotency-key", "\"k\"")],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/1/cancel",
        documented: "/orders/{id}/cancel",
        headers: &[("idempotency-key", "\"k\"")],
        body: None,
    },
    Probe {
        method: "PATCH",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"status": "delivered"}"#),
    },
    Probe {
        method: "PATCH",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"status": "lost"}"#),
    },
    Probe {
        method: "PATCH",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"status"#),
    },
    Probe {
        method: "PATCH",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[],
        body: Some(r#"{"status": "paid"}"#),
    },
    Probe {
        method: "PATCH",
        path: "/orders/1",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"status": "pending"}"#),
    },
    Probe {
        method: "PUT",
        path: "/orders/50",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"item": "cup", "quantity": 1}"#),
    },
    Probe {
        method: "PUT",
        path: "/orders/50",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"item": "cup", "quantity": 1}"#),
    },
    Probe {
        method: "PUT",
        path: "/orders/50",
        documented: "/orders/{id}",
        headers: &[JSON],
        body: Some(r#"{"item": "cup", "quantity": 2}"#),
    },
    Probe {
        method: "PUT",
        path: "/orders/50",
        documented: "/orders/{id}",
        headers: &[JSON, ("if-none-match", "*")],
        body: Some(r#"{"item": "cup", "quantity": 3}"#),
    },
    Probe {
        method: "GET",
        path: "/state-machines/order",
        documented: "/state-machines/order",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/state-machines/order?format=gif",
        documented: "/state-machines/order",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/state-machines/order",
        documented: "/state-machines/order",
        headers: &[("accept", "application/xml")],
        body: None,
    },
    // Order 2: more than the credit limit, so paying it is blocked.
    Probe {
        method: "POST",
        path: "/orders",
        documented: "/orders",
        headers: &[JSON],
        body: Some(r#"{"item": "bolts", "quantity": 500}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/2/pay",
        documented: "/orders/{id}/pay",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/2/transitions?explain=true",
        documented: "/orders/{id}/transitions",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/2/transitions?explain=maybe",
        documented: "/orders/{id}/transitions",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/2/refund",
        documented: "/orders/{id}/refund",
        headers: &[],
        body: None,
    },
    // `expire` is the deadline's: a caller needs its permission.
    Probe {
        method: "POST",
        path: "/orders/2/expire",
        documented: "/orders/{id}/expire",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/actions/expire",
        documented: "/orders/actions/expire",
        headers: &[JSON],
        body: Some(r#"{"ids": [2]}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/2/cancel",
        documented: "/orders/{id}/cancel",
        headers: &[JSON],
        body: Some(r#"{"reason": 5}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/2/cancel",
        documented: "/orders/{id}/cancel",
        headers: &[JSON],
        body: Some(r#"{"reason": "#),
    },
    Probe {
        method: "POST",
        path: "/orders/2/cancel",
        documented: "/orders/{id}/cancel",
        headers: &[JSON],
        body: Some(r#"{"reason": "too many"}"#),
    },
    Probe {
        method: "GET",
        path: "/orders/2/history",
        documented: "/orders/{id}/history",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/77/history",
        documented: "/orders/{id}/history",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/openapi.json",
        documented: "/openapi.json",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders?status=pending&limit=1",
        documented: "/orders",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders?status=lost",
        documented: "/orders",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders?after=nope",
        documented: "/orders",
        headers: &[],
        body: None,
    },
    Probe {
        method: "POST",
        path: "/orders/actions/cancel",
        documented: "/orders/actions/cancel",
        headers: &[JSON],
        body: Some(r#"{"ids": [1, 2, 99]}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/actions/refund",
        documented: "/orders/actions/refund",
        headers: &[JSON],
        body: Some(r#"{"status": ["paid"]}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/actions/ship",
        documented: "/orders/actions/ship",
        headers: &[JSON],
        body: Some(r#"{"ids": [1]}"#),
    },
    Probe {
        method: "POST",
        path: "/orders/actions/deliver",
        documented: "/orders/actions/deliver",
        headers: &[JSON],
        body: Some(r#"{"ids": "#),
    },
    // Event streams: the 200 comes with the headers, the stream stays open.
    Probe {
        method: "GET",
        path: "/orders/2/events?after=0",
        documented: "/orders/{id}/events",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/77/events",
        documented: "/orders/{id}/events",
        headers: &[],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/events",
        documented: "/orders/events",
        headers: &[("last-event-id", "nope")],
        body: None,
    },
    Probe {
        method: "GET",
        path: "/orders/events",
        documented: "/orders/events",
        headers: &[("last-event-id", "999999999")],
        body: None,
    },
];

async fn document(server: &Server) -> Value {
    let response = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn every_route_and_every_observed_status_is_documented(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    // It parses as an OpenAPI document, not just as JSON.
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(doc.clone()).expect("an OpenAPI 3.1 document");
    // One path per action, one and many: each has its own input.
    assert_eq!(parsed.paths.paths.len(), 20);
    assert_eq!(
        doc["components"]["schemas"]["OrderState"]["enum"],
        serde_json::json!([
            "pending",
            "paid",
            "shipped",
            "delivered",
            "cancelled",
            "refunded"
        ])
    );
    assert_eq!(
        doc["components"]["schemas"]["OrderAction"]["enum"],
        serde_json::json!(["pay", "cancel", "expire", "ship", "refund", "deliver"])
    );
    assert!(
        doc["components"]["schemas"]["IllegalTransitionProblem"]["properties"]["allowed_actions"]
            .is_object()
    );
    // A pending order's deadline, in its representation and its transitions.
    for schema in ["Order", "OrderTransitions"] {
        let deadline = &doc["components"]["schemas"][schema]["properties"]["deadline"];
        assert_eq!(
            deadline["properties"]["at"]["format"], "date-time",
            "{schema}"
        );
        assert_eq!(
            deadline["required"],
            serde_json::json!(["action", "at"]),
            "{schema}"
        );
    }

    let mut observed = Vec::new();
    for Probe {
        method,
        path,
        documented,
        headers,
        body,
    } in PROBES
    {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = server.client.request(method.clone(), server.url(path));
        for (name, value) in *headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(*body);
        }
        let status = request.send().await.unwrap().status().as_u16();
        let operation = &doc["paths"][*documented][method.as_str().to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {documented} is not documented"
        );
        assert!(
            operation["responses"][status.to_string()].is_object(),
            "{method} {path} answered {status}, which the document does not declare for {documented}"
        );
        observed.push(status);
    }
    observed.sort_unstable();
    observed.dedup();
    assert_eq!(
        observed,
        [200, 201, 304, 400, 403, 404, 406, 409, 410, 412, 415, 422],
        "the requests draw every status"
    );
}

on_every_backend!(every_route_and_every_observed_status_is_documented);
