//! Extractors whose every rejection is a problem body.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::etag::{self, MalformedHeader};
use super::problem::{Problem, ProblemKind};
use super::response::{
    Created, History, Moved, blocked, forbidden, precondition_failed, store_problem,
    transition_problem, with_options,
};
use super::rules::{
    Anonymous, Caller, Committed, InputError, InputFn, Invalid, ParsedInput, Rules, body_json,
    from_object,
};
use crate::machine::{Action, NameKind, StateMachine, UnknownName};
use crate::store::{Change, Expected, Move, Note, Resource, Store, StoreError, Versioned};

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

    /// The resource's committed moves, oldest first; an absent resource is
    /// a 404 problem naming it.
    ///
    /// # Errors
    /// The [`Problem`] for the store's refusal.
    pub async fn history<R, St>(&self, store: &St) -> Result<History<S>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        store.history(&self.id).await.map(History).map_err(|error| {
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
                    return Err(Problem::new(
                        ProblemKind::MalformedRequest,
                        format!(
                            "`explain` is `true` or `false`, not `{}`",
                            other.chars().take(64).collect::<String>()
                        ),
                    )
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
            .map_err(|invalid| invalid_input(&invalid, &instance))
    }
}

/// The 422 of a body that does not fit: `field` names the member.
fn invalid_input(invalid: &Invalid, instance: &str) -> Problem {
    let detail = if invalid.field().is_empty() {
        invalid.message().to_owned()
    } else {
        format!("`{}`: {}", invalid.field(), invalid.message())
    };
    Problem::new(ProblemKind::InvalidInput, detail)
        .with_instance(instance)
        .with("field", invalid.field().to_owned())
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
    /// The `{action}` of the path; `None` for a move by target state.
    action: Option<S::Action>,
    headers: HeaderMap,
    body: Bytes,
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
        Ok(MoveRequest {
            id,
            instance,
            action,
            headers,
            body,
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
    /// Guards declared on the derive apply; for permissions, typed input,
    /// runtime guards and hooks use [`apply_with`](MoveRequest::apply_with).
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails, in the order given on
    /// [`MoveRequest`].
    pub async fn apply<R, St>(self, store: &St) -> Result<Versioned<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        self.apply_with(store, &Rules::new(), &Anonymous)
            .await
            .map(Moved::into_resource)
    }

    /// Checks and commits the move under `rules` on behalf of `caller`.
    ///
    /// The answers, in order: unknown id 404; an action the caller lacks
    /// the permission for 403 (naming only the action); missing required
    /// `If-Match` 428; stale `If-Match` 412; a malformed body 400 (415 when
    /// not JSON), an invalid one 422 naming the field; a move the table does
    /// not allow 409 `illegal-transition`; a move a guard blocks 409
    /// `transition-blocked` with the `blockers`. Both 409s list the moves
    /// this caller may make instead, after guards and permissions.
    ///
    /// A guard decides on one version of the resource; the move commits only
    /// if the resource is still at that version, and is checked again on the
    /// new one otherwise. The history records the caller's
    /// [`actor`](Caller::actor) and the input. Hooks run after the commit.
    ///
    /// # Errors
    /// The [`Problem`] for the first check that fails.
    pub async fn apply_with<R, St>(
        self,
        store: &St,
        rules: &Rules<R>,
        caller: &dyn Caller,
    ) -> Result<Moved<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        let instance = self.instance.as_str();
        let located = |problem: Problem| problem.with_instance(instance);
        let mut current = store
            .get(&self.id)
            .await
            .map_err(|error| located(store_problem(error, Some(&self.id))))?;
        if let Some(action) = self.action
            && !rules.permits(caller, action)
        {
            return Err(located(forbidden::<S>(action, &self.resource())));
        }
        if self.if_match.is_none() && self.require_if_match {
            let tag = etag::etag_text(current.version());
            return Err(located(
                Problem::new(
                    ProblemKind::PreconditionRequired,
                    format!(
                        "moving {} requires If-Match; fetch it and resend with If-Match: {tag}",
                        self.resource(),
                    ),
                )
                .with("etag", tag),
            ));
        }
        let requested = match self.action {
            Some(action) => Move::Action(action),
            None => Move::To(parse_target::<S>(
                F::NAME,
                &self.headers,
                &self.body,
                instance,
            )?),
        };
        // An action's input is checked before the move is, even a move that
        // turns out a no-op. A move by target is checked against the input
        // of the action that always leads there, if there is one; the action
        // that leads there from the current state is known later.
        let checked_action = match requested {
            Move::Action(action) => Some(action),
            Move::To(target) => S::Action::ALL
                .iter()
                .copied()
                .find(|&a| a.target() == Some(target) && rules.input_of(a).is_some()),
        };
        let action_input = match checked_action.and_then(|a| Some((a, rules.input_of(a)?))) {
            Some((action, parse)) => Some((action, self.input(parse)?)),
            None => None,
        };
        for _ in 0..MOVE_ATTEMPTS {
            let attempt = self
                .attempt(
                    store,
                    rules,
                    caller,
                    current,
                    requested,
                    action_input.as_ref(),
                )
                .await
                .map_err(located)?;
            match attempt {
                Attempt::Done(moved) => return Ok(moved),
                Attempt::Stale => {
                    current = store
                        .get(&self.id)
                        .await
                        .map_err(|error| located(store_problem(error, Some(&self.id))))?;
                }
            }
        }
        Err(located(
            Problem::new(
                ProblemKind::Contended,
                format!(
                    "{} changed under every attempt to move it; retry shortly",
                    self.resource()
                ),
            )
            .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
        ))
    }

    /// `order 42`, for messages.
    fn resource(&self) -> String {
        format!("{} {}", S::RESOURCE, self.id)
    }

    /// Decides the move on `current` and commits it on that version.
    async fn attempt<R, St>(
        &self,
        store: &St,
        rules: &Rules<R>,
        caller: &dyn Caller,
        current: Versioned<Id, R>,
        requested: Move<S>,
        action_input: Option<&(S::Action, ParsedInput<R>)>,
    ) -> Result<Attempt<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: Store<R, Id = Id>,
    {
        // Early answer only: the store checks the version again atomically.
        if let Some(expected) = &self.if_match
            && !expected.matches(current.version())
        {
            return Err(precondition_failed(
                &self.resource(),
                current.version(),
                current.value().state(),
            ));
        }
        let from = current.value().state();
        let action = match requested {
            Move::Action(action) => Some(action),
            Move::To(target) => by_target(rules, caller, from, target, &self.resource())?,
        };
        let to = match requested.decide(from) {
            Ok(Some(to)) => to,
            Ok(None) => return Ok(Attempt::Done(Moved::unchanged(current))),
            Err(refused) => {
                let problem = transition_problem(&refused, Some(&self.id));
                if !rules.narrows() {
                    return Err(problem);
                }
                let options = rules.options(current.value(), caller).await;
                return Err(with_options(problem, &options));
            }
        };
        let parsed;
        let input = match (action_input, action.and_then(|a| rules.input_of(a))) {
            (Some((checked, input)), _) if Some(*checked) == action => Some(input),
            (_, Some(parse)) => {
                parsed = self.input(parse)?;
                Some(&parsed)
            }
            (_, None) => None,
        };
        let guarded = rules.is_guarded(from, action, to);
        if guarded {
            let verdict = rules.verdict(current.value(), action, to).await;
            if !verdict.is_allowed() {
                let options = rules.options(current.value(), caller).await;
                let problem = blocked::<S>(from, requested, verdict, &self.resource());
                return Err(with_options(problem, &options));
            }
        }
        let mut note = Note {
            actor: caller.actor().map(str::to_owned),
            ..Note::default()
        };
        let mut change = Change::new(requested);
        if let Some(action) = action {
            change = change.via(action);
        }
        // What was decided on one version commits on that version only:
        // the guards' verdict, the edit, and the action a move by target is
        // recorded under.
        let by_target_via_action = matches!(requested, Move::To(_)) && action.is_some();
        let pinned = guarded || input.is_some() || by_target_via_action;
        if pinned {
            change = change.expecting(Expected::OneOf(vec![current.version()]));
        } else if let Some(expected) = &self.if_match {
            change = change.expecting(expected.clone());
        }
        if let Some(input) = input {
            let mut edited = current.into_value();
            (input.edit)(&mut edited);
            change = change.edited(edited);
            note.reason.clone_from(&input.reason);
            note.metadata = Some(input.metadata.clone());
        }
        match store.apply(&self.id, change.noted(note.clone())).await {
            Ok(moved) if !rules.hooks_for(from, action, to) => {
                Ok(Attempt::Done(Moved::committed(moved, Vec::new())))
            }
            Ok(moved) => {
                let committed = Committed {
                    id: self.id.to_string(),
                    version: moved.version(),
                    from,
                    to,
                    action,
                    resource: moved.value().clone(),
                    note,
                };
                let failed_hooks = rules.run_hooks(&committed).await;
                Ok(Attempt::Done(Moved::committed(moved, failed_hooks)))
            }
            Err(StoreError::PreconditionFailed { .. }) if pinned => Ok(Attempt::Stale),
            Err(error) => Err(store_problem(error, Some(&self.id))),
        }
    }

    fn input<R>(&self, parse: &InputFn<R>) -> Result<ParsedInput<R>, Problem> {
        let instance = self.instance.as_str();
        let has_body = !self.body.iter().all(u8::is_ascii_whitespace);
        if has_body && !is_json(&self.headers) {
            return Err(Problem::new(
                ProblemKind::UnsupportedMediaType,
                "send the action's input as JSON, with `Content-Type: application/json`",
            )
            .with_instance(instance));
        }
        // A move by target names its state in the body, beside the input.
        let state_field = self.action.is_none().then_some(F::NAME);
        body_json(&self.body, state_field)
            .and_then(|body| parse(&body))
            .map_err(|error| match error {
                InputError::Syntax(detail) => Problem::new(
                    ProblemKind::MalformedRequest,
                    format!("the body is not JSON: {detail}"),
                )
                .with_instance(instance),
                InputError::Invalid(invalid) => invalid_input(&invalid, instance),
            })
    }
}

/// How often a guarded move is decided when the resource keeps changing
/// between the decision and the commit, before answering 503.
const MOVE_ATTEMPTS: u32 = 16;

/// One decision and commit: done (committed, unchanged or refused), or
/// stale because the resource changed after the guards decided.
enum Attempt<Id, R> {
    Done(Moved<Id, R>),
    Stale,
}

/// The action behind a move by target, for its permission, guards and
/// input: the first the caller may use of those leading there. A move
/// declared only with `to(...)` has none; a move every route to which
/// needs a permission the caller lacks is a 403.
fn by_target<R: Resource>(
    rules: &Rules<R>,
    caller: &dyn Caller,
    from: R::State,
    target: R::State,
    resource: &str,
) -> Result<Option<<R::State as StateMachine>::Action>, Problem> {
    let mut leading = from
        .actions()
        .iter()
        .copied()
        .filter(|&action| from.target(action) == Some(target))
        .peekable();
    let Some(&first) = leading.peek() else {
        return Ok(None);
    };
    match leading.find(|&action| rules.permits(caller, action)) {
        Some(action) => Ok(Some(action)),
        None => Err(forbidden::<R::State>(first, resource)),
    }
}
