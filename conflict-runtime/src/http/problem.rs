//! RFC 9457 problem details: the one shape of every error response.

//!
//! Every problem the crate answers with is built here: the kinds and their
//! statuses in one table, and the mapping of the domain's refusals
//! ([`MoveError`], [`StoreError`], [`InputError`]) to problem bodies.

use std::borrow::Cow;
use std::fmt::Display;

use axum::http::header::{ETAG, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::etag::{etag, etag_text};
use crate::guard::Blocker;
use crate::machine::{Action, NameKind, StateMachine, TransitionError, UnknownName};
use crate::moves::{Allowed, InputError, Invalid, MoveError, MoveErrorKind};
use crate::store::{Move, StoreError};

/// The media type of a problem body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The kinds of problem this crate answers with. Each has a stable `type`
/// URI, a title and a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// 409: the move is not allowed from the current state.
    IllegalTransition,
    /// 409: the table allows the move, but a guard blocks it now; the body
    /// lists the `blockers`.
    TransitionBlocked,
    /// 403: the caller may not request this action.
    Forbidden,
    /// 503: the resource changed under every attempt to move it.
    Contended,
    /// 409: a different resource exists under this id.
    AlreadyExists,
    /// 404: no resource with this id, or no route.
    NotFound,
    /// 404: the path names no action of the machine.
    UnknownAction,
    /// 422: the body names no state of the machine.
    UnknownState,
    /// 400: the request is not well formed (JSON syntax, header syntax).
    MalformedRequest,
    /// 422: the request is well formed but its content is invalid.
    InvalidInput,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 413: the body is over the size limit.
    PayloadTooLarge,
    /// 412: `If-Match` does not match the current representation.
    PreconditionFailed,
    /// 428: the route requires `If-Match` and the request has none.
    PreconditionRequired,
    /// 405: the route does not serve this method.
    MethodNotAllowed,
    /// 406: no representation matches `Accept`.
    NotAcceptable,
    /// 410: what was asked for is no longer kept (events older than the
    /// retention).
    Gone,
    /// 409: a request with the same `Idempotency-Key` is still being handled.
    IdempotencyKeyInFlight,
    /// 422: the `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    /// 500: the resource is stored under a state (or its history under an
    /// action) this version of the machine does not declare; the body names
    /// the stored value.
    UnknownStored,
    /// 500: something unexpected; the body tells nothing of it.
    Internal,
}

impl ProblemKind {
    /// The one table of problem kinds: status, `type` URI and title.
    const fn row(self) -> (StatusCode, &'static str, &'static str) {
        use ProblemKind as K;
        use StatusCode as S;
        match self {
            K::IllegalTransition => (
                S::CONFLICT,
                "urn:conflict:problem:illegal-transition",
                "Illegal state transition",
            ),
            K::TransitionBlocked => (
                S::CONFLICT,
                "urn:conflict:problem:transition-blocked",
                "Transition blocked",
            ),
            K::Forbidden => (S::FORBIDDEN, "urn:conflict:problem:forbidden", "Forbidden"),
            K::Contended => (
                S::SERVICE_UNAVAILABLE,
                "urn:conflict:problem:contended",
                "Resource busy",
            ),
            K::AlreadyExists => (
                S::CONFLICT,
                "urn:conflict:problem:already-exists",
                "Resource already exists",
            ),
            K::NotFound => (S::NOT_FOUND, "urn:conflict:problem:not-found", "Not found"),
            K::UnknownAction => (
                S::NOT_FOUND,
                "urn:conflict:problem:unknown-action",
                "Unknown action",
            ),
            K::UnknownState => (
                S::UNPROCESSABLE_ENTITY,
                "urn:conflict:problem:unknown-state",
                "Unknown state",
            ),
            K::MalformedRequest => (
                S::BAD_REQUEST,
                "urn:conflict:problem:malformed-request",
                "Malformed request",
            ),
            K::InvalidInput => (
                S::UNPROCESSABLE_ENTITY,
                "urn:conflict:problem:invalid-input",
                "Invalid input",
            ),
            K::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "urn:conflict:problem:unsupported-media-type",
                "Unsupported media type",
            ),
            K::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "urn:conflict:problem:payload-too-large",
                "Payload too large",
            ),
            K::PreconditionFailed => (
                S::PRECONDITION_FAILED,
                "urn:conflict:problem:precondition-failed",
                "Precondition failed",
            ),
            K::PreconditionRequired => (
                S::PRECONDITION_REQUIRED,
                "urn:conflict:problem:precondition-required",
                "Precondition required",
            ),
            K::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "urn:conflict:problem:method-not-allowed",
                "Method not allowed",
            ),
            K::NotAcceptable => (
                S::NOT_ACCEPTABLE,
                "urn:conflict:problem:not-acceptable",
                "Not acceptable",
            ),
            K::Gone => (S::GONE, "urn:conflict:problem:gone", "Gone"),
            K::IdempotencyKeyInFlight => (
                S::CONFLICT,
                "urn:conflict:problem:idempotency-key-in-flight",
                "Request in progress",
            ),
            K::IdempotencyKeyReused => (
                S::UNPROCESSABLE_ENTITY,
                "urn:conflict:problem:idempotency-key-reused",
                "Idempotency key reused",
            ),
            K::UnknownStored => (
                S::INTERNAL_SERVER_ERROR,
                "urn:conflict:problem:unknown-stored-name",
                "Stored under a name the machine does not declare",
            ),
            K::Internal => (
                S::INTERNAL_SERVER_ERROR,
                "urn:conflict:problem:internal",
                "Internal server error",
            ),
        }
    }

    /// The stable URI naming the kind (the `type` member).
    #[must_use]
    pub const fn type_uri(self) -> &'static str {
        self.row().1
    }

    /// A short summary that does not change between occurrences.
    #[must_use]
    pub const fn title(self) -> &'static str {
        self.row().2
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        self.row().0
    }

    /// The kind a refused move answers with.
    #[must_use]
    pub const fn of_move(kind: MoveErrorKind) -> ProblemKind {
        match kind {
            MoveErrorKind::NotFound => ProblemKind::NotFound,
            MoveErrorKind::Forbidden => ProblemKind::Forbidden,
            MoveErrorKind::PreconditionRequired => ProblemKind::PreconditionRequired,
            MoveErrorKind::PreconditionFailed => ProblemKind::PreconditionFailed,
            MoveErrorKind::UnsupportedInput => ProblemKind::UnsupportedMediaType,
            MoveErrorKind::MalformedInput => ProblemKind::MalformedRequest,
            MoveErrorKind::InvalidInput | MoveErrorKind::Unstorable => ProblemKind::InvalidInput,
            MoveErrorKind::UnknownState => ProblemKind::UnknownState,
            MoveErrorKind::Illegal => ProblemKind::IllegalTransition,
            MoveErrorKind::Blocked => ProblemKind::TransitionBlocked,
            MoveErrorKind::Contended => ProblemKind::Contended,
            MoveErrorKind::UnknownStored => ProblemKind::UnknownStored,
            MoveErrorKind::Backend => ProblemKind::Internal,
        }
    }
}

/// An `application/problem+json` response (RFC 9457): `type`, `title`,
/// `status`, `detail`, `instance` and extension members.
///
/// ```
/// use conflict_runtime::http::{Problem, ProblemKind};
///
/// let problem = Problem::new(ProblemKind::InvalidInput, "quantity must be at least 1")
///     .with_instance("/orders")
///     .with("field", "quantity");
/// assert_eq!(problem.status(), 422);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Problem(Box<Details>);

// Boxed: a `Result<_, Problem>` stays one pointer wide on the success path.
#[derive(Clone, Debug)]
struct Details {
    status: StatusCode,
    type_uri: Cow<'static, str>,
    title: Cow<'static, str>,
    detail: String,
    instance: Option<String>,
    extensions: Vec<(Cow<'static, str>, Value)>,
    headers: HeaderMap,
}

/// Longest `detail` sent: messages that quote input stay readable and small.
const DETAIL_LIMIT: usize = 512;

impl Problem {
    /// A problem of one of this crate's kinds.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem::custom(kind.status(), kind.type_uri(), kind.title(), detail)
    }

    /// A problem of an application's own kind.
    pub fn custom(
        status: StatusCode,
        type_uri: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        let mut detail = detail.into();
        if let Some((cut, _)) = detail.char_indices().nth(DETAIL_LIMIT) {
            detail.truncate(cut);
            detail.push('…');
        }
        Problem(Box::new(Details {
            status,
            type_uri: type_uri.into(),
            title: title.into(),
            detail,
            instance: None,
            extensions: Vec::new(),
            headers: HeaderMap::new(),
        }))
    }

    /// The generic 500: nothing about the cause reaches the client.
    pub fn internal() -> Self {
        Problem::new(
            ProblemKind::Internal,
            "the server failed to handle the request; it has been logged",
        )
    }

    /// Names the request that had the problem (usually its path).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.0.instance = Some(instance.into());
        self
    }

    /// Adds an extension member. Members named like the standard ones are
    /// ignored, so an extension can never contradict them.
    pub fn with(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if !matches!(&*name, "type" | "title" | "status" | "detail" | "instance") {
            self.0.extensions.retain(|(existing, _)| *existing != name);
            self.0.extensions.push((name, value.into()));
        }
        self
    }

    /// Adds a response header (an `ETag` beside a 412, say).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.insert(name, value);
        self
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The `type` URI.
    #[must_use]
    pub fn type_uri(&self) -> &str {
        &self.0.type_uri
    }

    /// The `title`.
    #[must_use]
    pub fn title(&self) -> &str {
        &self.0.title
    }

    /// The `detail`: what happened this time, for a person.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The `instance`, if set.
    #[must_use]
    pub fn instance(&self) -> Option<&str> {
        self.0.instance.as_deref()
    }

    /// An extension member.
    #[must_use]
    pub fn extension(&self, name: &str) -> Option<&Value> {
        self.0
            .extensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let details = &*self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &details.type_uri)?;
        map.serialize_entry("title", &details.title)?;
        map.serialize_entry("status", &details.status.as_u16())?;
        map.serialize_entry("detail", &details.detail)?;
        if let Some(instance) = &details.instance {
            map.serialize_entry("instance", instance)?;
        }
        for (name, value) in &details.extensions {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.0.title,
            self.0.status.as_u16(),
            self.0.detail
        )
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        // Only a non-string map key fails; extensions are named by strings.
        let Ok(body) = serde_json::to_vec(&self) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let Details {
            status, headers, ..
        } = *self.0;
        let mut response = (status, headers, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// `order 42`, or `order` when the id is not known: how details name the
/// resource.
fn label<S: StateMachine>(id: Option<&dyn Display>) -> String {
    match id {
        Some(id) => format!("{} {id}", S::RESOURCE),
        None => S::RESOURCE.to_owned(),
    }
}

impl Problem {
    /// The problem of a move of resource `id` that the engine refused: what
    /// a handler that calls [`Engine::perform`](crate::moves::Engine::perform)
    /// itself answers with.
    pub fn of_move<S: StateMachine>(error: MoveError<S>, id: &dyn Display) -> Problem {
        move_problem(error, id)
    }
}

/// The problem of a refused move of resource `id`.
pub(crate) fn move_problem<S: StateMachine>(error: MoveError<S>, id: &dyn Display) -> Problem {
    refusal(error, &label::<S>(Some(id)))
}

/// The problem of a refused move of `resource` (`order 42`).
fn refusal<S: StateMachine>(error: MoveError<S>, resource: &str) -> Problem {
    let kind = ProblemKind::of_move(error.kind());
    match error {
        MoveError::NotFound => {
            Problem::new(kind, format!("no {resource} exists")).with("resource", S::RESOURCE)
        }
        MoveError::Forbidden { action } => {
            // The action only: not the permission, nor the resource's state.
            Problem::new(kind, format!("you may not {} {resource}", action.name()))
                .with("resource", S::RESOURCE)
                .with("action", action.name())
        }
        MoveError::PreconditionRequired { version } => {
            let tag = etag_text(version);
            Problem::new(
                kind,
                format!(
                    "moving {resource} requires If-Match; fetch it and resend with If-Match: {tag}"
                ),
            )
            .with("etag", tag)
        }
        MoveError::PreconditionFailed { version, state } => {
            precondition_failed(resource, version, state)
        }
        MoveError::Input(error) => input_problem::<S>(error),
        MoveError::Illegal { refused, allowed } => {
            with_allowed(transition_problem(&refused, resource), &allowed)
        }
        MoveError::Blocked {
            current,
            requested,
            blockers,
            allowed,
        } => with_allowed(blocked(current, requested, &blockers, resource), &allowed),
        MoveError::Contended { .. } => Problem::new(
            kind,
            format!("{resource} changed under every attempt to move it; retry shortly"),
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
        MoveError::Unstorable(reason) => {
            Problem::new(kind, format!("{resource} cannot be stored: {reason}"))
        }
        MoveError::UnknownStored { what, stored } => {
            tracing::error!(
                kind = S::RESOURCE,
                resource = %resource,
                what,
                stored,
                "a stored name the machine does not declare"
            );
            Problem::new(
                kind,
                format!(
                    "{resource} is stored with the {what} \"{stored}\", which this version of the machine does not declare: declare it again, map it (an alias, or removed({stored} -> State)), or migrate the stored rows"
                ),
            )
            .with("resource", S::RESOURCE)
            .with(if what == "action" { "stored_action" } else { "stored_state" }, stored)
        }
        MoveError::Backend(cause) => {
            tracing::error!(error = %cause, resource = S::RESOURCE, "storage backend failed");
            Problem::internal()
        }
    }
}

/// The problem of input that cannot be used: 415, 400 or 422.
pub(crate) fn input_problem<S: StateMachine>(error: InputError) -> Problem {
    match error {
        InputError::Unsupported(detail) => Problem::new(ProblemKind::UnsupportedMediaType, detail),
        InputError::Syntax(detail) => Problem::new(
            ProblemKind::MalformedRequest,
            format!("the body is not JSON: {detail}"),
        ),
        InputError::Invalid(invalid) => invalid_input(&invalid),
        InputError::UnknownState(unknown) => Problem::from(unknown),
        InputError::NoState(detail) => {
            Problem::new(ProblemKind::InvalidInput, detail).with("known_states", S::NAMES.to_vec())
        }
    }
}

/// The 422 of a body that does not fit: `field` names the member.
pub(crate) fn invalid_input(invalid: &Invalid) -> Problem {
    Problem::new(ProblemKind::InvalidInput, invalid.sentence())
        .with("field", invalid.field().to_owned())
}

/// Replaces a 409's table lists with what the caller may do now.
fn with_allowed<S: StateMachine>(problem: Problem, allowed: &Allowed<S>) -> Problem {
    problem
        .with("allowed_next_states", state_names(allowed.states()))
        .with("allowed_actions", action_names(allowed.actions()))
}

/// The 409 of a move the table allows and a guard blocks.
fn blocked<S: StateMachine>(
    from: S,
    requested: Move<S>,
    blockers: &[Blocker],
    resource: &str,
) -> Problem {
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
        serde_json::to_value(blockers).unwrap_or_default(),
    )
}

fn state_names<S: StateMachine>(states: &[S]) -> Vec<&'static str> {
    states.iter().map(|s| s.name()).collect()
}

fn action_names<A: Action>(actions: &[A]) -> Vec<&'static str> {
    actions.iter().map(|a| a.name()).collect()
}

/// The 409 of an illegal move of `resource`, `cannot cancel order 42: it
/// is shipped`, without the lists of what is allowed instead.
fn transition_problem<S: StateMachine>(error: &TransitionError<S>, resource: &str) -> Problem {
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
}

/// The problem for a store's refusal of a request about resource `id`.
pub(crate) fn store_problem<S: StateMachine>(
    error: StoreError<S>,
    id: Option<&dyn Display>,
) -> Problem {
    let resource = label::<S>(id);
    match error {
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
        // The rest refuse reads and inserts as they refuse moves.
        other => refusal(MoveError::from(other), &resource),
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

/// The 412 of a create-only `PUT` that found a resource there.
pub(crate) fn already_there<S: StateMachine>(id: &dyn Display, version: u64, state: S) -> Problem {
    precondition_failed(&label::<S>(Some(id)), version, state)
}

/// The 404 of an id that does not parse: it names nothing that exists.
pub(crate) fn no_such_id(resource: &str, raw: &str) -> Problem {
    Problem::new(
        ProblemKind::NotFound,
        format!("no {resource} has the id `{raw}`"),
    )
    .with("resource", resource.to_owned())
}

/// The 404 of a path that no route serves.
pub(crate) fn no_route(path: &str) -> Problem {
    Problem::new(ProblemKind::NotFound, format!("no route serves `{path}`")).with_instance(path)
}

/// The 405 of a route that does not serve the method.
pub(crate) fn wrong_method(method: &axum::http::Method, path: &str) -> Problem {
    Problem::new(
        ProblemKind::MethodNotAllowed,
        format!("`{path}` does not serve {method}"),
    )
    .with_instance(path)
}

/// A request that is not well formed: a header's syntax, a query parameter.
pub(crate) fn malformed(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::MalformedRequest, detail)
}

/// A request whose content does not fit: a query parameter out of range.
pub(crate) fn invalid_value(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::InvalidInput, detail)
}

/// The 410 of something no longer kept.
pub(crate) fn gone(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::Gone, detail)
}

/// The 406 of an `Accept` that no representation matches.
pub(crate) fn not_acceptable(detail: impl Into<String>) -> Problem {
    Problem::new(ProblemKind::NotAcceptable, detail)
}

/// A request with an `Idempotency-Key` whose first request still runs.
pub(crate) fn key_in_flight() -> Problem {
    Problem::new(
        ProblemKind::IdempotencyKeyInFlight,
        "a request with this Idempotency-Key is still being handled; retry after it completes",
    )
}

/// An `Idempotency-Key` sent again with a different request.
pub(crate) fn key_reused() -> Problem {
    Problem::new(
        ProblemKind::IdempotencyKeyReused,
        "this Idempotency-Key was used for a different request; use a new key for a new request",
    )
}

/// Maps an axum rejection to the problem of the same status.
pub(crate) fn rejection(status: StatusCode, text: String) -> Problem {
    let kind = match status {
        StatusCode::BAD_REQUEST => ProblemKind::MalformedRequest,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemKind::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemKind::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemKind::InvalidInput,
        _ => {
            tracing::error!(%status, rejection = %text, "request extraction failed");
            return Problem::internal();
        }
    };
    Problem::new(kind, text)
}

impl<S: StateMachine> From<TransitionError<S>> for Problem {
    fn from(error: TransitionError<S>) -> Self {
        with_allowed(
            transition_problem(&error, S::RESOURCE),
            &Allowed::by_table(error.current()),
        )
    }
}

impl<S: StateMachine> From<StoreError<S>> for Problem {
    fn from(error: StoreError<S>) -> Self {
        store_problem(error, None)
    }
}

impl<S: StateMachine> From<MoveError<S>> for Problem {
    fn from(error: MoveError<S>) -> Self {
        refusal(error, S::RESOURCE)
    }
}

impl From<UnknownName> for Problem {
    /// An unknown action is a 404 (it names a path that does not exist); an
    /// unknown state is a 422 (a well-formed body naming no state).
    fn from(error: UnknownName) -> Self {
        let (kind, list) = match error.kind() {
            NameKind::Action => (ProblemKind::UnknownAction, "known_actions"),
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

impl<S: StateMachine> IntoResponse for MoveError<S> {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
