//! Successful representations and the mapping of domain errors to problems:
//! the one place where a refused move becomes a status.

use std::fmt::Display;

use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::etag::{etag, etag_text};
use super::problem::{Problem, ProblemKind};
use crate::machine::{Action, StateMachine, TransitionError, UnknownName};
use crate::store::{Inserted, StoreError, Versioned};

impl<Id, R: Serialize> IntoResponse for Versioned<Id, R> {
    /// 200 with the resource as JSON and its `ETag`.
    fn into_response(self) -> Response {
        let tag = etag(self.version());
        let mut response = axum::Json(self.into_value()).into_response();
        response.headers_mut().insert(ETAG, tag);
        response
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
/// `allowed_next_states`, by wire name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transitions {
    current_state: &'static str,
    allowed_actions: Vec<&'static str>,
    allowed_next_states: Vec<&'static str>,
}

impl Transitions {
    /// The moves `state` allows.
    pub fn of<S: StateMachine>(state: S) -> Self {
        Transitions {
            current_state: state.name(),
            allowed_actions: action_names(state.actions()),
            allowed_next_states: state_names(state.next_states()),
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

/// The 409 of an illegal move. `id`, when known, makes the detail name the
/// resource: `cannot cancel order 42: it is shipped`.
pub(crate) fn transition_problem<S: StateMachine>(
    error: &TransitionError<S>,
    id: Option<&dyn Display>,
) -> Problem {
    let resource = match id {
        Some(id) => format!("{} {id}", S::RESOURCE),
        None => S::RESOURCE.to_owned(),
    };
    let current = error.current().name();
    let detail = match (error.action(), error.requested_state()) {
        (Some(action), _) => format!("cannot {} {resource}: it is {current}", action.name()),
        (None, Some(target)) => format!(
            "cannot move {resource} to {}: it is {current}",
            target.name()
        ),
        (None, None) => format!("cannot move {resource}: it is {current}"),
    };
    let mut problem = Problem::new(ProblemKind::IllegalTransition, detail)
        .with("resource", S::RESOURCE)
        .with("current_state", current);
    if let Some(action) = error.action() {
        problem = problem.with("action", action.name());
    }
    if let Some(target) = error.requested_state() {
        problem = problem.with("requested_state", target.name());
    }
    problem
        .with(
            "allowed_next_states",
            state_names(error.allowed_next_states()),
        )
        .with("allowed_actions", action_names(error.allowed_actions()))
}

/// The problem for a store's refusal of a request about resource `id`.
pub(crate) fn store_problem<S: StateMachine>(
    error: StoreError<S>,
    id: Option<&dyn Display>,
) -> Problem {
    let resource = match id {
        Some(id) => format!("{} {id}", S::RESOURCE),
        None => S::RESOURCE.to_owned(),
    };
    match error {
        StoreError::NotFound => {
            Problem::new(ProblemKind::NotFound, format!("no {resource} exists"))
                .with("resource", S::RESOURCE)
        }
        StoreError::Transition(error) => transition_problem(&error, id),
        StoreError::PreconditionFailed { version, state } => {
            precondition_failed(&resource, version, state)
        }
        StoreError::AlreadyExists { version, state } => Problem::new(
            ProblemKind::AlreadyExists,
            format!(
                "{resource} exists with different content; fetch it, or create under another id"
            ),
        )
        .with("resource", S::RESOURCE)
        .with("current_state", state.name())
        .with("etag", etag_text(version))
        .with_header(ETAG, etag(version)),
        StoreError::Backend(cause) => {
            tracing::error!(error = %cause, resource = S::RESOURCE, "storage backend failed");
            Problem::internal()
        }
    }
}

/// 412 with what a client needs to reconcile without another round trip.
pub(crate) fn precondition_failed<S: StateMachine>(
    resource: &str,
    version: u64,
    state: S,
) -> Problem {
    let tag = etag_text(version);
    Problem::new(
        ProblemKind::PreconditionFailed,
        format!(
            "{resource} has changed: it is {} now, with ETag {tag}; review it and resend with If-Match: {tag}",
            state.name()
        ),
    )
    .with("resource", S::RESOURCE)
    .with("current_state", state.name())
    .with("etag", tag)
    .with("allowed_next_states", state_names(state.next_states()))
    .with("allowed_actions", action_names(state.actions()))
    .with_header(ETAG, etag(version))
}

impl<S: StateMachine> From<TransitionError<S>> for Problem {
    fn from(error: TransitionError<S>) -> Self {
        transition_problem(&error, None)
    }
}

impl<S: StateMachine> From<StoreError<S>> for Problem {
    fn from(error: StoreError<S>) -> Self {
        store_problem(error, None)
    }
}

impl From<UnknownName> for Problem {
    /// An unknown action is a 404 (it names a path that does not exist); an
    /// unknown state is a 422 (a well-formed body naming no state).
    fn from(error: UnknownName) -> Self {
        let (kind, list) = match error.kind() {
            crate::machine::NameKind::Action => (ProblemKind::UnknownAction, "known_actions"),
            _ => (ProblemKind::UnknownState, "known_states"),
        };
        let expected: Vec<&'static str> = error.expected().to_vec();
        Problem::new(kind, error.to_string())
            .with("resource", error.resource())
            .with(list, expected)
    }
}

impl<S: StateMachine> IntoResponse for TransitionError<S> {
    /// 409 `application/problem+json` naming the current state and what it allows.
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

impl<S: StateMachine> IntoResponse for StoreError<S> {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
