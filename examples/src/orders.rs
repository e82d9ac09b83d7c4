//! The `orders` service: the HTTP contract of DESIGN.md, every route and
//! the `OpenAPI` document generated from the machine ([`Routes`], in
//! `routes`), in memory, SQLite or Postgres ([`Orders`]).
//!
//! Beyond the table: paying is guarded by a credit rule (more than 100 units
//! is blocked with `quantity_limit`), shipping takes a `tracking_number`,
//! refunding needs the permission `orders:refund`, cancelling takes an
//! optional `reason`, and every committed move is in `/orders/{id}/history`.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::http::openapi;
use conflict_runtime::http::{
    Idempotency, IdempotencyStore, KeyedRequest, MAX_BULK, MemoryKeys, NewResource, Problem, Routes,
};
use conflict_runtime::moves::{
    ActionInput, Caller, Dispatcher, Engine, Event, Invalid, MoveError, MoveSpec, Rules, Scheduler,
};
use conflict_runtime::store::{Keyed, MemoryStore, Resource, StoreError, Versioned};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{OpenApi, Ref};

use crate::storage::Orders;

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
// `payment` does the same.
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
    routes(orders, options)
        .idempotency(Idempotency::new(keys).scoped_by(client))
        .router()
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Every route of the service, generated from the machine and its rules:
/// orders created from a [`NewOrder`], `pay` performed with its payment
/// ([`Orders::perform`]), reads completed with it, deadlines and the
/// caller's moves shown, bulk moves, event streams, and the document.
fn routes<St: Orders>(orders: St, options: Options) -> Routes<Order, St, DemoUser> {
    let routes = Routes::new("/orders", Engine::new(orders, rules()))
        .caller::<DemoUser>()
        .create_from::<NewOrder>()
        .perform_with(perform::<St>)
        .read_with(with_payments::<St>)
        .with_deadlines()
        .with_actions("x-user, x-permissions")
        .listed()
        .bulk(MAX_BULK)
        .events();
    let routes = if options.require_if_match {
        routes.require_if_match()
    } else {
        routes
    };
    schemas(routes).with_openapi()
}

/// A move, made by the store's own code: `pay` writes its payment in the
/// move's transaction.
fn perform<'a, St: Orders>(
    engine: &'a Engine<Order, St>,
    caller: &'a dyn Caller,
    spec: MoveSpec<OrderStatus, i64>,
    keyed: Option<KeyedRequest>,
) -> Pin<Box<dyn Future<Output = Result<Response, MoveError<OrderStatus>>> + Send + 'a>> {
    Box::pin(St::perform(engine, caller, spec, keyed))
}

/// Orders as read, each with its payment (kept in its own table in SQL).
async fn with_payments<St: Orders>(
    orders: St,
    mut found: Vec<Versioned<i64, Order>>,
) -> Result<Vec<Versioned<i64, Order>>, StoreError<OrderStatus>> {
    let ids: Vec<i64> = found.iter().map(|order| *order.id()).collect();
    let mut payments = orders.payments(&ids).await?;
    if !payments.is_empty() {
        found = found
            .into_iter()
            .map(|order| {
                order.map(|mut order| {
                    order.payment = payments.remove(&order.id).or(order.payment);
                    order
                })
            })
            .collect();
    }
    Ok(found)
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

/// An order from its body: the item (not blank, no NUL) and a quantity of
/// at least 1.
impl NewResource<Order, i64> for NewOrder {
    fn into_resource(self, id: Option<&i64>) -> Result<Order, Invalid> {
        let item = self.item.trim_matches(BLANK);
        if item.is_empty() {
            return Err(Invalid::new("item", "must name what is ordered"));
        }
        if item.contains('\0') {
            return Err(Invalid::new("item", "must not contain NUL (\\u0000)"));
        }
        if self.quantity < 1 {
            return Err(Invalid::new("quantity", "must be at least 1"));
        }
        Ok(Order {
            id: id.copied().unwrap_or_default(),
            status: OrderStatus::Pending,
            item: item.to_owned(),
            quantity: self.quantity,
            tracking_number: None,
            payment: None,
        })
    }
}

/// The service's `OpenAPI` 3.1 document, generated from the same routes.
#[must_use]
pub fn openapi() -> OpenApi {
    routes(MemoryOrders::new(), Options::default()).openapi()
}

/// The schemas the routes cannot know: the order, its create body and the
/// actions' inputs.
fn schemas<St: Orders>(routes: Routes<Order, St, DemoUser>) -> Routes<Order, St, DemoUser> {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let count = |minimum: u32| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(minimum))
            .maximum(Some(u32::MAX))
    };
    let order = ObjectBuilder::new()
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(i64::MIN))
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
        .required("quantity");
    let new_order = ObjectBuilder::new()
        .property(
            "item",
            string().min_length(Some(1)).pattern(Some(item_pattern())),
        )
        .property("quantity", count(1))
        .required("item")
        .required("quantity");
    let reason = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(REASON_LIMIT))
        .pattern(Some(format!("^{NO_NUL}$")));
    let tracking_number = string()
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some("^[A-Za-z0-9-]+$"));
    routes
        .schema(order.build())
        .input_schema("NewOrder", new_order.build())
        .input_schema(
            "Pay",
            ObjectBuilder::new()
                .property("method", payment_method())
                .build(),
        )
        .input_schema(
            "Shipment",
            ObjectBuilder::new()
                .property("tracking_number", tracking_number)
                .required("tracking_number")
                .build(),
        )
        .input_schema(
            "Cancellation",
            ObjectBuilder::new().property("reason", reason).build(),
        )
}

fn payment_method() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["card", "invoice"]))
}
