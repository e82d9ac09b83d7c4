//! The move engine: one domain call performs a move for any caller.
//!
//! An HTTP request, a queue consumer, an admin command, a scheduled job and
//! a test all make a move the same way: [`Engine::perform`] with a
//! [`MoveSpec`], on behalf of a [`Caller`]. The engine checks the caller's
//! permission, the expected version, the action's typed input, the table and
//! the guards, commits through the store's atomic step with the history
//! entry, and runs the after-commit hooks; it answers [`Moved`] or a
//! [`MoveError`]. It knows nothing of HTTP: the `http` module parses
//! requests into a `MoveSpec` and maps a `MoveError` to a problem body, and
//! this module builds and is tested without the `axum` feature.
//!
//! ```
//! # use conflict_runtime::StateMachine;
//! # use conflict_runtime::store::Resource;
//! # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
//! # #[state_machine(resource = "order")]
//! # enum OrderStatus { #[state(initial, on(ship -> Shipped))] Paid, #[state(terminal)] Shipped }
//! # #[derive(Clone, PartialEq)]
//! # struct Order { status: OrderStatus, tracking: Option<String> }
//! # impl Resource for Order {
//! #     type State = OrderStatus;
//! #     fn state(&self) -> OrderStatus { self.status }
//! #     fn set_state(&mut self, status: OrderStatus) { self.status = status }
//! # }
//! use conflict_runtime::moves::{ActionInput, Caller, Engine, Input, MoveSpec, Rules};
//! use conflict_runtime::store::{MemoryStore, Store};
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct Shipment { tracking_number: String }
//!
//! impl ActionInput<Order> for Shipment {
//!     fn edit(&self, order: &mut Order) {
//!         order.tracking = Some(self.tracking_number.clone());
//!     }
//! }
//!
//! /// A job has an identity too: the history records it as the actor.
//! struct ShippingJob;
//!
//! impl Caller for ShippingJob {
//!     fn actor(&self) -> Option<&str> { Some("shipping-job") }
//!     fn has_permission(&self, _: &str) -> bool { true }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let orders = MemoryStore::<Order>::new();
//! let order = orders.create(|_| Order { status: OrderStatus::Paid, tracking: None });
//! let engine = Engine::new(orders.clone(), Rules::new().input::<Shipment>(OrderStatusAction::Ship));
//!
//! let shipment = Input::typed(&Shipment { tracking_number: "1Z999".into() })?;
//! let spec = MoveSpec::action(*order.id(), OrderStatusAction::Ship).with_input(shipment);
//! let shipped = engine.perform(&ShippingJob, spec).await?;
//! assert_eq!(shipped.resource().value().tracking.as_deref(), Some("1Z999"));
//!
//! let history = orders.history(order.id()).await?;
//! assert_eq!(history[0].note.actor.as_deref(), Some("shipping-job"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod deadlines;
mod dispatch;
mod engine;
mod error;
pub(crate) mod history;
mod input;
mod outbox;
mod rules;
pub(crate) mod store;

pub(crate) use self::deadlines::Computed;
pub use self::deadlines::{
    Claimed, Clock, Deadlines, Due, DueSettled, ManualClock, Pending, Scheduler, SystemClock,
};
pub(crate) use self::dispatch::Commits;
#[cfg(feature = "postgres")]
pub(crate) use self::dispatch::Waiter;
pub use self::dispatch::{Dispatcher, Retry, Running, Wake, Wakeups};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) use self::engine::Hooks;
pub use self::engine::{Engine, MOVE_ATTEMPTS, MoveSpec, Moved, Outcome, Uncommitted};
pub use self::error::{Allowed, MoveError, MoveErrorKind};
pub use self::input::{ActionInput, Input, InputError, Invalid, from_object};
pub use self::outbox::{Dead, Delivery, EVENT_SCHEMA, Event, Outbox, Settled};
#[cfg(feature = "axum")]
pub(crate) use self::rules::short_type_name;
pub use self::rules::{Anonymous, Asked, Asking, Caller, Committed, HookError, MoveOption, Rules};
