//! Successful representations and the mapping of domain errors to problems:
//! the one place where a refused move becomes a status.

use std::fmt::Display;

use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::etag::{etag, etag_text};
use super::problem::{Problem, ProblemKind};
use super::rules::{Caller, MoveOption, Rules};
use crate::guard::{Blocker, Verdict};
use crate::machine::{Action, StateMachine, TransitionError, UnknownName};
use crate::store::{Entry, Inserted, Move, Resource, StoreError, Versioned};

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
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Moved<Id, R> {
    resource: Versioned<Id, R>,
    committed: bool,
    failed_hooks: Vec<&'static str>,
}

impl<Id, R> Moved<Id, R> {
    pub(crate) fn unchanged(resource: Versioned<Id, R>) -> Self {
        Moved {
            resource,
            committed: false,
            failed_hooks: Vec::new(),
        }
    }

    pub(crate) fn committed(resource: Versioned<Id, R>, failed_hooks: Vec<&'static str>) -> Self {
        Moved {
            resource,
            committed: true,
            failed_hooks,
        }
    }

    /// The resource after the move.
    pub fn resource(&self) -> &Versioned<Id, R> {
        &self.resource
    }

    /// The resource after the move, by value.
    pub fn into_resource(self) -> Versioned<Id, R> {
        self.resource
    }

    /// Whether a move was committed (`false` for a move to the current state).
    #[must_use]
    pub fn is_committed(&self) -> bool {
        self.committed
    }

    /// The after-commit hooks that failed.
    #[must_use]
    pub fn failed_hooks(&self) -> &[&'static str] {
        &self.failed_hooks
    }
}

impl<Id, R: Serialize> IntoResponse for Moved<Id, R> {
    fn into_response(self) -> Response {
        let mut response = self.resource.into_response();
        if !self.failed_hooks.is_empty()
            && let Ok(names) = HeaderValue::from_str(&self.failed_hooks.join(", "))
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
        }
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
        let (allowed_actions, allowed_next_states) = allowed(&options);
        Transitions {
            current_state: resource.state().name(),
            allowed_actions,
            allowed_next_states,
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
        }
    }
}

/// The actions and next states among `options` that no guard blocks.
fn allowed<S: StateMachine>(options: &[MoveOption<S>]) -> (Vec<&'static str>, Vec<&'static str>) {
    let open = || options.iter().filter(|option| option.verdict.is_allowed());
    let actions = open()
        .filter_map(|option| option.action.map(Action::name))
        .collect();
    let mut states: Vec<&'static str> = Vec::new();
    for option in open() {
        if !states.contains(&option.to.name()) {
            states.push(option.to.name());
        }
    }
    (actions, states)
}

/// Replaces a 409's table lists with what the caller may do now.
pub(crate) fn with_options<S: StateMachine>(
    problem: Problem,
    options: &[MoveOption<S>],
) -> Problem {
    let (actions, states) = allowed(options);
    problem
        .with("allowed_next_states", states)
        .with("allowed_actions", actions)
}

/// The 409 of a move the table allows and a guard blocks.
pub(crate) fn blocked<S: StateMachine>(
    from: S,
    requested: Move<S>,
    verdict: Verdict,
    resource: &str,
) -> Problem {
    let blockers = verdict.into_blockers();
    let reasons: Vec<&str> = blockers.iter().map(Blocker::message).collect();
    let reasons = reasons.join("; ");
    let problem = match requested {
        Move::Action(action) => Problem::new(
            ProblemKind::TransitionBlocked,
            format!("cannot {} {resource} now: {reasons}", action.name()),
        ),
        Move::To(target) => Problem::new(
            ProblemKind::TransitionBlocked,
            format!("cannot move {resource} to {} now: {reasons}", target.name()),
        ),
    }
    .with("resource", S::RESOURCE)
    .with("current_state", from.name());
    let problem = match requested {
        Move::Action(action) => problem.with("action", action.name()),
        Move::To(target) => problem.with("requested_state", target.name()),
    };
    problem.with(
        "blockers",
        serde_json::to_value(&blockers).unwrap_or_default(),
    )
}

/// The 403 of an action the caller may not request. It names the action
/// only: not the permission, nor the resource's state.
pub(crate) fn forbidden<S: StateMachine>(action: S::Action, resource: &str) -> Problem {
    Problem::new(
        ProblemKind::Forbidden,
        format!("you may not {} {resource}", action.name()),
    )
    .with("resource", S::RESOURCE)
    .with("action", action.name())
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
        StoreError::Unstorable(reason) => Problem::new(
            ProblemKind::InvalidInput,
            format!("{resource} cannot be stored: {reason}"),
        ),
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
