//! The `orders` service written by hand with axum, for the whole-service
//! benchmark: `orders-by-hand --addr HOST:PORT`.
//!
//! Same routes, statuses, bodies and headers as `cargo run --example orders`
//! for what the benchmark sends, and the same layers with the same defaults:
//! idempotency keys (in memory), a 64 KiB body limit, `TraceLayer` under an
//! `info` filter, a catch-panic layer answering a problem body. Moves check
//! the table, `pay`'s credit limit, `refund`'s permission and `pay`'s,
//! `ship`'s and `cancel`'s input (`pay` records its payment on the order),
//! and record the history under the same lock as the move. As the example
//! does, every move is also an event in a log that a background task
//! follows (telling the customer when an order ships), every pending order
//! expires after 30 minutes (a background task makes the move), and `GET`
//! shows an order's pending deadline and the moves the caller may make now
//! (`actions`, a `Link` header each, `Vary`).

#![allow(
    clippy::too_many_lines,
    clippy::result_large_err,
    reason = "one handler with early answers, as a hand-written axum service is written"
)]

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
            Status::Refunded => "refunded",
        }
    }

    /// The actions this state allows, and where they lead.
    fn moves(self) -> &'static [(&'static str, Status)] {
        match self {
            Status::Pending => &[
                ("pay", Status::Paid),
                ("cancel", Status::Cancelled),
                ("expire", Status::Cancelled),
            ],
            Status::Paid => &[
                ("ship", Status::Shipped),
                ("cancel", Status::Cancelled),
                ("refund", Status::Refunded),
            ],
            Status::Shipped => &[("deliver", Status::Delivered)],
            Status::Delivered | Status::Cancelled | Status::Refunded => &[],
        }
    }
}

const ACTIONS: [&str; 6] = ["pay", "cancel", "ship", "refund", "deliver", "expire"];

/// How long an order may stay unpaid: the example's default window.
const PAYMENT_WINDOW: Duration = Duration::from_mins(30);

/// How many events the log keeps, as the example's store.
const EVENTS_KEPT: usize = 100_000;

/// What `refund` and `expire` require of a caller.
fn permitted(action: &str, permissions: &str) -> bool {
    let required = match action {
        "refund" => "orders:refund",
        "expire" => "orders:expire",
        _ => return true,
    };
    permissions.split(',').any(|p| p.trim() == required)
}

/// The schema of an action's input, as the example's actions advertise it.
fn input_schema(action: &str) -> Option<&'static str> {
    match action {
        "pay" => Some("#/components/schemas/Pay"),
        "ship" => Some("#/components/schemas/Shipment"),
        "cancel" => Some("#/components/schemas/Cancellation"),
        _ => None,
    }
}

#[derive(Clone, Debug, Serialize)]
struct Order {
    id: u64,
    status: Status,
    item: String,
    quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<Value>,
    /// Served by `GET` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<Value>,
    /// Served by `GET` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<Value>,
}

#[allow(
    dead_code,
    reason = "kept as the service keeps it; this benchmark does not read it"
)]
struct Entry {
    version: u64,
    from: Status,
    to: Status,
    action: &'static str,
    at: SystemTime,
    actor: Option<String>,
    reason: Option<String>,
    metadata: Option<Value>,
}

struct Stored {
    order: Order,
    version: u64,
    history: Vec<Entry>,
    /// When a pending order expires.
    expires: Option<SystemTime>,
}

/// A committed move, for the follower: position, order, action, input.
type Event = (u64, u64, &'static str, Option<Value>);

#[derive(Default)]
struct Records {
    orders: HashMap<u64, Stored>,
    last_id: u64,
    /// The pending orders by the time they expire.
    deadlines: BTreeSet<(SystemTime, u64)>,
    events: VecDeque<Event>,
    last_event: u64,
}

impl Records {
    /// Moves `stored` (order `id`) to `to` by `action`, recording the
    /// history entry and the event, and dropping its deadline once it
    /// leaves `pending`.
    fn commit(&mut self, id: u64, action: &'static str, to: Status, entry: Entry) {
        let Some(stored) = self.orders.get_mut(&id) else {
            return;
        };
        stored.order.status = to;
        stored.version += 1;
        if let Some(expires) = stored.expires.take() {
            self.deadlines.remove(&(expires, id));
        }
        let input = entry.metadata.clone();
        stored.history.push(entry);
        self.last_event += 1;
        self.events.push_back((self.last_event, id, action, input));
        if self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
    }
}

#[derive(Default)]
struct Service {
    orders: Mutex<Records>,
    /// Wakes the follower of the events.
    moved: Notify,
}

type Shared = Arc<Service>;

impl Service {
    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Follows the events: tells the customer when an order ships.
async fn follow(service: Shared) {
    let mut cursor = 0;
    loop {
        service.moved.notified().await;
        let shipped: Vec<(u64, u64, Option<Value>)> = {
            let orders = service.lock();
            let start = orders.events.partition_point(|(p, ..)| *p <= cursor);
            let mut shipped = Vec::new();
            for (position, id, action, input) in orders.events.range(start..) {
                cursor = *position;
                if *action == "ship" {
                    shipped.push((*position, *id, input.clone()));
                }
            }
            shipped
        };
        for (position, id, input) in shipped {
            let tracking = input
                .as_ref()
                .and_then(|input| input.get("tracking_number")?.as_str().map(str::to_owned));
            tracing::info!(
                key = %format!("order:{id}:{position}"),
                "order {id} shipped, tracking number {}",
                tracking.unwrap_or_default()
            );
        }
    }
}

/// Expires the pending orders whose window has passed, looking at least
/// once a minute.
async fn expire(service: Shared) {
    loop {
        let now = SystemTime::now();
        let next = {
            let mut orders = service.lock();
            while let Some(&(due, id)) = orders.deadlines.first() {
                if due > now {
                    break;
                }
                orders.deadlines.pop_first();
                let version = orders.orders.get(&id).map_or(0, |stored| stored.version);
                orders.commit(
                    id,
                    "expire",
                    Status::Cancelled,
                    Entry {
                        version: version + 1,
                        from: Status::Pending,
                        to: Status::Cancelled,
                        action: "expire",
                        at: now,
                        actor: Some("deadline".to_owned()),
                        reason: None,
                        metadata: None,
                    },
                );
            }
            orders.deadlines.first().map(|(due, _)| *due)
        };
        service.moved.notify_one();
        let wait = next
            .and_then(|due| due.duration_since(now).ok())
            .unwrap_or(Duration::from_mins(1))
            .min(Duration::from_mins(1));
        tokio::time::sleep(wait).await;
    }
}

fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: impl std::fmt::Display,
    body: Value,
) -> Response {
    let mut members = json!({
        "type": format!("urn:conflict:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail.to_string(),
    });
    if let (Value::Object(members), Value::Object(extra)) = (&mut members, body) {
        members.extend(extra);
    }
    let mut response = (status, members.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn represent(status: StatusCode, order: &Order, version: u64) -> Response {
    let mut response = (status, axum::Json(order)).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

fn not_found(id: &str, instance: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no order {id} exists"),
        json!({"instance": instance, "resource": "order"}),
    )
}

#[derive(Deserialize)]
struct NewOrder {
    item: String,
    quantity: u32,
}

async fn create(State(service): State<Shared>, body: Bytes) -> Response {
    let Ok(new) = serde_json::from_slice::<NewOrder>(&body) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
            "expected {\"item\", \"quantity\"}".to_owned(),
            json!({"instance": "/orders"}),
        );
    };
    if new.item.trim().is_empty() || new.quantity < 1 {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
            "`item` must name what is ordered and `quantity` be at least 1".to_owned(),
            json!({"instance": "/orders"}),
        );
    }
    let mut orders = service.lock();
    orders.last_id += 1;
    let id = orders.last_id;
    let order = Order {
        id,
        status: Status::Pending,
        item: new.item.trim().to_owned(),
        quantity: new.quantity,
        tracking_number: None,
        payment: None,
        deadline: None,
        actions: Vec::new(),
    };
    let mut response = represent(StatusCode::CREATED, &order, 1);
    let expires = SystemTime::now() + PAYMENT_WINDOW;
    orders.deadlines.insert((expires, id));
    orders.orders.insert(
        id,
        Stored {
            order,
            version: 1,
            history: Vec::new(),
            expires: Some(expires),
        },
    );
    drop(orders);
    if let Ok(location) = HeaderValue::from_str(&format!("/orders/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn show(
    State(service): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let instance = format!("/orders/{id}");
    let Some(stored) = id.parse::<u64>().ok().and_then(|key| {
        let orders = service.lock();
        orders
            .orders
            .get(&key)
            .map(|stored| (stored.order.clone(), stored.version, stored.expires))
    }) else {
        return not_found(&id, &instance);
    };
    let (mut order, version, expires) = stored;
    let tag = format!("\"{version}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == tag)
        });
    if fresh {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&tag) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        return response;
    }
    order.deadline = expires.map(
        |at| json!({"action": "expire", "at": humantime::format_rfc3339_millis(at).to_string()}),
    );
    // The moves this caller may make now: permitted, and not blocked by
    // `pay`'s credit limit.
    let permissions = headers
        .get("x-permissions")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut links = Vec::new();
    for (action, to) in order.status.moves() {
        if !permitted(action, permissions) || (*action == "pay" && order.quantity > 100) {
            continue;
        }
        let href = format!("/orders/{}/{action}", order.id);
        if let Ok(link) = HeaderValue::from_str(&format!(
            "<{href}>; rel=\"urn:conflict:rel:action\"; title=\"{action}\""
        )) {
            links.push(link);
        }
        let mut affordance =
            json!({"name": action, "method": "POST", "href": href, "to": to.name()});
        if let (Some(schema), Value::Object(members)) = (input_schema(action), &mut affordance) {
            members.insert("input".to_owned(), Value::from(schema));
        }
        order.actions.push(affordance);
    }
    let mut response = represent(StatusCode::OK, &order, version);
    let headers = response.headers_mut();
    headers.insert(
        header::VARY,
        HeaderValue::from_static("x-user, x-permissions"),
    );
    for link in links {
        headers.append(header::LINK, link);
    }
    response
}

/// The input an action reads from the body, checked.
fn input(
    action: &str,
    headers: &HeaderMap,
    body: &Bytes,
    instance: &str,
) -> Result<Option<Value>, Response> {
    if !matches!(action, "pay" | "ship" | "cancel") {
        return Ok(None);
    }
    let invalid = |field: &str, detail: String| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-input",
            "Invalid input",
            detail,
            json!({"instance": instance, "field": field}),
        )
    };
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the action's input as JSON".to_owned(),
                json!({"instance": instance}),
            ));
        }
        serde_json::from_slice(body).map_err(|error| {
            problem(
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
                format!("the body is not JSON: {error}"),
                json!({"instance": instance}),
            )
        })?
    };
    if action == "pay" {
        return match value.get("method") {
            None => Ok(Some(json!({ "method": "card" }))),
            Some(Value::String(method)) if method == "card" || method == "invoice" => {
                Ok(Some(json!({ "method": method })))
            }
            Some(_) => Err(invalid("method", "`method`: card or invoice".to_owned())),
        };
    }
    if action == "ship" {
        let number = value.get("tracking_number").and_then(Value::as_str);
        let Some(number) = number.filter(|n| {
            (1..=64).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }) else {
            return Err(invalid(
                "tracking_number",
                "`tracking_number`: 1 to 64 letters, digits or dashes".to_owned(),
            ));
        };
        return Ok(Some(json!({ "tracking_number": number })));
    }
    match value.get("reason") {
        None | Some(Value::Null) => Ok(Some(json!({ "reason": null }))),
        Some(Value::String(reason)) if reason.chars().count() <= 500 => {
            Ok(Some(json!({ "reason": reason })))
        }
        Some(_) => Err(invalid(
            "reason",
            "`reason`: at most 500 characters".to_owned(),
        )),
    }
}

fn names<T: Copy>(
    items: impl Iterator<Item = T>,
    name: impl Fn(T) -> &'static str,
) -> Vec<&'static str> {
    items.map(name).collect()
}

async fn act(
    State(service): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let instance = format!("/orders/{id}/{action}");
    let Ok(key) = id.parse::<u64>() else {
        return not_found(&id, &instance);
    };
    let Some(&action) = ACTIONS.iter().find(|known| **known == action) else {
        return problem(
            StatusCode::NOT_FOUND,
            "unknown-action",
            "Unknown action",
            format!("unknown order action `{action}`"),
            json!({"instance": instance, "resource": "order", "known_actions": ACTIONS}),
        );
    };
    let permissions = headers
        .get("x-permissions")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let actor = headers
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut all = service.lock();
    let Some(stored) = all.orders.get_mut(&key) else {
        drop(all);
        return not_found(&id, &instance);
    };
    if !permitted(action, permissions) {
        drop(all);
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("you may not {action} order {id}"),
            json!({"instance": instance, "resource": "order", "action": action}),
        );
    }
    let tag = format!("\"{}\"", stored.version);
    if let Some(expected) = if_match
        && !expected
            .split(',')
            .any(|t| t.trim() == "*" || t.trim() == tag)
    {
        let current = stored.order.status;
        drop(all);
        return problem(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            format!(
                "order {id} has changed: it is {} now, with ETag {tag}",
                current.name()
            ),
            json!({"instance": instance, "resource": "order", "current_state": current.name(), "etag": tag}),
        );
    }
    let input = match input(action, &headers, &body, &instance) {
        Ok(input) => input,
        Err(refused) => return refused,
    };
    let from = stored.order.status;
    let quantity = stored.order.quantity;
    // What this caller may do: the permitted moves no guard blocks.
    let open = || {
        from.moves().iter().filter(move |(name, _)| {
            permitted(name, permissions) && (*name != "pay" || quantity <= 100)
        })
    };
    let Some(&(_, to)) = from.moves().iter().find(|(name, _)| *name == action) else {
        drop(all);
        let target = match action {
            "pay" => "paid",
            "cancel" | "expire" => "cancelled",
            "ship" => "shipped",
            "refund" => "refunded",
            _ => "delivered",
        };
        return problem(
            StatusCode::CONFLICT,
            "illegal-transition",
            "Illegal state transition",
            format!("cannot {action} order {id}: it is {}", from.name()),
            json!({
                "instance": instance,
                "resource": "order",
                "current_state": from.name(),
                "action": action,
                "requested_state": target,
                "allowed_next_states": names(open().map(|m| m.1), Status::name),
                "allowed_actions": names(open().map(|m| m.0), |a| a),
            }),
        );
    };
    if action == "pay" && quantity > 100 {
        let allowed_states = names(open().map(|m| m.1), Status::name);
        let allowed_actions = names(open().map(|m| m.0), |a| a);
        drop(all);
        return problem(
            StatusCode::CONFLICT,
            "transition-blocked",
            "Transition blocked",
            format!(
                "cannot pay order {id} now: an order of more than 100 units needs a credit review before it is paid"
            ),
            json!({
                "instance": instance, "resource": "order", "current_state": from.name(), "action": action,
                "blockers": [{"code": "quantity_limit", "message": "an order of more than 100 units needs a credit review before it is paid",
                              "parameters": {"quantity": quantity, "limit": 100}}],
                "allowed_next_states": allowed_states, "allowed_actions": allowed_actions,
            }),
        );
    }
    if let Some(number) = input
        .as_ref()
        .and_then(|i| i.get("tracking_number"))
        .and_then(Value::as_str)
    {
        stored.order.tracking_number = Some(number.to_owned());
    }
    if let Some(method) = input
        .as_ref()
        .and_then(|i| i.get("method"))
        .and_then(Value::as_str)
    {
        stored.order.payment = Some(json!({
            "method": method,
            "paid_at": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        }));
    }
    let entry = Entry {
        version: stored.version + 1,
        from,
        to,
        action,
        at: SystemTime::now(),
        actor,
        reason: input
            .as_ref()
            .and_then(|i| i.get("reason"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: input,
    };
    all.commit(key, action, to, entry);
    let Some((order, version)) = all
        .orders
        .get(&key)
        .map(|stored| (stored.order.clone(), stored.version))
    else {
        return not_found(&id, &instance);
    };
    drop(all);
    service.moved.notify_one();
    represent(StatusCode::OK, &order, version)
}

/// Kept answers of requests with an `Idempotency-Key`.
type Keys = Arc<Mutex<HashMap<String, Option<(StatusCode, HeaderMap, Bytes)>>>>;

async fn idempotency(State(keys): State<Keys>, request: Request, next: Next) -> Response {
    let unsafe_method = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (true, Some(key)) = (unsafe_method, key) else {
        return next.run(request).await;
    };
    {
        let mut kept = keys.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.get(&key) {
            Some(Some((status, headers, body))) => {
                let mut response = (*status, headers.clone(), body.clone()).into_response();
                response
                    .headers_mut()
                    .insert("idempotency-replayed", HeaderValue::from_static("true"));
                return response;
            }
            Some(None) => return StatusCode::CONFLICT.into_response(),
            None => {
                kept.insert(key.clone(), None);
            }
        }
    }
    let response = next.run(request).await;
    let (head, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .unwrap_or_default();
    keys.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, Some((head.status, head.headers.clone(), body.clone())));
    Response::from_parts(head, Body::from(body))
}

async fn fallback(uri: axum::http::Uri) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route serves `{}`", uri.path()),
        json!({"instance": uri.path()}),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:3000".to_owned();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = args.next().ok_or("--addr needs HOST:PORT")?;
        }
    }
    let service = Shared::default();
    tokio::spawn(follow(service.clone()));
    tokio::spawn(expire(service.clone()));
    let app = Router::new()
        .route("/orders", post(create))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/{action}", post(act))
        .fallback(fallback)
        .with_state(service)
        .layer(middleware::from_fn_with_state(Keys::default(), idempotency))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
                "the server failed to handle the request; it has been logged".to_owned(),
                json!({}),
            )
        }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        "orders (by hand) listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
