//! The HTTP layer for axum: problem bodies, extractors, preconditions and
//! representations. Domain errors become statuses here and nowhere else.

mod etag;
mod extract;
mod idempotency;
mod machine;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
#[cfg(feature = "postgres")]
mod pg_keys;
mod problem;
mod response;
mod rules;

pub use self::etag::{MalformedHeader, etag, if_match, if_none_match};
pub use self::extract::{
    ActionPath, Conditional, Explain, JsonBody, JsonObject, MoveRequest, ResourceId, StateField,
    StatusField, TargetState,
};
pub use self::idempotency::{
    Begin, Fingerprint, IDEMPOTENCY_KEY, IDEMPOTENCY_REPLAYED, Idempotency, IdempotencyService,
    IdempotencyStore, MemoryKeys, ScopedKey, StoredResponse, idempotency_key,
};
pub use self::machine::machine;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::pg_keys::PgKeys;
pub use self::problem::{PROBLEM_JSON, Problem, ProblemKind};
pub use self::response::{Created, HOOK_FAILED, History, Moved, Transitions};
pub use self::rules::{
    ActionInput, Anonymous, Caller, Committed, HookError, Invalid, MoveOption, Rules,
};

/// A fallback handler: every unmatched route is a 404 problem.
#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
pub async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        format!("no route serves `{}`", uri.path()),
    )
    .with_instance(uri.path())
}

/// A method fallback: a route that exists but does not serve the method is a
/// 405 problem.
#[allow(clippy::unused_async, reason = "axum handlers are async fns")]
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("`{}` does not serve {method}", uri.path()),
    )
    .with_instance(uri.path())
}
