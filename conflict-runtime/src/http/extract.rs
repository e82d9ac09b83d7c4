//! Extractors whose every rejection is a problem body.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::etag::{self, MalformedHeader};
use super::problem::{Problem, ProblemKind};
use super::response::{Created, precondition_failed, store_problem};
use crate::machine::{Action, NameKind, StateMachine, UnknownName};
use crate::store::{Expected, Move, Resource, Store, StoreError, Versioned};

/// Maps an axum rejection to the problem of the same status.
fn rejection_problem(status: StatusCode, text: String, instance: &str) -> Problem {
    let kind = match status {
        StatusCode::BAD_REQUEST => ProblemKind::MalformedRequest,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemKind::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemKind::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemKind::InvalidInput,
        _ => {
            tracing::error!(%status, rejection = %text, "request extraction failed");
            return Problem::internal().with_instance(instance);
        }
    };
    Problem::new(kind, text).with_instance(instance)
}

fn malformed_header(error: &MalformedHeader, instance: &str) -> Problem {
    Problem::new(ProblemKind::MalformedRequest, error.to_string()).with_instance(instance)
}

async fn path_params<St: Send + Sync>(
    parts: &mut Parts,
    state: &St,
) -> Result<RawPathParams, Problem> {
    RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| {
            rejection_problem(rejection.status(), rejection.body_text(), parts.uri.path())
        })
}

/// The value of path parameter `name`; a route without it is a programming
/// error, answered as a 500 and logged.
fn param<'p>(params: &'p RawPathParams, name: &str, instance: &str) -> Result<&'p str, Problem> {
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .ok_or_else(|| {
            tracing::error!(param = name, "route has no `{{{name}}}` path parameter");
            Problem::internal().with_instance(instance)
        })
}

fn parse_id<Id: FromStr>(raw: &str, resource: &str, instance: &str) -> Result<Id, Problem> {
    // An id that cannot exist names no resource: 404, like any unknown id.
    raw.parse().map_err(|_| {
        Problem::new(
            ProblemKind::NotFound,
            format!("no {resource} has the id `{raw}`"),
        )
        .with_instance(instance)
        .with("resource", resource.to_owned())
    })
}

/// The `{id}` path parameter of a resource of machine `S`, parsed. An id
/// that does not parse is a 404 problem: it names nothing that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceId<Id, S> {
    id: Id,
    instance: String,
    machine: PhantomData<fn() -> S>,
}

impl<Id, S> ResourceId<Id, S> {
    /// The id.
    pub fn into_inner(self) -> Id {
        self.id
    }
}

impl<Id: Display + Clone, S: StateMachine> ResourceId<Id, S> {
    /// Loads the resource; an absent one is a 404 problem naming it.
    ///
    /// # Errors
    /// The [`Problem`] for the store's refusal.
    pub async fn load<R, St>(&self, store: &St) -> Result<Versioned<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        store.get(&self.id).await.map_err(|error| {
            store_problem(error, Some(&self.id)).with_instance(self.instance.as_str())
        })
    }

    /// Creates `value` under this id (a `PUT` to the resource's own path),
    /// at most once: the identical resource again is a 200 (a retry), a
    /// different one a 409, or a 412 when `If-None-Match` (`*` makes the
    /// request create-only) matches what is there.
    ///
    /// # Errors
    /// The [`Problem`] for the refusal.
    pub async fn create<R, St>(
        &self,
        store: &St,
        value: R,
        conditional: &Conditional,
    ) -> Result<Created<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        let instance = self.instance.as_str();
        match store.insert(self.id.clone(), value).await {
            Ok(inserted) => Ok(Created::new(inserted, instance)),
            Err(StoreError::AlreadyExists { version, state })
                if conditional.0.as_ref().is_some_and(|e| e.matches(version)) =>
            {
                let resource = format!("{} {}", S::RESOURCE, self.id);
                Err(precondition_failed(&resource, version, state).with_instance(instance))
            }
            Err(error) => Err(store_problem(error, Some(&self.id)).with_instance(instance)),
        }
    }
}

impl<Id, S> std::ops::Deref for ResourceId<Id, S> {
    type Target = Id;

    fn deref(&self) -> &Id {
        &self.id
    }
}

impl<Id, S, St> FromRequestParts<St> for ResourceId<Id, S>
where
    Id: FromStr + Send,
    S: StateMachine,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Problem> {
        let params = path_params(parts, state).await?;
        let instance = parts.uri.path();
        let id = parse_id(param(&params, "id", instance)?, S::RESOURCE, instance)?;
        Ok(ResourceId {
            id,
            instance: instance.to_owned(),
            machine: PhantomData,
        })
    }
}

/// The `{action}` path parameter, parsed as an action of `S`. An unknown
/// action is a 404 problem listing the known ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionPath<S: StateMachine>(pub S::Action);

fn parse_action<S: StateMachine>(raw: &str, instance: &str) -> Result<S::Action, Problem> {
    S::Action::from_name(raw).ok_or_else(|| {
        Problem::from(UnknownName::new(
            NameKind::Action,
            S::RESOURCE,
            raw,
            S::Action::NAMES,
        ))
        .with_instance(instance)
    })
}

impl<S: StateMachine, St: Send + Sync> FromRequestParts<St> for ActionPath<S> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Problem> {
        let params = path_params(parts, state).await?;
        let instance = parts.uri.path();
        parse_action::<S>(param(&params, "action", instance)?, instance).map(ActionPath)
    }
}

/// Names the body member that holds a requested target state.
pub trait StateField {
    /// The member's name.
    const NAME: &'static str;
}

/// The default body member for a target state: `{"status": "shipped"}`.
#[derive(Clone, Copy, Debug)]
pub struct StatusField;

impl StateField for StatusField {
    const NAME: &'static str = "status";
}

/// A JSON body naming a target state (`{"status": "shipped"}`; the member is
/// [`StatusField`] unless another [`StateField`] is given).
///
/// Rejections: wrong media type 415, over the body limit 413, malformed
/// JSON 400, a missing or unknown state 422 listing the known states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetState<S, F = StatusField>(pub S, PhantomData<fn() -> F>);

impl<S, F, St> FromRequest<St> for TargetState<S, F>
where
    S: StateMachine,
    F: StateField,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &St) -> Result<Self, Problem> {
        let instance = request.uri().path().to_owned();
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                rejection_problem(rejection.status(), rejection.body_text(), &instance)
            })?;
        parse_target::<S>(F::NAME, &headers, &body, &instance)
            .map(|target| TargetState(target, PhantomData))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse_target<S: StateMachine>(
    field: &str,
    headers: &HeaderMap,
    body: &[u8],
    instance: &str,
) -> Result<S, Problem> {
    if !is_json(headers) {
        return Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            format!("send the target state as JSON, with `Content-Type: application/json`: {{\"{field}\": \"...\"}}"),
        )
        .with_instance(instance));
    }
    let axum::Json(value) =
        axum::Json::<serde_json::Value>::from_bytes(body).map_err(|rejection| {
            rejection_problem(rejection.status(), rejection.body_text(), instance)
        })?;
    let invalid = |detail: String| {
        Problem::new(ProblemKind::InvalidInput, detail)
            .with_instance(instance)
            .with("known_states", S::NAMES.to_vec())
    };
    let name = match value.get(field) {
        Some(serde_json::Value::String(name)) => name,
        Some(_) => {
            return Err(invalid(format!(
                "`{field}` must be a string naming a state"
            )));
        }
        None => {
            return Err(invalid(format!(
                "expected a JSON object with a `{field}` member naming the target state"
            )));
        }
    };
    S::parse_name(name).map_err(|unknown| Problem::from(unknown).with_instance(instance))
}

/// `axum::Json`, with every rejection a problem body: wrong media type 415,
/// over the limit 413, malformed JSON 400, wrong shape 422.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonBody<T>(pub T);

impl<T, St> FromRequest<St> for JsonBody<T>
where
    T: DeserializeOwned,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &St) -> Result<Self, Problem> {
        let instance = request.uri().path().to_owned();
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|rejection| {
                rejection_problem(rejection.status(), rejection.body_text(), &instance)
            })
    }
}

/// `If-None-Match` of a `GET`: answers 304 when the client's copy is current.
#[derive(Clone, Debug, Default)]
pub struct Conditional(Option<Expected>);

impl Conditional {
    /// 304 with the `ETag` when `If-None-Match` matches `resource`, else the
    /// resource as a 200.
    pub fn respond<Id, R: serde::Serialize>(self, resource: Versioned<Id, R>) -> Response {
        match self.0 {
            Some(expected) if expected.matches(resource.version()) => (
                StatusCode::NOT_MODIFIED,
                [(axum::http::header::ETAG, etag::etag(resource.version()))],
            )
                .into_response(),
            _ => resource.into_response(),
        }
    }
}

impl<St: Send + Sync> FromRequestParts<St> for Conditional {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Problem> {
        etag::if_none_match(&parts.headers)
            .map(Conditional)
            .map_err(|error| malformed_header(&error, parts.uri.path()))
    }
}

enum Source<S: StateMachine> {
    Action(S::Action),
    Body { headers: HeaderMap, body: Bytes },
}

/// A requested move of resource `{id}`: the one extractor behind a handler
/// that serves every action.
///
/// It reads the `{id}` path parameter (404 when it does not parse), the
/// `{action}` path parameter when the route has one (404 listing the known
/// actions when unknown), otherwise a JSON body naming the target state
/// (see [`TargetState`]), and `If-Match` (400 when malformed).
/// [`apply`](MoveRequest::apply) then answers in RFC 9110 order: unknown id
/// 404, missing required precondition 428, stale `If-Match` 412, bad body
/// 415/413/400/422, illegal move 409, and commits atomically through the
/// store.
///
/// ```
/// use axum::{Router, extract::State, routing::post};
/// use conflict_runtime::http::{MoveRequest, Problem};
/// use conflict_runtime::store::{MemoryStore, Versioned};
/// # use conflict_runtime::{StateMachine, store::Resource};
/// # #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
/// # enum DoorState { #[state(initial, on(open -> Open))] Closed, #[state(on(close -> Closed))] Open }
/// # #[derive(Clone, PartialEq, serde::Serialize)]
/// # struct Door { state: DoorState }
/// # impl Resource for Door {
/// #     type State = DoorState;
/// #     fn state(&self) -> DoorState { self.state }
/// #     fn set_state(&mut self, state: DoorState) { self.state = state }
/// # }
///
/// async fn act(
///     State(doors): State<MemoryStore<Door>>,
///     request: MoveRequest<DoorState, u64>,
/// ) -> Result<Versioned<u64, Door>, Problem> {
///     request.apply(&doors).await
/// }
///
/// let app: Router = Router::new()
///     .route("/doors/{id}/{action}", post(act))
///     .route("/doors/{id}", axum::routing::patch(act))
///     .with_state(MemoryStore::<Door>::new());
/// ```
pub struct MoveRequest<S: StateMachine, Id, F = StatusField> {
    id: Id,
    instance: String,
    source: Source<S>,
    if_match: Option<Expected>,
    require_if_match: bool,
    field: PhantomData<fn() -> F>,
}

impl<S, Id, F, St> FromRequest<St> for MoveRequest<S, Id, F>
where
    S: StateMachine,
    Id: FromStr + Send,
    F: StateField,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &St) -> Result<Self, Problem> {
        let (mut parts, body) = request.into_parts();
        let instance = parts.uri.path().to_owned();
        let params = path_params(&mut parts, state).await?;
        let id = parse_id(param(&params, "id", &instance)?, S::RESOURCE, &instance)?;
        let if_match =
            etag::if_match(&parts.headers).map_err(|error| malformed_header(&error, &instance))?;
        let source = if let Some((_, action)) = params.iter().find(|(key, _)| *key == "action") {
            Source::Action(parse_action::<S>(action, &instance)?)
        } else {
            let headers = parts.headers.clone();
            let body = Bytes::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(|rejection| {
                    rejection_problem(rejection.status(), rejection.body_text(), &instance)
                })?;
            Source::Body { headers, body }
        };
        Ok(MoveRequest {
            id,
            instance,
            source,
            if_match,
            require_if_match: false,
            field: PhantomData,
        })
    }
}

impl<S: StateMachine, Id: Display, F: StateField> MoveRequest<S, Id, F> {
    /// Refuses the move with 428 unless the request carries `If-Match`:
    /// for routes where a blind overwrite would lose someone's update.
    #[must_use]
    pub fn require_if_match(mut self) -> Self {
        self.require_if_match = true;
        self
    }

    /// The id of the resource to move.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// Checks and commits the move through `store`, in one atomic step of
    /// the store, and answers with the new representation or the problem.
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails, in the order given on
    /// [`MoveRequest`].
    pub async fn apply<R, St>(self, store: &St) -> Result<Versioned<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        let instance = self.instance.as_str();
        let located = |problem: Problem| problem.with_instance(instance);
        let current = store
            .get(&self.id)
            .await
            .map_err(|error| located(store_problem(error, Some(&self.id))))?;
        match &self.if_match {
            None if self.require_if_match => {
                let tag = etag::etag_text(current.version());
                return Err(located(
                    Problem::new(
                        ProblemKind::PreconditionRequired,
                        format!(
                            "moving {} {} requires If-Match; fetch it and resend with If-Match: {tag}",
                            S::RESOURCE,
                            self.id,
                        ),
                    )
                    .with("etag", tag),
                ));
            }
            // Early answer only: the store checks the version again atomically.
            Some(expected) if !expected.matches(current.version()) => {
                let resource = format!("{} {}", S::RESOURCE, self.id);
                return Err(located(precondition_failed(
                    &resource,
                    current.version(),
                    current.value().state(),
                )));
            }
            _ => {}
        }
        let requested = match &self.source {
            Source::Action(action) => Move::Action(*action),
            Source::Body { headers, body } => {
                Move::To(parse_target::<S>(F::NAME, headers, body, instance)?)
            }
        };
        store
            .apply(&self.id, requested, self.if_match.as_ref())
            .await
            .map_err(|error| located(store_problem(error, Some(&self.id))))
    }
}
