//! RFC 9457 problem details: the one shape of every error response.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

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
    /// 409: a request with the same `Idempotency-Key` is still being handled.
    IdempotencyKeyInFlight,
    /// 422: the `Idempotency-Key` was used for a different request.
    IdempotencyKeyReused,
    /// 500: something unexpected; the body tells nothing of it.
    Internal,
}

impl ProblemKind {
    /// The stable URI naming the kind (the `type` member).
    #[must_use]
    pub fn type_uri(self) -> &'static str {
        match self {
            ProblemKind::IllegalTransition => "urn:conflict:problem:illegal-transition",
            ProblemKind::TransitionBlocked => "urn:conflict:problem:transition-blocked",
            ProblemKind::Forbidden => "urn:conflict:problem:forbidden",
            ProblemKind::Contended => "urn:conflict:problem:contended",
            ProblemKind::AlreadyExists => "urn:conflict:problem:already-exists",
            ProblemKind::NotFound => "urn:conflict:problem:not-found",
            ProblemKind::UnknownAction => "urn:conflict:problem:unknown-action",
            ProblemKind::UnknownState => "urn:conflict:problem:unknown-state",
            ProblemKind::MalformedRequest => "urn:conflict:problem:malformed-request",
            ProblemKind::InvalidInput => "urn:conflict:problem:invalid-input",
            ProblemKind::UnsupportedMediaType => "urn:conflict:problem:unsupported-media-type",
            ProblemKind::PayloadTooLarge => "urn:conflict:problem:payload-too-large",
            ProblemKind::PreconditionFailed => "urn:conflict:problem:precondition-failed",
            ProblemKind::PreconditionRequired => "urn:conflict:problem:precondition-required",
            ProblemKind::MethodNotAllowed => "urn:conflict:problem:method-not-allowed",
            ProblemKind::NotAcceptable => "urn:conflict:problem:not-acceptable",
            ProblemKind::IdempotencyKeyInFlight => "urn:conflict:problem:idempotency-key-in-flight",
            ProblemKind::IdempotencyKeyReused => "urn:conflict:problem:idempotency-key-reused",
            ProblemKind::Internal => "urn:conflict:problem:internal",
        }
    }

    /// A short summary that does not change between occurrences.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::IllegalTransition => "Illegal state transition",
            ProblemKind::TransitionBlocked => "Transition blocked",
            ProblemKind::Forbidden => "Forbidden",
            ProblemKind::Contended => "Resource busy",
            ProblemKind::AlreadyExists => "Resource already exists",
            ProblemKind::NotFound => "Not found",
            ProblemKind::UnknownAction => "Unknown action",
            ProblemKind::UnknownState => "Unknown state",
            ProblemKind::MalformedRequest => "Malformed request",
            ProblemKind::InvalidInput => "Invalid input",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::PayloadTooLarge => "Payload too large",
            ProblemKind::PreconditionFailed => "Precondition failed",
            ProblemKind::PreconditionRequired => "Precondition required",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::NotAcceptable => "Not acceptable",
            ProblemKind::IdempotencyKeyInFlight => "Request in progress",
            ProblemKind::IdempotencyKeyReused => "Idempotency key reused",
            ProblemKind::Internal => "Internal server error",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::IllegalTransition
            | ProblemKind::TransitionBlocked
            | ProblemKind::AlreadyExists
            | ProblemKind::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            ProblemKind::NotFound | ProblemKind::UnknownAction => StatusCode::NOT_FOUND,
            ProblemKind::UnknownState
            | ProblemKind::InvalidInput
            | ProblemKind::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::MalformedRequest => StatusCode::BAD_REQUEST,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemKind::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::Contended => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
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
