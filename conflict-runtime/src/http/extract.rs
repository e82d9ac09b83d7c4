//! Extractors: a request parsed into the domain's terms (an id, an action,
//! a [`MoveSpec`]), every rejection a problem body built in `problem`.

use std::marker::PhantomData;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::etag::{self, MalformedHeader};
use super::problem::{self, Problem, input_problem, invalid_input, no_such_id, rejection};
use crate::machine::{Action, NameKind, StateMachine, UnknownName};
use crate::moves::{Input, InputError, MoveSpec, from_object};
use crate::store::{Expected, Versioned};

fn rejection_problem(status: StatusCode, text: String, instance: &str) -> Problem {
    rejection(status, text).with_instance(instance)
}

fn malformed_header(error: &MalformedHeader, instance: &str) -> Problem {
    problem::malformed(error.to_string()).with_instance(instance)
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
    raw.parse()
        .map_err(|_| no_such_id(resource, raw).with_instance(instance))
}

/// The `{id}` path parameter of a resource of machine `S`, parsed. An id
/// that does not parse is a 404 problem: it names nothing that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceId<Id, S> {
    pub(super) id: Id,
    pub(super) instance: String,
    machine: PhantomData<fn() -> S>,
}

impl<Id, S> ResourceId<Id, S> {
    /// The id.
    pub fn into_inner(self) -> Id {
        self.id
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
        parse_target::<S>(F::NAME, &headers, &body)
            .map(|(target, _)| TargetState(target, PhantomData))
            .map_err(|error| input_problem::<S>(error).with_instance(instance))
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

/// The target state named by member `field` of a JSON body, and the rest
/// of the body: the input of the action that leads there.
fn parse_target<S: StateMachine>(
    field: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(S, Value), InputError> {
    if !is_json(headers) {
        return Err(InputError::Unsupported(format!(
            "send the target state as JSON, with `Content-Type: application/json`: {{\"{field}\": \"...\"}}"
        )));
    }
    let mut value: Value =
        serde_json::from_slice(body).map_err(|error| InputError::Syntax(error.to_string()))?;
    let Some(named) = value
        .as_object_mut()
        .and_then(|members| members.remove(field))
    else {
        return Err(InputError::NoState(format!(
            "expected a JSON object with a `{field}` member naming the target state"
        )));
    };
    let Value::String(name) = named else {
        return Err(InputError::NoState(format!(
            "`{field}` must be a string naming a state"
        )));
    };
    let target = S::parse_name(&name).map_err(InputError::UnknownState)?;
    Ok((target, value))
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

/// The `explain` query parameter (`?explain=true`): whether to list every
/// move with its blockers. `true` or `1`, `false` or `0`; anything else
/// (an empty value too) is a 400 problem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Explain(pub bool);

impl<St: Send + Sync> FromRequestParts<St> for Explain {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let mut explain = false;
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if name != "explain" {
                continue;
            }
            explain = match value {
                "true" | "1" => true,
                "false" | "0" => false,
                other => {
                    return Err(problem::malformed(format!(
                        "`explain` is `true` or `false`, not `{}`",
                        other.chars().take(64).collect::<String>()
                    ))
                    .with_instance(parts.uri.path()));
                }
            };
        }
        Ok(Explain(explain))
    }
}

/// A JSON object read into `T`: like [`JsonBody`], but a body that is not
/// an object is a 422 (serde reads a struct from an array too), and a member
/// that does not fit is a 422 naming it in `field`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonObject<T>(pub T);

impl<T, St> FromRequest<St> for JsonObject<T>
where
    T: DeserializeOwned,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &St) -> Result<Self, Problem> {
        let instance = request.uri().path().to_owned();
        let JsonBody(value) = JsonBody::<serde_json::Value>::from_request(request, state).await?;
        from_object(&value)
            .map(JsonObject)
            .map_err(|invalid| invalid_input(&invalid).with_instance(instance))
    }
}

/// `If-None-Match` of a `GET`: answers 304 when the client's copy is current.
#[derive(Clone, Debug, Default)]
pub struct Conditional(pub(super) Option<Expected>);

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
    pub(super) spec: MoveSpec<S, Id>,
    pub(super) instance: String,
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
        let action = match params.iter().find(|(key, _)| *key == "action") {
            Some((_, action)) => Some(parse_action::<S>(action, &instance)?),
            None => None,
        };
        let headers = parts.headers.clone();
        // Read for every move: an action's typed input is in the body too.
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| {
                rejection_problem(rejection.status(), rejection.body_text(), &instance)
            })?;
        let spec = match action {
            Some(action) => MoveSpec::action(id, action).with_input(action_input(&headers, body)),
            // A body that names no state is refused in its turn, after the
            // checks that come before the body's (404, 428).
            None => match parse_target::<S>(F::NAME, &headers, &body) {
                Ok((target, rest)) => MoveSpec::to(id, target).with_input(Input::Value(rest)),
                Err(error) => MoveSpec::unreadable_target(id, error),
            },
        };
        Ok(MoveRequest {
            spec: spec.expecting(if_match),
            instance,
            field: PhantomData,
        })
    }
}

/// The input of a move by action: the body, read only if the action takes
/// input.
fn action_input(headers: &HeaderMap, body: Bytes) -> Input {
    if body.iter().all(u8::is_ascii_whitespace) {
        Input::None
    } else if is_json(headers) {
        Input::Json(body)
    } else {
        Input::Unreadable(InputError::Unsupported(
            "send the action's input as JSON, with `Content-Type: application/json`".to_owned(),
        ))
    }
}
