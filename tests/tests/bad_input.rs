//! Hostile requests against the `orders` example, sent as raw bytes over a
//! loopback socket: every answer is the right 4xx with a problem body, none
//! is a 5xx, and the server keeps serving.

#[macro_use]
mod support;

use conflict_examples::orders::Options;
use support::{Backend, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status, headers (lower-cased) and body of the answer to `request`.
async fn send_raw(server: &Server, request: &[u8]) -> (u16, String, Vec<u8>) {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    // The server may close before reading a body it refused: that is fine.
    let _ = stream.read_to_end(&mut answer).await;
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..head_end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.get(head_end + 4..).unwrap_or_default().to_vec();
    (status, head, body)
}

fn request(method: &str, path: &[u8], headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} ").into_bytes();
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for header in headers {
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PATCH" | "PUT") {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

const JSON: &str = "content-type: application/json";

/// `(what, request, expected status)`.
#[allow(
    clippy::too_many_lines,
    reason = "a table: one row per hostile request"
)]
fn matrix() -> Vec<(&'static str, Vec<u8>, u16)> {
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let nested_object = format!(
        "{{\"status\": {}{}}}",
        "{\"a\":".repeat(3000),
        "}".repeat(3000)
    );
    let big = format!("{{\"item\": \"{}\", \"quantity\": 1}}", "x".repeat(100_000));
    let tags = (1000..3000)
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let many_tags = format!("if-match: {tags}");
    let long_action = format!("/orders/1/{}", "a".repeat(10_000));
    let key = format!("idempotency-key: \"{}\"", "k".repeat(300));
    let permissions = format!(
        "x-permissions: {}",
        (0..2000)
            .map(|i| format!("orders:p{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let long_tracking = format!("{{\"tracking_number\": \"{}\"}}", "1".repeat(50_000));
    let patch =
        |body: &str, headers: &[&str]| request("PATCH", b"/orders/1", headers, body.as_bytes());
    let create =
        |body: &str, headers: &[&str]| request("POST", b"/orders", headers, body.as_bytes());
    vec![
        ("truncated JSON", create("{\"item\": ", &[JSON]), 400),
        ("not JSON", create("item=lamp", &[JSON]), 400),
        (
            "trailing garbage",
            create("{\"item\": \"x\", \"quantity\": 1}x", &[JSON]),
            400,
        ),
        ("a bare null", create("null", &[JSON]), 422),
        ("an array", create("[1, 2]", &[JSON]), 422),
        // Deeper than the JSON parser's limit of 128: refused as it is read.
        (
            "deeply nested arrays where an order is due",
            create(&nested, &[JSON]),
            400,
        ),
        (
            "deeply nested objects in a move",
            patch(&nested_object, &[JSON]),
            400,
        ),
        (
            "quantity as a string",
            create("{\"item\": \"x\", \"quantity\": \"1\"}", &[JSON]),
            422,
        ),
        (
            "quantity too large",
            create("{\"item\": \"x\", \"quantity\": 99999999999}", &[JSON]),
            422,
        ),
        (
            "item as a number",
            create("{\"item\": 7, \"quantity\": 1}", &[JSON]),
            422,
        ),
        (
            "item null",
            create("{\"item\": null, \"quantity\": 1}", &[JSON]),
            422,
        ),
        ("empty body", create("", &[JSON]), 400),
        (
            "invalid UTF-8 in JSON",
            request(
                "POST",
                b"/orders",
                &[JSON],
                b"{\"item\": \"\xff\xfe\", \"quantity\": 1}",
            ),
            400,
        ),
        (
            "text/plain",
            create(
                "{\"item\": \"x\", \"quantity\": 1}",
                &["content-type: text/plain"],
            ),
            415,
        ),
        (
            "application/xml",
            create("<order/>", &["content-type: application/xml"]),
            415,
        ),
        (
            "no content type",
            create("{\"item\": \"x\", \"quantity\": 1}", &[]),
            415,
        ),
        (
            "multipart",
            create("--b--", &["content-type: multipart/form-data; boundary=b"]),
            415,
        ),
        (
            "a move as text/plain",
            patch("{\"status\": \"paid\"}", &["content-type: text/plain"]),
            415,
        ),
        ("oversized create", create(&big, &[JSON]), 413),
        (
            "oversized move",
            patch(
                &format!("{{\"status\": \"{}\"}}", "x".repeat(100_000)),
                &[JSON],
            ),
            413,
        ),
        (
            "oversized keyed move",
            patch(&"x".repeat(100_000), &[JSON, "idempotency-key: \"big\""]),
            413,
        ),
        (
            "unknown state",
            patch("{\"status\": \"lost\"}", &[JSON]),
            422,
        ),
        (
            "state of the wrong case",
            patch("{\"status\": \"Paid\"}", &[JSON]),
            422,
        ),
        ("state as a number", patch("{\"status\": 1}", &[JSON]), 422),
        (
            "no status member",
            patch("{\"state\": \"paid\"}", &[JSON]),
            422,
        ),
        (
            "percent-encoded invalid UTF-8 id",
            request("GET", b"/orders/%FF", &[], b""),
            400,
        ),
        (
            "percent-encoded invalid UTF-8 action",
            request("POST", b"/orders/1/%C3%28", &[], b""),
            400,
        ),
        (
            "id overflowing u64",
            request("GET", b"/orders/18446744073709551616", &[], b""),
            404,
        ),
        ("negative id", request("GET", b"/orders/-1", &[], b""), 404),
        (
            "id in exponent form",
            request("GET", b"/orders/1e3", &[], b""),
            404,
        ),
        (
            "id of spaces",
            request("GET", b"/orders/%20%20", &[], b""),
            404,
        ),
        (
            "huge id on a move",
            request("POST", b"/orders/99999999999999999999999999/pay", &[], b""),
            404,
        ),
        (
            "unknown action",
            request("POST", b"/orders/1/teleport", &[], b""),
            404,
        ),
        (
            "very long action",
            request("POST", long_action.as_bytes(), &[], b""),
            404,
        ),
        (
            "action with odd characters",
            request("POST", b"/orders/1/pay%00", &[], b""),
            404,
        ),
        (
            "unknown route",
            request("GET", b"/../../etc/passwd", &[], b""),
            404,
        ),
        (
            "garbage If-Match",
            request("POST", b"/orders/1/pay", &["if-match: W/"], b""),
            400,
        ),
        (
            "If-Match star and a tag",
            request("POST", b"/orders/1/pay", &["if-match: *, \"1\""], b""),
            400,
        ),
        (
            "a huge If-Match list",
            request("POST", b"/orders/1/pay", &[&many_tags], b""),
            412,
        ),
        (
            "duplicate If-Match headers, one stale",
            request(
                "POST",
                b"/orders/1/pay",
                &["if-match: \"8\"", "if-match: \"9\""],
                b"",
            ),
            412,
        ),
        (
            "garbage If-None-Match",
            request("GET", b"/orders/1", &["if-none-match: 1"], b""),
            400,
        ),
        (
            "duplicate Idempotency-Key",
            request(
                "POST",
                b"/orders/1/pay",
                &["idempotency-key: \"a\"", "idempotency-key: \"b\""],
                b"",
            ),
            400,
        ),
        (
            "overlong Idempotency-Key",
            request("POST", b"/orders/1/pay", &[&key], b""),
            400,
        ),
        (
            "Idempotency-Key with a space",
            request("POST", b"/orders/1/pay", &["idempotency-key: a b"], b""),
            400,
        ),
        (
            "Idempotency-Key with obs-text",
            request(
                "POST",
                b"/orders/1/pay",
                &["idempotency-key: \"\u{e9}\""],
                b"",
            ),
            400,
        ),
        // The rules of moves: permissions, inputs, history, explain.
        (
            "a refund without the permission, in a flood of permissions",
            request("POST", b"/orders/1/refund", &[&permissions], b""),
            403,
        ),
        (
            "an action's input as an array",
            request(
                "POST",
                b"/orders/1/cancel",
                &[JSON],
                b"[\"changed my mind\"]",
            ),
            422,
        ),
        (
            "an action's input that is not JSON",
            request("POST", b"/orders/1/cancel", &[JSON], b"{reason: x}"),
            400,
        ),
        (
            "an action's input of another media type",
            request(
                "POST",
                b"/orders/1/cancel",
                &["content-type: text/plain"],
                b"x",
            ),
            415,
        ),
        (
            "a 50 000-character tracking number",
            request("POST", b"/orders/1/ship", &[JSON], long_tracking.as_bytes()),
            422,
        ),
        (
            "explain that is neither true nor false",
            request("GET", b"/orders/1/transitions?explain=%00", &[], b""),
            400,
        ),
        (
            "the history of an id that overflows",
            request("GET", b"/orders/99999999999999999999999/history", &[], b""),
            404,
        ),
        ("unknown method", request("BREW", b"/orders", &[], b""), 405),
        (
            "unknown method on an order",
            request("PURGE", b"/orders/1", &[], b""),
            405,
        ),
        (
            "DELETE is not served",
            request("DELETE", b"/orders/1", &[], b""),
            405,
        ),
        (
            "unknown diagram format",
            request("GET", b"/state-machines/order?format=%FF", &[], b""),
            400,
        ),
        (
            "unacceptable Accept",
            request(
                "GET",
                b"/state-machines/order",
                &["accept: application/pdf"],
                b"",
            ),
            406,
        ),
    ]
}

async fn hostile_requests_get_problem_bodies_and_the_server_stays_up(backend: Backend) {
    let server = backend.serve(Options::default()).await;
    let created = server
        .client
        .post(server.url("/orders"))
        .json(&serde_json::json!({"item": "lamp", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let matrix = matrix();
    assert!(matrix.len() >= 40);
    for (what, raw, expected) in matrix {
        let (status, head, body) = send_raw(&server, &raw).await;
        assert_eq!(
            status,
            expected,
            "{what}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            head.contains("content-type: application/problem+json"),
            "{what}: {head}"
        );
        let problem: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(problem["status"], expected, "{what}");
        for member in ["type", "title", "detail"] {
            assert!(
                problem[member].is_string(),
                "{what}: no `{member}` in {problem}"
            );
        }
        assert!(
            !problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("panicked"),
            "{what}"
        );
        // Still serving.
        let order = server
            .client
            .get(server.url("/orders/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(order.status(), 200, "after {what}");
    }
}

on_every_backend!(hostile_requests_get_problem_bodies_and_the_server_stays_up);
