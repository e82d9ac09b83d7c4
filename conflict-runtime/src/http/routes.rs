//! The standard routes of a resource, from its machine, in one call:
//! create, read with `ETag` and 304, create under a chosen id, move by
//! action and by target, what the caller may do, history, the machine's
//! diagrams, and (where the store lists) a page by state.
//!
//! Every handler is the crate's own extractors and responses, the ones a
//! hand-written route uses: the two ways answer alike.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderValue;
use axum::http::header::{LINK, VARY};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::invalid_input;
use super::{
    ActionPath, Bulk, Conditional, Created, EventStream, Explain, History, Idempotency,
    IdempotencyStore, JsonObject, KeyedRequest, LastEventId, ListQuery, Listed, Many, MoveRequest,
    Problem, ProblemKind, ResourceId, Transitions, action_links, affordances,
};
use crate::machine::{Action, StateMachine};
use crate::moves::{
    Anonymous, Caller, Deadlines, Engine, Invalid, MoveError, MoveSpec, Moved, Outbox, Pending,
    Wake, short_type_name,
};
use crate::store::{Create, Inserted, List, Resource, Store, StoreError, Versioned};

/// The routes of one resource over an [`Engine`], as a [`Router`]:
///
/// | route | what |
/// | --- | --- |
/// | `POST {base}` | create (the body is the resource, in an initial state): 201, `Location`, `ETag` |
/// | `GET {base}/{id}` | read, with `ETag` and `If-None-Match` (304) |
/// | `PUT {base}/{id}` | create under the client's id, at most once |
/// | `POST {base}/{id}/{action}` | move by action, with its input |
/// | `PATCH {base}/{id}` | move by target (`{"status": "paid"}`) |
/// | `GET {base}/{id}/transitions` | what the caller may do now (`?explain=true`) |
/// | `GET {base}/{id}/history` | the committed moves |
/// | `GET /state-machines/{resource}` | the machine: JSON, SVG, Mermaid, DOT, text |
/// | `GET {base}?status=...` | a page by state, with [`listed`](Routes::listed) |
/// | `POST {base}/actions/{action}` | one action on many, by id or by state, with [`bulk`](Routes::bulk) |
/// | `GET {base}/events`, `{base}/{id}/events` | committed moves as Server-Sent Events, with [`events`](Routes::events) |
///
/// Moves require `If-Match` (428 without) with
/// [`require_if_match`](Routes::require_if_match).
///
/// Callers are `C` (an extractor of yours, [`Anonymous`] by default).
/// Unknown routes and methods answer problems (404, 405). Add your own
/// routes to the router it returns, with the same extractors.
pub struct Routes<R: Resource, St: Store<R>, C = Anonymous> {
    base: String,
    engine: Engine<R, St>,
    actions: Option<HeaderValue>,
    require_if_match: bool,
    /// Routes that need more of the store than every route does.
    added: Vec<(Added, AddRoute<R, St>)>,
    bulk_max: Option<usize>,
    /// The create routes of [`create_from`](Routes::create_from), and the
    /// name of their body's type.
    create_from: Option<(AddRoute<R, St>, &'static str)>,
    complete: Option<Completion<R, St>>,
    pending: Option<PendingOf<R, St>>,
    perform: Option<Perform<R, St>>,
    /// The [`Idempotency`] layer of [`idempotency`](Routes::idempotency),
    /// put around the router.
    keyed: Option<Box<dyn FnOnce(Router) -> Router>>,
    #[cfg(feature = "openapi")]
    schemas: super::routes_openapi::Schemas,
    #[cfg(feature = "openapi")]
    serve_openapi: bool,
    caller: PhantomData<fn() -> C>,
}

impl<R: Resource, St: Store<R>, C> Routes<R, St, C>
where
    St::Id: std::fmt::Display,
{
    /// The base path (`/orders`).
    #[cfg(feature = "openapi")]
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// The engine's rules.
    #[cfg(feature = "openapi")]
    pub(super) fn rules(&self) -> &crate::moves::Rules<R> {
        self.engine.rules()
    }

    /// Whether moves require `If-Match`.
    #[cfg(feature = "openapi")]
    pub(super) fn requires_if_match(&self) -> bool {
        self.require_if_match
    }

    /// Whether the routes list by state.
    #[cfg(feature = "openapi")]
    pub(super) fn lists(&self) -> bool {
        self.adds(Added::Listing)
    }

    /// How many resources a bulk move names at most, if the routes move
    /// in bulk.
    #[cfg(feature = "openapi")]
    pub(super) fn bulk_max(&self) -> Option<usize> {
        self.bulk_max
    }

    /// The name of the type a create's body is, when it is not the
    /// resource.
    #[cfg(feature = "openapi")]
    pub(super) fn create_body(&self) -> Option<&'static str> {
        self.create_from.map(|(_, name)| name)
    }

    /// Whether the routes serve their document.
    #[cfg(feature = "openapi")]
    pub(super) fn serves_openapi(&self) -> bool {
        self.serve_openapi
    }

    /// Whether the routes take idempotency keys.
    #[cfg(feature = "openapi")]
    pub(super) fn keyed(&self) -> bool {
        self.keyed.is_some()
    }

    /// Whether the routes stream events.
    #[cfg(feature = "openapi")]
    pub(super) fn streams(&self) -> bool {
        self.adds(Added::Events)
    }

    /// The schemas given for the document.
    #[cfg(feature = "openapi")]
    pub(super) fn schemas(&self) -> &super::routes_openapi::Schemas {
        &self.schemas
    }

    /// The resource's schema in [`openapi`](Routes::openapi) (a
    /// permissive object otherwise).
    #[cfg(feature = "openapi")]
    #[must_use]
    pub fn schema(mut self, schema: impl Into<utoipa::openapi::schema::Schema>) -> Self {
        self.schemas.resource = Some(schema.into());
        self
    }

    /// The schema of the input type `name` (`Shipment`, as
    /// `Rules::input::<Shipment>` names it) in [`openapi`](Routes::openapi).
    #[cfg(feature = "openapi")]
    #[must_use]
    pub fn input_schema(
        mut self,
        name: impl Into<String>,
        schema: impl Into<utoipa::openapi::schema::Schema>,
    ) -> Self {
        self.schemas.inputs.push((name.into(), schema.into()));
        self
    }

    /// Serves [`openapi`](Routes::openapi) at `GET /openapi.json`.
    #[cfg(feature = "openapi")]
    #[must_use]
    pub fn with_openapi(mut self) -> Self {
        self.serve_openapi = true;
        self
    }
}

/// Routes that need more of the store than every route does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Added {
    /// The listing, by [`List`].
    Listing,
    /// Bulk moves, by [`List`] for a filter by state.
    Bulk,
    /// Event streams, by [`Outbox`].
    Events,
}

/// Adds such routes, given the base path.
type AddRoute<R, St> = fn(Router<Shared<R, St>>, &str) -> Router<Shared<R, St>>;

/// A future the routes keep a handle to, boxed.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The user's completion of what reads answer ([`Routes::read_with`]).
type Completion<R, St> = Arc<
    dyn Fn(
            St,
            Vec<Found<R, St>>,
        ) -> Boxed<'static, Result<Vec<Found<R, St>>, StoreError<<R as Resource>::State>>>
        + Send
        + Sync,
>;

/// A resource as read from the store `St`.
type Found<R, St> = Versioned<<St as Store<R>>::Id, R>;

/// The pending deadline of a resource, where the store keeps them
/// ([`Routes::with_deadlines`]).
type PendingOf<R, St> = for<'a> fn(&'a St, &'a <St as Store<R>>::Id) -> PendingFuture<'a, R>;

/// What [`PendingOf`] answers.
type PendingFuture<'a, R> =
    Boxed<'a, Result<Option<Pending<<R as Resource>::State>>, StoreError<<R as Resource>::State>>>;

/// A move made by code of yours ([`Routes::perform_with`]): the engine, the
/// caller, the move asked for, and the request's idempotency key when the
/// [`Idempotency`](super::Idempotency) layer gave one; the answer, or the
/// engine's refusal.
pub type Perform<R, St> = for<'a> fn(
    &'a Engine<R, St>,
    &'a dyn Caller,
    MoveSpec<<R as Resource>::State, <St as Store<R>>::Id>,
    Option<KeyedRequest>,
) -> Pin<
    Box<dyn Future<Output = Result<Response, MoveError<<R as Resource>::State>>> + Send + 'a>,
>;

/// What the handlers share: the engine, the base path and the options.
struct Shared<R: Resource, St: Store<R>> {
    engine: Engine<R, St>,
    base: Arc<str>,
    actions: Option<HeaderValue>,
    require_if_match: bool,
    bulk_max: usize,
    complete: Option<Completion<R, St>>,
    pending: Option<PendingOf<R, St>>,
    perform: Option<Perform<R, St>>,
}

impl<R: Resource, St: Store<R> + Clone> Shared<R, St>
where
    St::Id: Display,
{
    /// `found` as the user's [`read_with`](Routes::read_with) completes it.
    async fn completed(&self, found: Vec<Found<R, St>>) -> Result<Vec<Found<R, St>>, Problem> {
        match &self.complete {
            Some(complete) => Ok(complete(self.engine.store().clone(), found).await?),
            None => Ok(found),
        }
    }

    /// `found` alone, completed.
    async fn completed_one(&self, found: Found<R, St>) -> Result<Found<R, St>, Problem> {
        if self.complete.is_none() {
            return Ok(found);
        }
        self.completed(vec![found])
            .await?
            .pop()
            .ok_or_else(Problem::internal)
    }

    /// A move's answer, its resource completed.
    async fn completed_move(&self, moved: Moved<St::Id, R>) -> Result<Moved<St::Id, R>, Problem> {
        if self.complete.is_none() {
            return Ok(moved);
        }
        let completed = self.completed_one(moved.resource().clone()).await?;
        Ok(moved.complete(|value| *value = completed.value))
    }

    /// The pending deadline of `id` where the routes show deadlines.
    async fn pending(&self, id: &St::Id) -> Result<Option<Pending<R::State>>, Problem> {
        match self.pending {
            Some(pending) => Ok(pending(self.engine.store(), id).await?),
            None => Ok(None),
        }
    }
}

impl<R: Resource, St: Store<R> + Clone> Clone for Shared<R, St> {
    fn clone(&self) -> Self {
        Shared {
            engine: self.engine.clone(),
            base: std::sync::Arc::clone(&self.base),
            actions: self.actions.clone(),
            require_if_match: self.require_if_match,
            bulk_max: self.bulk_max,
            complete: self.complete.clone(),
            pending: self.pending,
            perform: self.perform,
        }
    }
}

impl<R: Resource, St: Store<R>, C> Routes<R, St, C> {
    /// Whether the routes include the ones of `kind`.
    fn adds(&self, kind: Added) -> bool {
        self.added.iter().any(|(added, _)| *added == kind)
    }

    /// Adds the routes of `kind`, once.
    fn add(&mut self, kind: Added, add: AddRoute<R, St>) {
        if !self.adds(kind) {
            self.added.push((kind, add));
        }
    }
}

impl<R, St> Routes<R, St, Anonymous>
where
    R: Resource,
    St: Store<R>,
{
    /// The routes under `base` (`/orders`) over `engine`'s store and rules.
    pub fn new(base: impl Into<String>, engine: Engine<R, St>) -> Self {
        Routes {
            base: base.into().trim_end_matches('/').to_owned(),
            engine,
            actions: None,
            require_if_match: false,
            added: Vec::new(),
            bulk_max: None,
            create_from: None,
            complete: None,
            pending: None,
            perform: None,
            keyed: None,
            #[cfg(feature = "openapi")]
            schemas: super::routes_openapi::Schemas::default(),
            #[cfg(feature = "openapi")]
            serve_openapi: false,
            caller: PhantomData,
        }
    }
}

impl<R, St, C> Routes<R, St, C>
where
    R: Resource + Serialize + DeserializeOwned,
    St: Store<R> + Create<R> + Clone + Send + Sync + 'static,
    St::Id: FromStr + Display + Serialize + Send + Sync + 'static,
    C: Caller + FromRequestParts<()> + 'static,
    <C as FromRequestParts<()>>::Rejection: IntoResponse,
{
    /// Takes the caller from each request as `C2`, an extractor of yours
    /// (the identity and permissions your authentication gives).
    pub fn caller<C2>(self) -> Routes<R, St, C2> {
        Routes {
            base: self.base,
            engine: self.engine,
            actions: self.actions,
            require_if_match: self.require_if_match,
            added: self.added,
            bulk_max: self.bulk_max,
            create_from: self.create_from,
            complete: self.complete,
            pending: self.pending,
            perform: self.perform,
            keyed: self.keyed,
            #[cfg(feature = "openapi")]
            schemas: self.schemas,
            #[cfg(feature = "openapi")]
            serve_openapi: self.serve_openapi,
            caller: PhantomData,
        }
    }

    /// Adds to `GET {base}/{id}` the moves the caller may make now, as an
    /// `actions` member and `Link` headers ([`affordances`]); `vary` names
    /// the request headers that identify the caller, for caches.
    #[must_use]
    pub fn with_actions(mut self, vary: &'static str) -> Self {
        self.actions = Some(HeaderValue::from_static(vary));
        self
    }

    /// Refuses a move that does not send `If-Match` with 428, so that no
    /// client changes a resource it has not seen at its latest version.
    #[must_use]
    pub fn require_if_match(mut self) -> Self {
        self.require_if_match = true;
        self
    }

    /// Creates from a body of type `B` rather than the resource itself:
    /// `POST {base}` and `PUT {base}/{id}` read a `B` and make the resource
    /// with [`NewResource::into_resource`] (a refusal is a 422 naming the
    /// field). The resource must still start in an initial state. In the
    /// document the body is `B`'s schema ([`input_schema`](Routes::input_schema)
    /// under `B`'s name).
    #[must_use]
    pub fn create_from<B: NewResource<R, St::Id>>(mut self) -> Self {
        let creates: AddRoute<R, St> = |router, base| {
            router
                .route(base, post(create::<R, St, B>))
                .route(&format!("{base}/{{id}}"), put(create_at::<R, St, B>))
        };
        self.create_from = Some((creates, short_type_name::<B>()));
        self
    }

    /// Completes what the routes answer with the resource (a read, a page,
    /// a move's answer unless [`perform_with`](Routes::perform_with) makes
    /// it, a bulk move's results) with code of yours, given the store and
    /// the resources as read: a payment kept in another table, joined in.
    /// An error is the store's problem (a 500 for a backend).
    #[must_use]
    pub fn read_with<F, Fut>(mut self, complete: F) -> Self
    where
        F: Fn(St, Vec<Found<R, St>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Found<R, St>>, StoreError<R::State>>> + Send + 'static,
    {
        self.complete = Some(Arc::new(move |store, found| {
            Box::pin(complete(store, found))
        }));
        self
    }

    /// Makes every move (by action and by target) with code of yours
    /// instead of [`Engine::perform`]: a move that writes another table in
    /// its transaction (a payment as an order is paid, with
    /// `Engine::perform_in`), or keeps a keyed request's answer there. The
    /// routes still read the request (id, action, input, `If-Match`) and
    /// turn a refusal into its problem.
    #[must_use]
    pub fn perform_with(mut self, perform: Perform<R, St>) -> Self {
        self.perform = Some(perform);
        self
    }

    /// Puts `keys` (an [`Idempotency`] layer) around the routes: a request
    /// that changes something and carries an `Idempotency-Key` is answered
    /// once, and its answer replayed ([`perform_with`](Routes::perform_with)
    /// may keep it in the move's own transaction). The document lists the
    /// layer's problems on those routes.
    #[must_use]
    pub fn idempotency<K: IdempotencyStore>(mut self, keys: Idempotency<K>) -> Self {
        self.keyed = Some(Box::new(move |router: Router| router.layer(keys)));
        self
    }

    /// The router.
    pub fn router(self) -> Router {
        #[cfg(feature = "openapi")]
        let document = self.serve_openapi.then(|| self.openapi());
        let base = self.base;
        let item = format!("{base}/{{id}}");
        let creates: AddRoute<R, St> = match self.create_from {
            Some((creates, _)) => creates,
            None => |router, base| {
                router
                    .route(base, post(create::<R, St, R>))
                    .route(&format!("{base}/{{id}}"), put(create_at::<R, St, R>))
            },
        };
        let mut router = creates(Router::<Shared<R, St>>::new(), &base)
            .route(&item, get(show::<R, St, C>).patch(act::<R, St, C>))
            .route(&format!("{item}/{{action}}"), post(act::<R, St, C>))
            .route(&format!("{item}/transitions"), get(transitions::<R, St, C>))
            .route(&format!("{item}/history"), get(history::<R, St>))
            .route(
                &format!("/state-machines/{}", <R::State as StateMachine>::RESOURCE),
                get(super::machine::<R::State>),
            );
        for (_, add) in self.added {
            router = add(router, &base);
        }
        #[cfg(feature = "openapi")]
        if let Some(document) = document {
            let document = std::sync::Arc::new(document);
            router = router.route(
                "/openapi.json",
                get(move || {
                    let document = std::sync::Arc::clone(&document);
                    async move { axum::Json(document.as_ref().clone()) }
                }),
            );
        }
        let keyed = self.keyed;
        let router = router
            .fallback(super::not_found)
            .method_not_allowed_fallback(super::method_not_allowed)
            .with_state(Shared {
                engine: self.engine,
                base: base.into(),
                actions: self.actions,
                require_if_match: self.require_if_match,
                bulk_max: self.bulk_max.unwrap_or(0),
                complete: self.complete,
                pending: self.pending,
                perform: self.perform,
            });
        match keyed {
            Some(keyed) => keyed(router),
            None => router,
        }
    }
}

impl<R, St, C> Routes<R, St, C>
where
    R: Resource + Serialize + DeserializeOwned,
    St: Store<R> + Create<R> + List<R> + Clone + Send + Sync + 'static,
    St::Id: FromStr + Display + Serialize + Send + Sync + 'static,
{
    /// Adds `GET {base}?status=paid&after=...&limit=...`: a page of the
    /// resources in any of the states, by the store's [`List`].
    #[must_use]
    pub fn listed(mut self) -> Self {
        self.add(Added::Listing, |router, base| {
            router.route(base, get(list::<R, St>))
        });
        self
    }

    /// Adds `POST {base}/actions/{action}`: one action on many resources,
    /// named by id or by state, at most `max` of them, with a result per
    /// resource ([`Many`], [`Bulk`]). Each is moved under the same rules as
    /// alone (guards, permissions, input); a uniform move is one statement
    /// in Postgres.
    #[must_use]
    pub fn bulk(mut self, max: usize) -> Self
    where
        St::Id: Eq + std::hash::Hash,
        C: Caller + FromRequestParts<()> + 'static,
        <C as FromRequestParts<()>>::Rejection: IntoResponse,
    {
        self.add(Added::Bulk, |router, base| {
            router.route(
                &format!("{base}/actions/{{action}}"),
                post(act_on_many::<R, St, C>),
            )
        });
        self.bulk_max = Some(max);
        self
    }
}

impl<R, St, C> Routes<R, St, C>
where
    R: Resource + Serialize + DeserializeOwned,
    St: Store<R> + Create<R> + Outbox<R> + Wake + Clone + Send + Sync + 'static,
    St::Id: FromStr + Display + Serialize + Send + Sync + 'static,
    C: Caller + FromRequestParts<()> + 'static,
    <C as FromRequestParts<()>>::Rejection: IntoResponse,
{
    /// Adds `GET {base}/events` and `GET {base}/{id}/events`: the committed
    /// moves from the store's outbox as Server-Sent Events, each `id:` its
    /// position, resumed from `Last-Event-ID` ([`EventStream`]); a caller
    /// sees the events of the actions it may take.
    #[must_use]
    pub fn events(mut self) -> Self {
        self.add(Added::Events, |router, base| {
            router
                .route(&format!("{base}/events"), get(events::<R, St, C>))
                .route(
                    &format!("{base}/{{id}}/events"),
                    get(resource_events::<R, St, C>),
                )
        });
        self
    }
}

impl<R, St, C> Routes<R, St, C>
where
    R: Resource,
    St: Deadlines<R>,
{
    /// Shows each resource's pending deadline (the move it makes by itself,
    /// and when): a `deadline` member in `GET {base}/{id}` and in
    /// `{base}/{id}/transitions`, where it also says why the last attempt
    /// was not made, which changes without a new version.
    #[must_use]
    pub fn with_deadlines(mut self) -> Self {
        self.pending = Some(pending_of::<R, St>);
        self
    }
}

fn pending_of<'a, R: Resource, St: Deadlines<R>>(
    store: &'a St,
    id: &'a St::Id,
) -> PendingFuture<'a, R> {
    Box::pin(store.pending(id))
}

/// The caller `C`, taken from the request as an extractor without state
/// takes it, whatever the router's state.
struct Asker<C>(C);

impl<C, S> FromRequestParts<S> for Asker<C>
where
    C: FromRequestParts<()>,
    C::Rejection: IntoResponse,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        C::from_request_parts(parts, &())
            .await
            .map(Asker)
            .map_err(IntoResponse::into_response)
    }
}

/// No identity: every request is [`Anonymous`].
impl<S: Send + Sync> FromRequestParts<S> for Anonymous {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Anonymous)
    }
}

/// A create's body other than the resource (an order's item and quantity,
/// where the service fills in the rest): what [`Routes::create_from`] reads
/// for `POST {base}` and `PUT {base}/{id}`.
pub trait NewResource<R: Resource, Id>: DeserializeOwned + Send + 'static {
    /// The resource this body asks for: under `id` when the client chose it
    /// (`PUT`), `None` when the store chooses (`POST`). A refusal is a 422
    /// naming the field.
    ///
    /// # Errors
    /// The field that is wrong, and why.
    fn into_resource(self, id: Option<&Id>) -> Result<R, Invalid>;
}

/// A resource is its own create body: what the generated routes read
/// unless [`Routes::create_from`] names another.
impl<R: Resource + DeserializeOwned, Id> NewResource<R, Id> for R {
    fn into_resource(self, _: Option<&Id>) -> Result<R, Invalid> {
        Ok(self)
    }
}

/// `POST {base}`: a new resource from the body (the resource itself, or
/// the type of [`Routes::create_from`]), in an initial state.
async fn create<R, St, B>(
    State(shared): State<Shared<R, St>>,
    JsonObject(body): JsonObject<B>,
) -> Result<Response, Problem>
where
    R: Resource + Serialize,
    St: Store<R> + Create<R>,
    St::Id: Display,
    B: NewResource<R, St::Id>,
{
    let value = body
        .into_resource(None)
        .map_err(|invalid| invalid_input(&invalid).with_instance(&*shared.base))?;
    starts_initial(&value, &shared.base)?;
    let created = shared.engine.store().create(value).await?;
    let location = format!("{}/{}", shared.base, created.id());
    Ok(Created::new(Inserted::Created(created), location).into_response())
}

/// `PUT {base}/{id}`: the same, under the client's id, at most once.
async fn create_at<R, St, B>(
    State(shared): State<Shared<R, St>>,
    id: ResourceId<St::Id, R::State>,
    conditional: Conditional,
    JsonObject(body): JsonObject<B>,
) -> Result<Created<St::Id, R>, Problem>
where
    R: Resource,
    St: Store<R>,
    St::Id: Display + Clone + Send + Sync + 'static,
    B: NewResource<R, St::Id>,
{
    let instance = format!("{}/{}", shared.base, *id);
    let value = body
        .into_resource(Some(&id))
        .map_err(|invalid| invalid_input(&invalid).with_instance(instance.as_str()))?;
    starts_initial(&value, &instance)?;
    id.create(shared.engine.store(), value, &conditional).await
}

/// A new resource starts in an initial state: 422 otherwise.
fn starts_initial<R: Resource>(value: &R, instance: &str) -> Result<(), Problem> {
    let state = value.state();
    if state.is_initial() {
        return Ok(());
    }
    let initial: Vec<&str> = R::State::INITIAL.iter().map(|s| s.name()).collect();
    Err(Problem::new(
        ProblemKind::InvalidInput,
        format!(
            "a new {} starts in {}, not in {}",
            R::State::RESOURCE,
            initial.join(" or "),
            state.name()
        ),
    )
    .with_instance(instance)
    .with("known_states", initial))
}

/// `GET {base}/{id}`, with what the caller may do when asked for.
async fn show<R, St, C>(
    State(shared): State<Shared<R, St>>,
    id: ResourceId<St::Id, R::State>,
    Asker(caller): Asker<C>,
    conditional: Conditional,
) -> Result<Response, Problem>
where
    R: Resource + Serialize,
    St: Store<R>,
    St::Id: Display + Clone + Send + Sync + 'static,
    C: Caller,
{
    let resource = shared
        .completed_one(id.load(shared.engine.store()).await?)
        .await?;
    // The deadline as set at this version: why an attempt was not made
    // changes without a new version (and `ETag`), so only `transitions`
    // tells it.
    let deadline = shared.pending(&id).await?.map(|pending| Pending {
        not_made: None,
        ..pending
    });
    if shared.actions.is_none() && deadline.is_none() {
        return Ok(conditional.respond(resource));
    }
    let mut actions = Vec::new();
    if shared.actions.is_some() {
        let path = format!("{}/{}", shared.base, *id);
        actions = affordances(resource.value(), shared.engine.rules(), &caller, &path).await;
    }
    let links = action_links(&actions);
    let mut response = conditional.respond(resource.map(|resource| Shown {
        resource,
        actions,
        deadline,
    }));
    let headers = response.headers_mut();
    if let Some(vary) = &shared.actions {
        headers.insert(VARY, vary.clone());
    }
    for link in links {
        headers.append(LINK, link);
    }
    Ok(response)
}

/// A resource as `GET` shows it: its own members, then what the caller may
/// do and its pending deadline, written in one pass (flattened, not built
/// as a JSON value first).
#[derive(Serialize)]
#[serde(bound(serialize = "R: Serialize, S: StateMachine"))]
struct Shown<R, S: StateMachine> {
    #[serde(flatten)]
    resource: R,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    actions: Vec<super::Affordance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<Pending<S>>,
}

/// `POST {base}/{id}/{action}` and `PATCH {base}/{id}`.
async fn act<R, St, C>(
    State(shared): State<Shared<R, St>>,
    Asker(caller): Asker<C>,
    keyed: Option<KeyedRequest>,
    request: MoveRequest<R::State, St::Id>,
) -> Result<Response, Problem>
where
    R: Resource + Serialize,
    St: Store<R>,
    St::Id: Display + Clone + Send + Sync + 'static,
    C: Caller,
{
    let request = if shared.require_if_match {
        request.require_if_match()
    } else {
        request
    };
    if let Some(perform) = shared.perform {
        let (spec, instance) = request.into_parts();
        let id = spec.id().clone();
        return perform(&shared.engine, &caller, spec, keyed)
            .await
            .map_err(|error| Problem::of_move(error, &id).with_instance(instance));
    }
    let moved = request.perform(&shared.engine, &caller).await?;
    Ok(shared.completed_move(moved).await?.into_response())
}

/// `GET {base}/{id}/transitions`.
async fn transitions<R, St, C>(
    State(shared): State<Shared<R, St>>,
    Asker(caller): Asker<C>,
    id: ResourceId<St::Id, R::State>,
    Explain(explain): Explain,
) -> Result<Transitions, Problem>
where
    R: Resource,
    St: Store<R>,
    St::Id: Display + Clone + Send + Sync + 'static,
    C: Caller,
{
    let resource = id.load(shared.engine.store()).await?;
    let deadline = shared.pending(&id).await?;
    Ok(
        Transitions::for_caller(resource.value(), shared.engine.rules(), &caller, explain)
            .await
            .with_deadline(deadline.as_ref()),
    )
}

/// `GET {base}/{id}/history`.
async fn history<R, St>(
    State(shared): State<Shared<R, St>>,
    id: ResourceId<St::Id, R::State>,
) -> Result<History<R::State>, Problem>
where
    R: Resource,
    St: Store<R>,
    St::Id: Display + Clone + Send + Sync + 'static,
{
    id.history(shared.engine.store()).await
}

/// `GET {base}/events`.
async fn events<R, St, C>(
    State(shared): State<Shared<R, St>>,
    Asker(caller): Asker<C>,
    from: LastEventId,
) -> Result<EventStream, Problem>
where
    R: Resource,
    St: Store<R> + Outbox<R> + Wake + Clone,
    St::Id: Display,
    C: Caller,
{
    let store = shared.engine.store().clone();
    EventStream::all(store, shared.engine.rules(), &caller, from).await
}

/// `GET {base}/{id}/events`: 404 for a resource that is not there.
async fn resource_events<R, St, C>(
    State(shared): State<Shared<R, St>>,
    Asker(caller): Asker<C>,
    id: ResourceId<St::Id, R::State>,
    from: LastEventId,
) -> Result<EventStream, Problem>
where
    R: Resource,
    St: Store<R> + Outbox<R> + Wake + Clone,
    St::Id: Display + Clone + Send + Sync + 'static,
    C: Caller,
{
    let found = id.load(shared.engine.store()).await?;
    let store = shared.engine.store().clone();
    let id = found.id().to_string();
    EventStream::of(store, shared.engine.rules(), &caller, id, from).await
}

/// `POST {base}/actions/{action}`.
async fn act_on_many<R, St, C>(
    State(shared): State<Shared<R, St>>,
    Asker(caller): Asker<C>,
    ActionPath(action): ActionPath<R::State>,
    JsonObject(many): JsonObject<Many>,
) -> Result<Bulk<St::Id, R>, Problem>
where
    R: Resource,
    St: Store<R> + List<R>,
    St::Id: FromStr + Display + Eq + std::hash::Hash + Clone + Send + Sync + 'static,
    C: Caller,
{
    let instance = format!("{}/actions/{}", shared.base, action.name());
    let (mut results, more) = many
        .perform(&shared.engine, &caller, action, shared.bulk_max, &instance)
        .await?;
    if shared.complete.is_some() {
        let moved: Vec<Found<R, St>> = results
            .iter()
            .filter_map(|(_, result)| Some(result.as_ref().ok()?.resource().clone()))
            .collect();
        // One completed resource per move made, in the same order.
        let mut completed = shared.completed(moved).await?.into_iter();
        results = results
            .into_iter()
            .map(|(id, result)| {
                let result = result.map(|moved| match completed.next() {
                    Some(found) => moved.complete(|value| *value = found.value),
                    None => moved,
                });
                (id, result)
            })
            .collect();
    }
    Ok(Bulk::new(results, more))
}

/// `GET {base}?status=...&after=...&limit=...`.
async fn list<R, St>(
    State(shared): State<Shared<R, St>>,
    query: ListQuery<R::State, St::Id>,
) -> Result<Listed<St::Id, R>, Problem>
where
    R: Resource,
    St: List<R>,
    St::Id: FromStr + Display + Clone + Send + Sync + 'static,
{
    let Listed(mut page) = query.page(shared.engine.store()).await?;
    page.items = shared.completed(page.items).await?;
    Ok(Listed(page))
}
