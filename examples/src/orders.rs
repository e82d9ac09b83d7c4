//! The `orders` service: the HTTP contract of DESIGN.md on an in-memory store.
//!
//! Beyond the table: paying is guarded by a credit rule (more than 100 units
//! is blocked with `quantity_limit`), shipping takes a `tracking_number`,
//! refunding needs the permission `orders:refund`, cancelling takes an
//! optional `reason`, and every committed move is in `/orders/{id}/history`.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::HeaderValue;
use axum::http::header::{LINK, VARY};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::http::openapi::{self, IdempotencyProblems, Problems, problem_responses};
use conflict_runtime::http::{
    self, ActionPath, Affordance, Bulk, Conditional, Created, EventStream, Explain, History,
    Idempotency, IdempotencyStore, JsonObject, KeyedRequest, LastEventId, ListQuery, Listed,
    MAX_BULK, Many, MemoryKeys, MoveRequest, Problem, ProblemKind, ResourceId, Transitions,
    action_links, affordances,
};
use conflict_runtime::moves::{
    ActionInput, Caller, Dispatcher, Engine, Event, Invalid, Pending, Rules, Scheduler,
};
use conflict_runtime::store::{Inserted, Keyed, MemoryStore, Resource};

use crate::storage::Orders;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{
    Components, ComponentsBuilder, Content, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder,
    Paths, PathsBuilder, Ref, Required, ResponseBuilder, ResponsesBuilder,
};

/// The lifecycle of an order.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order")]
pub enum OrderStatus {
    /// Created, not paid yet: expired after the payment window (30
    /// minutes unless the service is told otherwise).
    #[state(
        initial,
        on(pay -> Paid if credit_limit, cancel -> Cancelled),
        after(30min, expire -> Cancelled)
    )]
    Pending,
    /// Paid, not shipped yet.
    #[state(on(ship -> Shipped, cancel -> Cancelled, refund -> Refunded))]
    Paid,
    /// On its way.
    #[state(on(deliver -> Delivered))]
    Shipped,
    /// With the customer.
    #[state(terminal)]
    Delivered,
    /// Called off before shipping.
    #[state(terminal)]
    Cancelled,
    /// Paid back before shipping.
    #[state(terminal)]
    Refunded,
}

/// An order as stored and served: a row of the `orders` table in SQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Given by the store: the table's own sequence in SQL.
    pub id: i64,
    /// Where the order is in its lifecycle.
    pub status: OrderStatus,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
    /// The carrier's number, from `ship`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// How it was paid, from `pay`: a row of `payments` in SQL, beside the
    /// order in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    /// The move it makes by itself and when (a pending order expires),
    /// from the store's deadlines; served, never read from a request.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Pending<OrderStatus>>,
    /// The moves the caller may make now (`GET /orders/{id}` only), as
    /// hypermedia; served, never stored or read from a request.
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Affordance>,
}

/// A payment, recorded as `pay` commits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// `card` or `invoice`.
    pub method: PaymentMethod,
    /// When, in RFC 3339.
    pub paid_at: String,
}

/// How an order is paid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// By card, the default.
    #[default]
    Card,
    /// On invoice.
    Invoice,
}

impl PaymentMethod {
    /// The wire name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::Invoice => "invoice",
        }
    }

    /// The method of a wire name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "card" => Some(PaymentMethod::Card),
            "invoice" => Some(PaymentMethod::Invoice),
            _ => None,
        }
    }
}

/// The input of `pay`: an optional `{"method": "card" | "invoice"}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Pay {
    /// How; a card when absent.
    #[serde(default)]
    pub method: PaymentMethod,
}

impl ActionInput<Order> for Pay {
    fn edit(&self, order: &mut Order) {
        order.payment = Some(Payment {
            method: self.method,
            paid_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        });
    }
}

// Read by hand rather than derived: the workspace builds one `syn`, and
// `sqlx`'s derive brings another. `#[derive(sqlx::FromRow)]` with
// `#[sqlx(try_from = "i64")]` on `quantity` and `#[sqlx(skip)]` on
// `payment` and `deadline` does the same.
impl<'r, Row> sqlx::FromRow<'r, Row> for Order
where
    Row: sqlx::Row,
    &'static str: sqlx::ColumnIndex<Row>,
    i64: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    String: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    OrderStatus: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
{
    fn from_row(row: &'r Row) -> Result<Self, sqlx::Error> {
        let quantity: i64 = row.try_get("quantity")?;
        Ok(Order {
            id: row.try_get("id")?,
            status: row.try_get("status")?,
            item: row.try_get("item")?,
            quantity: u32::try_from(quantity).map_err(|error| sqlx::Error::ColumnDecode {
                index: "quantity".to_owned(),
                source: Box::new(error),
            })?,
            tracking_number: row.try_get("tracking_number")?,
            payment: None,
            deadline: None,
            actions: Vec::new(),
        })
    }
}

impl Keyed<i64> for Order {
    fn set_id(&mut self, id: &i64) {
        self.id = *id;
    }
}

/// The most units an order may have and be paid without a credit review.
pub const CREDIT_LIMIT: u32 = 100;

/// A demo credit rule, guarding `pay`: large orders need a review first.
///
/// # Errors
/// The `quantity_limit` blocker, with the quantity and the limit.
pub fn credit_limit(order: &Order) -> Result<(), Blocker> {
    if order.quantity > CREDIT_LIMIT {
        return Err(Blocker::new(
            "quantity_limit",
            format!(
                "an order of more than {CREDIT_LIMIT} units needs a credit review before it is paid"
            ),
        )
        .with("quantity", order.quantity)
        .with("limit", CREDIT_LIMIT));
    }
    Ok(())
}

/// The input of `ship`: `{"tracking_number": "1Z999AA10123456784"}`. Other
/// members are ignored, as in every body of the service: one route serves
/// every action, so its schema lists the members of all of them.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Shipment {
    /// The carrier's number: 1 to 64 letters, digits or dashes.
    pub tracking_number: String,
}

impl ActionInput<Order> for Shipment {
    fn validate(&self) -> Result<(), Invalid> {
        let number = &self.tracking_number;
        if number.is_empty() || number.len() > 64 {
            return Err(Invalid::new(
                "tracking_number",
                "must be 1 to 64 characters long",
            ));
        }
        if !number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Invalid::new(
                "tracking_number",
                "may hold only letters, digits and dashes",
            ));
        }
        Ok(())
    }

    fn edit(&self, order: &mut Order) {
        order.tracking_number = Some(self.tracking_number.clone());
    }
}

/// The input of `cancel`: an optional `{"reason": "..."}`, kept in the history.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Cancellation {
    /// Why, in the customer's words.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The longest cancellation reason kept.
const REASON_LIMIT: usize = 500;

impl ActionInput<Order> for Cancellation {
    fn validate(&self) -> Result<(), Invalid> {
        match &self.reason {
            Some(reason) if reason.chars().count() > REASON_LIMIT => Err(Invalid::new(
                "reason",
                format!("must be at most {REASON_LIMIT} characters long"),
            )),
            Some(reason) if reason.contains('\0') => {
                Err(Invalid::new("reason", "must not contain NUL (\\u0000)"))
            }
            _ => Ok(()),
        }
    }

    fn reason(&self) -> Option<String> {
        self.reason.clone()
    }
}

/// The permission `refund` requires.
pub const REFUND: &str = "orders:refund";

/// The permission `expire` requires of a caller: the deadline makes it by
/// itself; staff may make it early.
pub const EXPIRE: &str = "orders:expire";

/// The rules of the order lifecycle beyond the table (the `pay` guard is on
/// the derive).
#[must_use]
pub fn rules() -> Rules<Order> {
    Rules::new()
        .permission(OrderStatusAction::Refund, REFUND)
        .permission(OrderStatusAction::Expire, EXPIRE)
        .input::<Pay>(OrderStatusAction::Pay)
        .input::<Shipment>(OrderStatusAction::Ship)
        .input::<Cancellation>(OrderStatusAction::Cancel)
}

/// Makes the orders' deadlines (a pending order expires after the payment
/// window) as moves under the same rules, recorded as made by `deadline`.
/// Start it beside the durable handlers; any number of instances may run it
/// on one database, and none makes a deadline twice.
#[must_use]
pub fn deadlines<St: Orders>(orders: St) -> Scheduler<Order, St> {
    Scheduler::new(Engine::new(orders, rules()))
}

/// The effects that must survive a crash, delivered from the outbox at
/// least once: `notify_customer` tells the customer their order shipped
/// ([`Orders::notify`] keeps one notification per event). Start it before
/// serving; any number of instances may run it on one database.
#[must_use]
pub fn durable<St: Orders + Clone>(orders: St) -> Dispatcher<Order, St> {
    let notified = orders.clone();
    Dispatcher::new(orders).after(
        OrderStatusAction::Ship,
        "notify_customer",
        move |shipped: Event<OrderStatus>| {
            let orders = notified.clone();
            async move { orders.notify(&shipped).await }
        },
    )
}

/// The caller, from two headers: `X-User` (recorded as the actor) and
/// `X-Permissions` (comma-separated). A demo identity: anyone can send these
/// headers, so a real service takes the caller from its authentication.
#[derive(Clone, Debug, Default)]
pub struct DemoUser {
    name: Option<String>,
    permissions: Vec<String>,
}

impl Caller for DemoUser {
    fn actor(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|held| held == permission)
    }
}

impl<St: Send + Sync> FromRequestParts<St> for DemoUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Problem> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        Ok(DemoUser {
            name: header("x-user").map(|name| name.chars().take(128).collect()),
            permissions: header("x-permissions")
                .map(|list| list.split(',').map(|p| p.trim().to_owned()).collect())
                .unwrap_or_default(),
        })
    }
}

impl Resource for Order {
    type State = OrderStatus;

    fn state(&self) -> OrderStatus {
        self.status
    }

    fn set_state(&mut self, status: OrderStatus) {
        self.status = status;
    }
}

/// What is blank in an item's name: Unicode's `White_Space`, ECMAScript's
/// `\s` and Python's `isspace` together, so that the schema's pattern
/// (`ITEM_PATTERN`) and the server's check agree whatever validates it.
const BLANK: &[char] = &[
    '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', ' ', '\u{85}',
    '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}',
    '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}',
    '\u{205f}', '\u{3000}', '\u{feff}',
];

/// An item name holds a character that is not [`BLANK`], and no NUL
/// (which a Postgres store cannot keep).
fn item_pattern() -> String {
    let mut not_blank = String::from("[^\\u0000");
    for blank in BLANK {
        let _ = write!(not_blank, "\\u{:04x}", u32::from(*blank));
    }
    not_blank.push(']');
    format!("^{NO_NUL}{not_blank}{NO_NUL}$")
}

/// Characters other than NUL, in a pattern.
const NO_NUL: &str = "[^\\u0000]*";

/// The body of `POST /orders`.
#[derive(Clone, Debug, Deserialize)]
pub struct NewOrder {
    item: String,
    #[serde(deserialize_with = "whole_number")]
    quantity: u32,
}

/// A `u32` written as any JSON number with no fraction: JSON has one number
/// type, and JSON Schema's `integer` admits `5.0`.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    use serde::de::Error as _;
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
            .map(|f| {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a whole number in the range of u32, checked above"
                )]
                let whole = f as u64;
                whole
            })
    });
    whole.and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        D::Error::custom(format!(
            "expected a whole number from 0 to {}, not {number}",
            u32::MAX
        ))
    })
}

/// The orders the service keeps in memory.
pub type MemoryOrders = MemoryStore<Order, i64>;

/// Bodies larger than this are refused with 413; orders are small.
const BODY_LIMIT: usize = 64 * 1024;

/// How the service treats requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Refuse moves without `If-Match` (428): no client can overwrite a
    /// change it has not seen.
    pub require_if_match: bool,
}

/// The service in memory, with default options.
pub fn router(orders: MemoryOrders) -> Router {
    router_with(orders, MemoryKeys::default(), Options::default())
}

/// The service's routes over `orders` (in memory, SQLite or Postgres), with
/// idempotency keys kept in `keys`.
pub fn router_with<St, K>(orders: St, keys: K, options: Options) -> Router
where
    St: Orders,
    K: IdempotencyStore,
{
    Router::new()
        .route("/orders", post(create::<St>).get(list::<St>))
        .route("/orders/actions/{action}", post(act_on_many::<St>))
        .route("/orders/events", get(events::<St>))
        .route(
            "/orders/{id}",
            get(show::<St>).patch(act::<St>).put(create_at::<St>),
        )
        .route("/orders/{id}/{action}", post(act::<St>))
        .route("/orders/{id}/transitions", get(transitions::<St>))
        .route("/orders/{id}/history", get(history::<St>))
        .route("/orders/{id}/events", get(order_events::<St>))
        .route("/state-machines/order", get(http::machine::<OrderStatus>))
        .route("/openapi.json", get(openapi_json))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(Idempotency::new(keys).scoped_by(client))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(App {
            engine: Engine::new(orders, rules()),
            options,
        })
}

struct App<St: Orders> {
    engine: Engine<Order, St>,
    options: Options,
}

impl<St: Orders> Clone for App<St> {
    fn clone(&self) -> Self {
        App {
            engine: self.engine.clone(),
            options: self.options,
        }
    }
}

/// The client a request comes from, for scoping idempotency keys. A demo
/// identity: a real service takes it from authentication, not a header.
fn client(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get("x-client-id")?
        .to_str()
        .ok()
        .map(str::to_owned)
}

impl NewOrder {
    /// The order this body asks for, under `id`; 422 naming the bad field.
    fn into_order(self, id: i64, instance: &str) -> Result<Order, Problem> {
        let invalid = |field: &'static str, detail: &str| {
            Problem::new(ProblemKind::InvalidInput, detail)
                .with_instance(instance)
                .with("field", field)
        };
        let item = self.item.trim_matches(BLANK);
        if item.is_empty() {
            return Err(invalid("item", "`item` must name what is ordered"));
        }
        if item.contains('\0') {
            return Err(invalid("item", "`item` must not contain NUL (\\u0000)"));
        }
        if self.quantity < 1 {
            return Err(invalid("quantity", "`quantity` must be at least 1"));
        }
        Ok(Order {
            id,
            status: OrderStatus::Pending,
            item: item.to_owned(),
            quantity: self.quantity,
            tracking_number: None,
            payment: None,
            deadline: None,
            actions: Vec::new(),
        })
    }
}

/// `POST /orders`: a new order under the store's next id.
async fn create<St: Orders>(
    State(app): State<App<St>>,
    JsonObject(new): JsonObject<NewOrder>,
) -> Result<Response, Problem> {
    let order = new.into_order(0, "/orders")?;
    let created = app.engine.store().create(order).await?;
    let location = format!("/orders/{}", created.id());
    Ok(Created::new(Inserted::Created(created), location).into_response())
}

/// `PUT /orders/{id}`: creates the order under the client's id, at most once.
async fn create_at<St: Orders>(
    State(app): State<App<St>>,
    id: ResourceId<i64, OrderStatus>,
    conditional: Conditional,
    JsonObject(new): JsonObject<NewOrder>,
) -> Result<Created<i64, Order>, Problem> {
    let instance = format!("/orders/{}", *id);
    if *id < 1 {
        return Err(
            Problem::new(ProblemKind::InvalidInput, "order ids start at 1")
                .with_instance(instance)
                .with("field", "id"),
        );
    }
    let order = new.into_order(*id, &instance)?;
    id.create(app.engine.store(), order, &conditional).await
}

/// `GET /orders/{id}`, with its payment, and the moves this caller may
/// make now as `actions` and `Link` headers.
async fn show<St: Orders>(
    State(app): State<App<St>>,
    id: ResourceId<i64, OrderStatus>,
    caller: DemoUser,
    conditional: Conditional,
) -> Result<Response, Problem> {
    let store = app.engine.store();
    let order = id.load(store).await?;
    let mut payments = store.payments(&[*id]).await?;
    // The deadline as set at this version: why an attempt was not made
    // changes without a new version (and ETag), so only `transitions`
    // tells it.
    let deadline = store.pending(&id).await?.map(|pending| Pending {
        not_made: None,
        ..pending
    });
    let path = format!("/orders/{}", *id);
    let actions = affordances(order.value(), app.engine.rules(), &caller, &path).await;
    let links = action_links(&actions);
    let mut response = conditional.respond(order.map(|mut order| {
        order.payment = payments.remove(&order.id).or(order.payment);
        order.deadline = deadline;
        order.actions = actions;
        order
    }));
    let headers = response.headers_mut();
    // The actions depend on who asks: a cache keys on it.
    headers.insert(VARY, HeaderValue::from_static("x-user, x-permissions"));
    for link in links {
        headers.append(LINK, link);
    }
    Ok(response)
}

/// `GET /orders?status=paid&after=...&limit=...`: orders in any of the
/// states, a page at a time.
async fn list<St: Orders>(
    State(app): State<App<St>>,
    query: ListQuery<OrderStatus, i64>,
) -> Result<Listed<i64, Order>, Problem> {
    let store = app.engine.store();
    let Listed(mut page) = query.page(store).await?;
    let ids: Vec<i64> = page.items.iter().map(|order| *order.id()).collect();
    let mut payments = store.payments(&ids).await?;
    page.items = page
        .items
        .into_iter()
        .map(|order| {
            order.map(|mut order| {
                order.payment = payments.remove(&order.id).or(order.payment);
                order
            })
        })
        .collect();
    Ok(Listed(page))
}

/// Every move of an order: `POST /orders/{id}/{action}` and `PATCH /orders/{id}`.
async fn act<St: Orders>(
    State(app): State<App<St>>,
    user: DemoUser,
    keyed: Option<KeyedRequest>,
    request: MoveRequest<OrderStatus, i64>,
) -> Result<Response, Problem> {
    let request = if app.options.require_if_match {
        request.require_if_match()
    } else {
        request
    };
    let (spec, instance) = request.into_parts();
    let id = *spec.id();
    St::perform(&app.engine, &user, spec, keyed)
        .await
        .map_err(|error| Problem::of_move(error, &id).with_instance(instance))
}

/// `POST /orders/actions/{action}`: one action on many orders (by id, or
/// every order in some states, at most [`MAX_BULK`]), with a result per
/// order and its payment.
async fn act_on_many<St: Orders>(
    State(app): State<App<St>>,
    user: DemoUser,
    ActionPath(action): ActionPath<OrderStatus>,
    JsonObject(many): JsonObject<Many>,
) -> Result<Bulk<i64, Order>, Problem> {
    let instance = format!("/orders/actions/{action}");
    let (results, more) = many
        .perform(&app.engine, &user, action, MAX_BULK, &instance)
        .await?;
    let moved: Vec<i64> = results
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(id, _)| *id)
        .collect();
    let mut payments = app
        .engine
        .store()
        .payments(&moved)
        .await
        .map_err(|error| Problem::from(error).with_instance(instance.as_str()))?;
    let results = results
        .into_iter()
        .map(|(id, result)| {
            let result = result.map(|moved| {
                moved.complete(|order| {
                    order.payment = payments.remove(&order.id).or(order.payment.take());
                })
            });
            (id, result)
        })
        .collect();
    Ok(Bulk::new(results, more))
}

/// What this caller may do with the order now, after the guards and its
/// permissions; `?explain=true` adds every move with its blockers.
async fn transitions<St: Orders>(
    State(app): State<App<St>>,
    user: DemoUser,
    id: ResourceId<i64, OrderStatus>,
    Explain(explain): Explain,
) -> Result<Transitions, Problem> {
    let store = app.engine.store();
    let order = id.load(store).await?;
    let deadline = store.pending(&id).await?;
    Ok(
        Transitions::for_caller(order.value(), app.engine.rules(), &user, explain)
            .await
            .with_deadline(deadline.as_ref()),
    )
}

async fn history<St: Orders>(
    State(app): State<App<St>>,
    id: ResourceId<i64, OrderStatus>,
) -> Result<History<OrderStatus>, Problem> {
    id.history(app.engine.store()).await
}

/// `GET /orders/events`: every committed move, as Server-Sent Events.
async fn events<St: Orders + Clone>(
    State(app): State<App<St>>,
    user: DemoUser,
    from: LastEventId,
) -> Result<EventStream, Problem> {
    EventStream::all(app.engine.store().clone(), app.engine.rules(), &user, from).await
}

/// `GET /orders/{id}/events`: the moves of one order, as Server-Sent Events.
async fn order_events<St: Orders + Clone>(
    State(app): State<App<St>>,
    user: DemoUser,
    id: ResourceId<i64, OrderStatus>,
    from: LastEventId,
) -> Result<EventStream, Problem> {
    let order = id.load(app.engine.store()).await?;
    let store = app.engine.store().clone();
    EventStream::of(
        store,
        app.engine.rules(),
        &user,
        order.id().to_string(),
        from,
    )
    .await
}

#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
async fn openapi_json() -> Response {
    axum::Json(openapi()).into_response()
}

/// The service's `OpenAPI` 3.1 document. The problem responses of each
/// route follow from its handler's extractors ([`Problems`]); only the
/// successes are written here.
#[must_use]
pub fn openapi() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("orders")
                .version(env!("CARGO_PKG_VERSION")),
        )
        .paths(paths())
        .components(Some(schemas()))
        .build()
}

type MoveProblems = (MoveRequest<OrderStatus, i64>, IdempotencyProblems);
type IdProblems = ResourceId<i64, OrderStatus>;
type BodyProblems = JsonObject<NewOrder>;

fn json(schema: &str) -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn success(
    status: &str,
    description: &str,
    schema: Option<&str>,
) -> (String, utoipa::openapi::Response) {
    let mut response = ResponseBuilder::new().description(description);
    if let Some(schema) = schema {
        response = response.content("application/json", json(schema));
    }
    (status.to_owned(), response.build())
}

/// An operation answering `successes`, or the problems of `P`.
fn operation<P: Problems>(
    summary: &str,
    successes: Vec<(String, utoipa::openapi::Response)>,
) -> OperationBuilder {
    let responses = successes.into_iter().fold(
        problem_responses::<P>(ResponsesBuilder::new()),
        |r, (status, response)| r.response(status, response),
    );
    OperationBuilder::new()
        .summary(Some(summary))
        .responses(responses.build())
}

fn id_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(i64::MAX)),
        ))
        .build()
}

fn body(schema: &str) -> RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json(schema))
        .build()
}

/// `/orders/{id}`: read, move by state, create under a chosen id.
fn order_item() -> PathItem {
    let order = Some("Order");
    let moved = || {
        vec![success(
            "200",
            "The moved order, with its new `ETag`",
            order,
        )]
    };
    PathItem::builder()
        .operation(
            HttpMethod::Get,
            operation::<(IdProblems, Conditional)>(
                "An order",
                vec![
                    success("200", "The order, with its `ETag`", order),
                    success("304", "Not modified: `If-None-Match` matches", None),
                ],
            )
            .parameter(id_parameter()),
        )
        .operation(
            HttpMethod::Patch,
            operation::<MoveProblems>("Move an order to a state", moved())
                .parameter(id_parameter())
                .request_body(Some(body("TargetState"))),
        )
        .operation(
            HttpMethod::Put,
            operation::<(
                IdProblems,
                Conditional,
                BodyProblems,
                IdempotencyProblems,
                AlreadyExists,
            )>(
                "Create an order under a chosen id",
                vec![
                    success("201", "Created", order),
                    success("200", "The identical order was there already", order),
                ],
            )
            .parameter(id_parameter())
            .request_body(Some(body("NewOrder"))),
        )
        .build()
}

/// `/orders/{id}/history`: the committed moves.
fn history_item() -> PathItem {
    let entries = ArrayBuilder::new().items(Ref::from_schema_name("OrderHistoryEntry"));
    PathItem::new(
        HttpMethod::Get,
        operation::<IdProblems>(
            "Every committed move of an order, oldest first",
            vec![(
                "200".to_owned(),
                ResponseBuilder::new()
                    .description("The history")
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(entries)).build(),
                    )
                    .build(),
            )],
        )
        .parameter(id_parameter()),
    )
}

/// `/orders/events` and `/orders/{id}/events`: committed moves as
/// Server-Sent Events, each `data` an `OrderEvent`.
fn events_item(of_one: bool) -> PathItem {
    let stream = ResponseBuilder::new()
        .description(
            "Server-Sent Events, `event: moved`, `id:` the event's position, `data:` the event; \
             the stream stays open",
        )
        .content(
            "text/event-stream",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("OrderEvent")))
                .build(),
        )
        .build();
    let successes = vec![("200".to_owned(), stream)];
    let mut operation = if of_one {
        operation::<(IdProblems, LastEventId)>("The committed moves of an order", successes)
            .parameter(id_parameter())
    } else {
        operation::<LastEventId>("Every committed move, as it commits", successes)
    };
    for parameter in openapi::last_event_id_parameters() {
        operation = operation.parameter(parameter);
    }
    PathItem::new(HttpMethod::Get, operation)
}

/// `POST /orders/{id}/{action}`, one operation per action: each has its
/// own input.
fn action_paths(mut paths: PathsBuilder) -> PathsBuilder {
    for &action in <OrderStatusAction as conflict_runtime::Action>::ALL {
        let moved = success("200", "The moved order, with its new `ETag`", Some("Order"));
        let mut one = operation::<MoveProblems>(&format!("Apply `{action}`"), vec![moved])
            .parameter(id_parameter());
        if let Some((schema, required)) = input_of(action) {
            one = one.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(required))
                    .content("application/json", json(schema))
                    .build(),
            ));
        }
        paths = paths.path(
            format!("/orders/{{id}}/{action}"),
            PathItem::new(HttpMethod::Post, one),
        );
        let many = success(
            "200",
            "A result per order: moved, or its problem",
            Some("ManyMoved"),
        );
        let bulk = operation::<BulkProblems>(
            &format!("Apply `{action}` to many orders: by id, or every order in some states (at most {MAX_BULK})"),
            vec![many],
        )
        .request_body(Some(body(&format!("Many{}", pascal(&action.to_string())))));
        paths = paths.path(
            format!("/orders/actions/{action}"),
            PathItem::new(HttpMethod::Post, bulk),
        );
    }
    paths
}

/// The schema of an action's input, and whether a move requires it.
fn input_of(action: OrderStatusAction) -> Option<(&'static str, Required)> {
    match action {
        OrderStatusAction::Pay => Some(("Pay", Required::False)),
        OrderStatusAction::Ship => Some(("Shipment", Required::True)),
        OrderStatusAction::Cancel => Some(("Cancellation", Required::False)),
        OrderStatusAction::Refund | OrderStatusAction::Deliver | OrderStatusAction::Expire => None,
    }
}

fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The body of a bulk move by `action`: `ids` or `status`, and the input.
fn many_orders(action: OrderStatusAction) -> utoipa::openapi::schema::Schema {
    let ids = ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(i64::MIN))
                .maximum(Some(i64::MAX)),
        )
        .max_items(Some(MAX_BULK));
    let states = ArrayBuilder::new()
        .items(Ref::from_schema_name("OrderState"))
        .min_items(Some(1));
    let nullable = |schema: &str| {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(schema))
            .item(ObjectBuilder::new().schema_type(Type::Null))
    };
    let input = |object: ObjectBuilder| match input_of(action) {
        Some((schema, Required::True)) => object
            .property("input", Ref::from_schema_name(schema))
            .required("input"),
        Some((schema, _)) => object.property("input", nullable(schema)),
        None => object.property(
            "input",
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Object,
                Type::Null,
            ])),
        ),
    };
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(input(
            ObjectBuilder::new().property("ids", ids).required("ids"),
        ))
        .item(input(
            ObjectBuilder::new()
                .property("status", states)
                .required("status"),
        ))
        .build()
        .into()
}

/// `GET /orders?status=..&after=..&limit=..`.
fn list_operation() -> OperationBuilder {
    operation::<ListQuery<OrderStatus, i64>>(
        "Orders in some states, a page at a time, in the order of their ids",
        vec![success(
            "200",
            "A page, and where the next starts",
            Some("OrderPage"),
        )],
    )
    .parameter(
        ParameterBuilder::new()
            .name("status")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some("The states (any of them); every state when absent"))
            .schema(Some(
                ArrayBuilder::new().items(Ref::from_schema_name("OrderState")),
            )),
    )
    .parameter(
        ParameterBuilder::new()
            .name("after")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some("The `next` of the page before"))
            .schema(Some(
                // The cursors of order ids: `c1.` and the id's digits in hex.
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^c1\\.(3[0-9]){1,18}$")),
            )),
    )
    .parameter(
        ParameterBuilder::new()
            .name("limit")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(http::MAX_PAGE)),
            )),
    )
}

fn paths() -> Paths {
    let order = Some("Order");
    let explain = ParameterBuilder::new()
        .name("explain")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "List every move the caller may request, with its blockers",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::Boolean)));
    let create = operation::<(BodyProblems, IdempotencyProblems)>(
        "Create an order",
        vec![success(
            "201",
            "The new order, with `Location` and `ETag`",
            order,
        )],
    )
    .request_body(Some(body("NewOrder")));
    let list = list_operation();
    action_paths(PathsBuilder::new())
        .path(
            "/orders",
            PathItem::builder()
                .operation(HttpMethod::Post, create)
                .operation(HttpMethod::Get, list)
                .build(),
        )
        .path("/orders/{id}", order_item())

        .path(
            "/orders/{id}/transitions",
            PathItem::new(
                HttpMethod::Get,
                operation::<(IdProblems, Explain)>(
                    "What this caller may do with an order now",
                    vec![success(
                        "200",
                        "Current state, allowed actions and next states, after guards and permissions",
                        Some("Transitions"),
                    )],
                )
                .parameter(id_parameter())
                .parameter(explain),
            ),
        )
        .path("/orders/{id}/history", history_item())
        .path("/orders/events", events_item(false))
        .path("/orders/{id}/events", events_item(true))
        .path(
            "/state-machines/order",
            PathItem::new(
                HttpMethod::Get,
                operation::<MachineProblems>(
                    "The order machine: JSON, or `?format=svg|mermaid|dot|text`",
                    vec![success("200", "The machine", Some("Machine"))],
                ),
            ),
        )
        .path(
            "/openapi.json",
            PathItem::new(
                HttpMethod::Get,
                operation::<()>("This document", vec![success("200", "OpenAPI 3.1", None)]),
            ),
        )
        .build()
}

fn schemas() -> Components {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let count = |minimum: u32| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(minimum))
            .maximum(Some(u32::MAX))
    };
    let components = openapi::components::<OrderStatus>(ComponentsBuilder::new())
        .schema(
            "Order",
            ObjectBuilder::new()
                .property(
                    "id",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(i64::MAX)),
                )
                .property("status", Ref::from_schema_name("OrderState"))
                .property("item", string())
                .property("quantity", count(1))
                .property("tracking_number", string())
                .property(
                    "payment",
                    ObjectBuilder::new()
                        .property("method", payment_method())
                        .property("paid_at", string())
                        .required("method")
                        .required("paid_at"),
                )
                .property("deadline", openapi::deadline_schema::<OrderStatus>())
                .property("actions", openapi::actions_schema::<OrderStatus>())
                .required("id")
                .required("status")
                .required("item")
                .required("quantity"),
        )
        .schema(
            "NewOrder",
            ObjectBuilder::new()
                .property(
                    "item",
                    string().min_length(Some(1)).pattern(Some(item_pattern())),
                )
                .property("quantity", count(1))
                .required("item")
                .required("quantity"),
        )
        .schema("TargetState", target_state())
        .schema(
            "Pay",
            ObjectBuilder::new().property("method", payment_method()),
        )
        .schema("OrderPage", order_page())
        .schema("ManyMoved", many_moved())
        .schema("Shipment", shipment())
        .schema(
            "Cancellation",
            ObjectBuilder::new().property("reason", reason()),
        )
        .schema("Transitions", openapi::transitions_schema::<OrderStatus>())
        .schema(
            "Machine",
            ObjectBuilder::new().description(Some("States, actions and moves")),
        );
    let mut components = components;
    for &action in <OrderStatusAction as conflict_runtime::Action>::ALL {
        components = components.schema(
            format!("Many{}", pascal(&action.to_string())),
            many_orders(action),
        );
    }
    components.build()
}

/// A page of orders: `items`, and the cursor of the `next` page.
fn order_page() -> ObjectBuilder {
    ObjectBuilder::new()
        .property(
            "items",
            ArrayBuilder::new().items(Ref::from_schema_name("Order")),
        )
        .property(
            "next",
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ])),
        )
        .required("items")
        .required("next")
}

/// The answer to a bulk move: a result per order, and whether more matched.
fn many_moved() -> ObjectBuilder {
    let result = ObjectBuilder::new()
        .property("id", ObjectBuilder::new().schema_type(Type::Integer))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("resource", Ref::from_schema_name("Order"))
        .property("problem", Ref::from_schema_name(openapi::PROBLEM))
        .required("id")
        .required("status");
    ObjectBuilder::new()
        .property("results", ArrayBuilder::new().items(result))
        .property("more", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("results")
        .required("more")
}

fn payment_method() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["card", "invoice"]))
}

fn tracking_number() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some("^[A-Za-z0-9-]+$"))
}

/// `cancel`'s reason: a string, or `null` for none.
fn reason() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .max_length(Some(REASON_LIMIT))
        .pattern(Some(format!("^{NO_NUL}$")))
}

fn shipment() -> ObjectBuilder {
    ObjectBuilder::new()
        .property("tracking_number", tracking_number())
        .required("tracking_number")
}

/// `{"status": ...}`, with the input of the action that leads there:
/// `shipped` needs a `tracking_number`, `cancelled` takes a `reason`.
fn target_state() -> utoipa::openapi::schema::Schema {
    let status = |names: Vec<&'static str>| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
    };
    let (paid, shipped, cancelled) = (
        OrderStatus::Paid.name(),
        OrderStatus::Shipped.name(),
        OrderStatus::Cancelled.name(),
    );
    let others: Vec<&str> = OrderStatus::NAMES
        .iter()
        .copied()
        .filter(|name| ![paid, shipped, cancelled].contains(name))
        .collect();
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .property("status", status(others))
                .required("status"),
        )
        .item(
            ObjectBuilder::new()
                .property("status", status(vec![paid]))
                .property("method", payment_method())
                .required("status"),
        )
        .item(
            ObjectBuilder::new()
                .property("status", status(vec![cancelled]))
                .property("reason", reason())
                .required("status"),
        )
        .item(
            ObjectBuilder::new()
                .property("status", status(vec![shipped]))
                .property("tracking_number", tracking_number())
                .required("status")
                .required("tracking_number"),
        )
        .build()
        .into()
}

/// A bulk move: its body, the caller's permission, the action's input.
struct BulkProblems;

impl Problems for BulkProblems {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        <(BodyProblems, IdempotencyProblems)>::problems(kinds);
        kinds.extend([
            ProblemKind::Forbidden,
            ProblemKind::UnknownState,
            ProblemKind::Internal,
        ]);
    }
}

/// `PUT` answers 409 for a different order under a taken id.
struct AlreadyExists;

impl Problems for AlreadyExists {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([ProblemKind::AlreadyExists, ProblemKind::PreconditionFailed]);
    }
}

/// `GET /state-machines/order` answers 400 for an unknown format, 406 when
/// `Accept` matches none.
struct MachineProblems;

impl Problems for MachineProblems {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([ProblemKind::MalformedRequest, ProblemKind::NotAcceptable]);
    }
}
