//! What each fuzz target does with its input, and what it asserts. The
//! workspace's `fuzz_regressions` test runs the same functions over every
//! kept input (`fuzz/regressions/<target>/`), on stable Rust.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use conflict_examples::orders::{MemoryOrders, router};
use conflict_runtime::http::{
    IDEMPOTENCY_KEY, PROBLEM_JSON, idempotency_key, if_match, if_none_match,
};
use conflict_runtime::store::Store;
use tower::ServiceExt as _;

/// `If-Match`, `If-None-Match` and `Idempotency-Key` parsers: each line of
/// the input is one header value, the lines taking the three names in turn.
pub fn headers(data: &[u8]) {
    let names = [
        axum::http::header::IF_MATCH,
        axum::http::header::IF_NONE_MATCH,
        IDEMPOTENCY_KEY,
    ];
    let mut headers = HeaderMap::new();
    for (i, line) in data.split(|&b| b == b'\n').take(12).enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(names[i % 3].clone(), value);
        }
    }
    let _ = if_match(&headers);
    let _ = if_none_match(&headers);
    if let Ok(key) = idempotency_key(&headers) {
        assert!((1..=255).contains(&key.len()), "key of {} bytes", key.len());
        assert!(key.bytes().all(|b| (0x20..=0x7E).contains(&b)), "{key:?}");
    }
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// The request an input stands for: the first byte picks the method, the
/// first line is the path, then `name: value` lines up to an empty line,
/// then the body.
fn parse_request(data: &[u8]) -> Option<Request<Body>> {
    let (&method, rest) = data.split_first()?;
    let method =
        Method::from_bytes(METHODS[usize::from(method) % METHODS.len()].as_bytes()).ok()?;
    let mut lines = rest.splitn(2, |&b| b == b'\n');
    let path = lines.next()?;
    let mut rest = lines.next().unwrap_or_default();
    let uri = Uri::try_from(path).ok()?;
    let mut request = Request::builder().method(method).uri(uri);
    loop {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &[][..]),
        };
        rest = after;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        request = request.header(name, value);
    }
    request.body(Body::from(rest.to_vec())).ok()
}

/// Every route of the `orders` example, in memory, with three orders in
/// three states: any request is answered below 500, and every error is a
/// problem body whose `status` is the response's.
pub fn request(data: &[u8]) {
    let Some(request) = parse_request(data) else {
        return;
    };
    let head = request.method() == Method::HEAD;
    runtime().block_on(async move {
        let orders = MemoryOrders::new();
        for quantity in [1, 150, 2] {
            orders.create(|&id| conflict_examples::orders::Order {
                id,
                status: conflict_examples::orders::OrderStatus::Pending,
                item: "bolts".to_owned(),
                quantity,
                tracking_number: None,
                payment: None,
            });
        }
        let third = conflict_runtime::store::Move::Action(
            conflict_examples::orders::OrderStatusAction::Pay,
        );
        let _ = orders
            .apply(&3, conflict_runtime::store::Change::new(third))
            .await;
        let response = router(orders).oneshot(request).await.expect("infallible");
        let status = response.status();
        assert!(!status.is_server_error(), "{status}");
        if status.is_client_error() && !head {
            let content_type = response.headers().get("content-type").cloned();
            assert_eq!(
                content_type.as_ref().map(HeaderValue::as_bytes),
                Some(PROBLEM_JSON.as_bytes())
            );
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            let problem: serde_json::Value = serde_json::from_slice(&body).expect("a JSON problem");
            assert_eq!(problem["status"], status.as_u16(), "{problem}");
            for member in ["type", "title", "detail"] {
                assert!(problem[member].is_string(), "{member} in {problem}");
            }
        }
    });
}

/// The derive's parse, validate and expand steps on arbitrary text: a
/// declaration is expanded or refused with messages, never a panic; a valid
/// one's table only names declared states.
pub fn derive(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let _ = conflict_macros_internals::derive(source);
    if let Ok(table) = conflict_macros_internals::table(source) {
        let states = table.states.len();
        for (next, targets) in table.next.iter().zip(&table.targets) {
            assert!(next.iter().all(|&to| to < states));
            for to in targets.iter().flatten() {
                assert!(next.contains(to), "an action's target is a next state");
            }
        }
        assert!(table.initial.iter().any(|&initial| initial));
    }
}
