//! Successful representations: a resource with its `ETag`, a move's
//! answer, a create, the history and what a resource may do next.

use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::etag::etag;
use crate::guard::Blocker;
use crate::machine::{Action, StateMachine};
use crate::moves::{Allowed, Caller, Moved, Pending, Rules};
use crate::store::{Entry, Inserted, Resource, Versioned};

impl<Id, R: Serialize> IntoResponse for Versioned<Id, R> {
    /// 200 with the resource as JSON and its `ETag`.
    fn into_response(self) -> Response {
        let tag = etag(self.version());
        let mut response = axum::Json(self.into_value()).into_response();
        response.headers_mut().insert(ETAG, tag);
        response
    }
}

/// The header that names the after-commit hooks that failed: the move is
/// committed all the same.
pub const HOOK_FAILED: &str = "conflict-hook-failed";

/// The answer to a move: 200 with the resource and its `ETag`, and
/// `Conflict-Hook-Failed` naming any after-commit hook that failed.
impl<Id, R: Serialize> IntoResponse for Moved<Id, R> {
    fn into_response(self) -> Response {
        let failed_hooks = self.failed_hooks().join(", ");
        let mut response = self.into_resource().into_response();
        if !failed_hooks.is_empty()
            && let Ok(names) = HeaderValue::from_str(&failed_hooks)
        {
            response.headers_mut().insert(HOOK_FAILED, names);
        }
        response
    }
}

/// The committed moves of a resource, oldest first, as a JSON array.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct History<S: StateMachine>(pub Vec<Entry<S>>);

impl<S: StateMachine> IntoResponse for History<S> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The answer to a create: 201 with `Location` for a new resource, 200 for
/// the identical resource created again (an idempotent retry).
#[must_use]
pub struct Created<Id, R> {
    inserted: Inserted<Id, R>,
    location: String,
}

impl<Id, R> Created<Id, R> {
    /// The resource, created (or found identical) at `location`.
    pub fn new(inserted: Inserted<Id, R>, location: impl Into<String>) -> Self {
        Created {
            inserted,
            location: location.into(),
        }
    }
}

impl<Id, R: Serialize> IntoResponse for Created<Id, R> {
    fn into_response(self) -> Response {
        let (status, resource) = match self.inserted {
            Inserted::Created(resource) => (StatusCode::CREATED, resource),
            Inserted::Existing(resource) => (StatusCode::OK, resource),
        };
        let mut response = resource.into_response();
        *response.status_mut() = status;
        // A location that is not a valid header value is left out rather
        // than failing a create that has already happened.
        if let Ok(location) = HeaderValue::from_str(&self.location) {
            response.headers_mut().insert(LOCATION, location);
        }
        response
    }
}

/// What a resource may do next: `current_state`, `allowed_actions`,
/// `allowed_next_states`, by wire name; explained, also `moves`: every move
/// the caller may request with whether it is allowed now and its
/// `blockers`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transitions {
    current_state: &'static str,
    allowed_actions: Vec<&'static str>,
    allowed_next_states: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moves: Option<Vec<ExplainedMove>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<serde_json::Value>,
}

/// One move of an explained [`Transitions`].
#[derive(Clone, Debug, PartialEq, Serialize)]
struct ExplainedMove {
    action: Option<&'static str>,
    to: &'static str,
    allowed: bool,
    blockers: Vec<Blocker>,
}

impl Transitions {
    /// The moves the table allows from `state`, before guards and permissions.
    pub fn of<S: StateMachine>(state: S) -> Self {
        Transitions {
            current_state: state.name(),
            allowed_actions: action_names(state.actions()),
            allowed_next_states: state_names(state.next_states()),
            moves: None,
            deadline: None,
        }
    }

    /// With the resource's pending deadline ([`Deadlines::pending`]): the
    /// move it makes by itself, when, and why it was not made if it was
    /// not.
    ///
    /// [`Deadlines::pending`]: crate::moves::Deadlines::pending
    #[must_use]
    pub fn with_deadline<S: StateMachine>(mut self, pending: Option<&Pending<S>>) -> Self {
        self.deadline = pending.and_then(|pending| serde_json::to_value(pending).ok());
        self
    }

    /// The moves `caller` may make on `resource` now, after guards and
    /// permissions; with `explain`, every permitted move and its blockers.
    pub async fn for_caller<R: Resource>(
        resource: &R,
        rules: &Rules<R>,
        caller: &dyn Caller,
        explain: bool,
    ) -> Self {
        let options = rules.options(resource, caller).await;
        let allowed = Allowed::from_options(&options);
        Transitions {
            current_state: resource.state().name(),
            allowed_actions: action_names(allowed.actions()),
            allowed_next_states: state_names(allowed.states()),
            moves: explain.then(|| {
                options
                    .into_iter()
                    .map(|option| ExplainedMove {
                        action: option.action.map(Action::name),
                        to: option.to.name(),
                        allowed: option.verdict.is_allowed(),
                        blockers: option.verdict.into_blockers(),
                    })
                    .collect()
            }),
            deadline: None,
        }
    }
}

impl IntoResponse for Transitions {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

fn state_names<S: StateMachine>(states: &[S]) -> Vec<&'static str> {
    states.iter().map(|s| s.name()).collect()
}

fn action_names<A: Action>(actions: &[A]) -> Vec<&'static str> {
    actions.iter().map(|a| a.name()).collect()
}
