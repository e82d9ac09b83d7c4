//! The HTTP layer for axum: extractors parse a request into the engine's
//! terms ([`MoveSpec`](crate::moves::MoveSpec)), and the engine's refusals
//! become problem bodies in one module (`problem`), by one table of kinds.
//! Preconditions, idempotency keys and representations are HTTP's own.

mod actions;
mod etag;
mod events;
mod extract;
mod handle;
mod idempotency;
mod listing;
mod machine;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
#[cfg(feature = "postgres")]
mod pg_keys;
mod problem;
mod response;
mod routes;
#[cfg(feature = "openapi")]
mod routes_openapi;

pub use self::actions::{ACTION_REL, Affordance, action_links, affordances};
pub use self::etag::{MalformedHeader, etag, if_match, if_none_match};
pub use self::events::{EventStream, LastEventId};
pub use self::extract::{
    ActionPath, Conditional, Explain, JsonBody, JsonObject, MoveRequest, ResourceId, StateField,
    StatusField, TargetState,
};
pub use self::idempotency::{
    Begin, Fingerprint, IDEMPOTENCY_KEY, IDEMPOTENCY_REPLAYED, IDEMPOTENCY_UNSAVED, Idempotency,
    IdempotencyService, IdempotencyStore, KeyStoreError, KeyedRequest, MemoryKeys, ScopedKey,
    StoredResponse, idempotency_key,
};
pub use self::listing::{Bulk, DEFAULT_PAGE, ListQuery, Listed, MAX_BULK, MAX_PAGE, Many, cursor};
pub use self::machine::machine;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::pg_keys::PgKeys;
pub use self::problem::{PROBLEM_JSON, Problem, ProblemKind};
pub use self::response::{Created, HOOK_FAILED, History, Transitions};
pub use self::routes::{NewResource, Perform, Routes};

/// A fallback handler: every unmatched route is a 404 problem.
#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    problem::no_route(uri.path())
}

/// A method fallback: a route that exists but does not serve the method is a
/// 405 problem.
#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    problem::wrong_method(&method, uri.path())
}
