//! State machines for resources served over HTTP.
//!
//! Declare the states of a resource as an enum and the legal moves on its
//! variants; `#[derive(StateMachine)]` checks the declaration at compile time
//! and generates the transition table, an action enum and one method per
//! action. An illegal move is a [`TransitionError`] that names the current
//! state and what is allowed instead.
//!
//! ```
//! use conflict_runtime::StateMachine;
//!
//! #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
//! #[state_machine(resource = "ticket")]
//! enum TicketState {
//!     #[state(initial, on(start -> InProgress, close -> Closed))]
//!     Open,
//!     #[state(on(close -> Closed), to(Open))]
//!     InProgress,
//!     #[state(terminal)]
//!     Closed,
//! }
//!
//! let working = TicketState::Open.start()?;
//! assert_eq!(working.transition_to(TicketState::Open)?, TicketState::Open);
//!
//! let closed = working.close()?;
//! let refused = closed.start().unwrap_err();
//! assert_eq!(refused.to_string(), "cannot Start ticket: it is Closed, a terminal state");
//! # Ok::<(), conflict_runtime::TransitionError<TicketState>>(())
//! ```
//!
//! The derive's attribute reference is on [`StateMachine`](macro@StateMachine).
//!
//! # Layers
//!
//! [`machine`](StateMachine), [`guard`], [`deadline`] and [`diagram`] are the
//! core: no I/O.
//! [`moves`] is the engine: one call performs a move for any caller.
//! [`store`] keeps resources: in memory, in your Postgres or SQLite tables,
//! each with an outbox of its committed moves. `relay` (feature `nats`)
//! publishes the outbox to NATS JetStream.
//! `http` (feature `axum`) turns requests into moves and refusals into
//! problem bodies.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `derive` | yes | `#[derive(StateMachine)]` |
//! | `axum` | yes | [`http`]: 409 problem bodies, extractors, `ETag` and `If-Match`, `Idempotency-Key`, served diagrams |
//! | `postgres` | no | [`store::PgStore`] over your Postgres tables, and `http::PgKeys`: state shared by every instance |
//! | `sqlite` | no | [`store::SqliteStore`] over your SQLite tables: the embedded durable store |
//! | `uuid` | no | `uuid::Uuid` keys in every store |
//! | `openapi` | no | `http::openapi`: OpenAPI 3.1 schemas and responses (`utoipa`) |
//! | `nats` | no | `relay::JetStream`: the outbox published to NATS JetStream |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod deadline;
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub mod diagnostics;
pub mod diagram;
pub mod guard;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
mod machine;
pub mod moves;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod relay;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::machine::{Action, NameKind, StateMachine, TransitionError, UnknownName};

/// Derives [`StateMachine`](trait@StateMachine): see the attribute reference below.
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use conflict_macros::StateMachine;

#[doc = include_str!("../../README.md")]
#[cfg(all(doctest, feature = "derive"))]
pub struct ReadmeDoctests;
