//! The `orders` service: the HTTP contract of DESIGN.md on an in-memory store.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use conflict_runtime::StateMachine;
use conflict_runtime::http::{
    self, Conditional, Created, Idempotency, IdempotencyStore, JsonBody, MemoryKeys, MoveRequest,
    Problem, ProblemKind, ResourceId, Transitions,
};
use conflict_runtime::store::{Create, Inserted, MemoryStore, Resource, Store, Versioned};
use serde::{Deserialize, Serialize};

/// The lifecycle of an order.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[state_machine(resource = "order")]
pub enum OrderStatus {
    /// Created, not paid yet.
    #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
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

/// An order as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Given by the store.
    pub id: u64,
    /// Where the order is in its lifecycle.
    pub status: OrderStatus,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: u32,
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

/// The body of `POST /orders`.
#[derive(Clone, Debug, Deserialize)]
pub struct NewOrder {
    item: String,
    quantity: u32,
}

/// The orders the service keeps in memory.
pub type Orders = MemoryStore<Order>;

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
pub fn router(orders: Orders) -> Router {
    router_with(orders, MemoryKeys::default(), Options::default())
}

/// The service's routes over `orders` (in memory or in Postgres), with
/// idempotency keys kept in `keys`.
pub fn router_with<St, K>(orders: St, keys: K, options: Options) -> Router
where
    St: Store<Order, Id = u64> + Create<Order>,
    K: IdempotencyStore,
{
    Router::new()
        .route("/orders", post(create::<St>))
        .route(
            "/orders/{id}",
            get(show::<St>).patch(act::<St>).put(create_at::<St>),
        )
        .route("/orders/{id}/{action}", post(act::<St>))
        .route("/orders/{id}/transitions", get(transitions::<St>))
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(Idempotency::new(keys).scoped_by(client))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(App { orders, options })
}

#[derive(Clone)]
struct App<St> {
    orders: St,
    options: Options,
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
    fn into_order(self, id: u64, instance: &str) -> Result<Order, Problem> {
        let invalid = |field: &'static str, detail: &str| {
            Problem::new(ProblemKind::InvalidInput, detail)
                .with_instance(instance)
                .with("field", field)
        };
        let item = self.item.trim();
        if item.is_empty() {
            return Err(invalid("item", "`item` must name what is ordered"));
        }
        if self.quantity < 1 {
            return Err(invalid("quantity", "`quantity` must be at least 1"));
        }
        Ok(Order {
            id,
            status: OrderStatus::Pending,
            item: item.to_owned(),
            quantity: self.quantity,
        })
    }
}

/// `POST /orders`: a new order under the next free id.
async fn create<St: Create<Order>>(
    State(app): State<App<St>>,
    JsonBody(new): JsonBody<NewOrder>,
) -> Result<Response, Problem> {
    // Validate before taking an id, so a refused body does not use one up.
    let order = new.into_order(0, "/orders")?;
    let created = app
        .orders
        .create(|id| Order {
            id,
            ..order.clone()
        })
        .await?;
    let location = format!("/orders/{}", created.id());
    Ok(Created::new(Inserted::Created(created), location).into_response())
}

/// `PUT /orders/{id}`: creates the order under the client's id, at most once.
async fn create_at<St: Store<Order, Id = u64>>(
    State(app): State<App<St>>,
    id: ResourceId<u64, OrderStatus>,
    conditional: Conditional,
    JsonBody(new): JsonBody<NewOrder>,
) -> Result<Created<u64, Order>, Problem> {
    let order = new.into_order(*id, &format!("/orders/{}", *id))?;
    id.create(&app.orders, order, &conditional).await
}

async fn show<St: Store<Order, Id = u64>>(
    State(app): State<App<St>>,
    id: ResourceId<u64, OrderStatus>,
    conditional: Conditional,
) -> Result<Response, Problem> {
    Ok(conditional.respond(id.load(&app.orders).await?))
}

/// Every move of an order: `POST /orders/{id}/{action}` and `PATCH /orders/{id}`.
async fn act<St: Store<Order, Id = u64>>(
    State(app): State<App<St>>,
    request: MoveRequest<OrderStatus, u64>,
) -> Result<Versioned<u64, Order>, Problem> {
    let request = if app.options.require_if_match {
        request.require_if_match()
    } else {
        request
    };
    request.apply(&app.orders).await
}

async fn transitions<St: Store<Order, Id = u64>>(
    State(app): State<App<St>>,
    id: ResourceId<u64, OrderStatus>,
) -> Result<Transitions, Problem> {
    Ok(Transitions::of(id.load(&app.orders).await?.value().status))
}
