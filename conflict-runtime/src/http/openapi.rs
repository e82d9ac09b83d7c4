//! `OpenAPI` 3.1 pieces, built with `utoipa`'s builders: schemas for
//! the state and action enums by wire name, the problem bodies of every
//! status this crate answers with, and the responses each extractor can
//! produce, so a route's document lists them without anyone typing them.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Ref, RefOr, Required, ResponseBuilder, Responses,
    ResponsesBuilder,
};

use super::events::LastEventId;
use super::extract::{
    ActionPath, Conditional, Explain, JsonBody, JsonObject, MoveRequest, ResourceId, TargetState,
};
use super::listing::ListQuery;
use super::problem::{PROBLEM_JSON, ProblemKind};
use crate::machine::{Action, StateMachine};
use crate::moves::MoveErrorKind;

/// The problems a request part can answer with: implemented by this crate's
/// extractors (and tuples of them) so that a route's responses follow from
/// its handler's arguments.
pub trait Problems {
    /// Adds the kinds of problem this part can produce to `kinds`.
    fn problems(kinds: &mut Vec<ProblemKind>);
}

impl<Id, S> Problems for ResourceId<Id, S> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.push(ProblemKind::NotFound);
    }
}

impl<S: StateMachine> Problems for ActionPath<S> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.push(ProblemKind::UnknownAction);
    }
}

impl Problems for Conditional {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.push(ProblemKind::MalformedRequest);
    }
}

impl<T> Problems for JsonBody<T> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([
            ProblemKind::MalformedRequest,
            ProblemKind::UnsupportedMediaType,
            ProblemKind::PayloadTooLarge,
            ProblemKind::InvalidInput,
        ]);
    }
}

impl<T> Problems for JsonObject<T> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        JsonBody::<T>::problems(kinds);
    }
}

impl<S, F> Problems for TargetState<S, F> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([
            ProblemKind::MalformedRequest,
            ProblemKind::UnsupportedMediaType,
            ProblemKind::PayloadTooLarge,
            ProblemKind::UnknownState,
        ]);
    }
}

impl<S: StateMachine, Id, F> Problems for MoveRequest<S, Id, F> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        // What extraction refuses: the id, the action, `If-Match`, the body's size.
        kinds.extend([
            ProblemKind::NotFound,
            ProblemKind::UnknownAction,
            ProblemKind::MalformedRequest,
            ProblemKind::PayloadTooLarge,
        ]);
        // What the engine refuses, through the one table of kinds.
        kinds.extend(
            MoveErrorKind::ALL
                .iter()
                .map(|&kind| ProblemKind::of_move(kind)),
        );
    }
}

/// A bulk move's body ([`Many`](super::Many)) is a JSON object read by
/// `JsonObject`; what the request as a whole may be refused for besides.
impl Problems for super::Many {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        JsonObject::<()>::problems(kinds);
        kinds.extend([
            ProblemKind::UnknownState,
            ProblemKind::Forbidden,
            ProblemKind::Internal,
        ]);
    }
}

impl<S, Id> Problems for ListQuery<S, Id> {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([
            ProblemKind::MalformedRequest,
            ProblemKind::InvalidInput,
            ProblemKind::UnknownState,
            ProblemKind::Internal,
        ]);
    }
}

impl Problems for LastEventId {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([ProblemKind::MalformedRequest, ProblemKind::Gone]);
    }
}

/// Where an event stream starts: the `Last-Event-ID` header and the `after`
/// query parameter that [`LastEventId`] reads.
#[must_use]
pub fn last_event_id_parameters() -> [Parameter; 2] {
    let position = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::MAX))
    };
    [
        ParameterBuilder::new()
            .name("Last-Event-ID")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The position of the last event received: the stream resumes after it",
            ))
            .schema(Some(position()))
            .build(),
        ParameterBuilder::new()
            .name("after")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(
                "As `Last-Event-ID`, for clients that cannot set headers (0: every event kept)",
            ))
            .schema(Some(position()))
            .build(),
    ]
}

impl Problems for Explain {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.push(ProblemKind::MalformedRequest);
    }
}

/// The problems of the [`Idempotency`](super::Idempotency) layer, for routes
/// behind it.
pub struct IdempotencyProblems;

impl Problems for IdempotencyProblems {
    fn problems(kinds: &mut Vec<ProblemKind>) {
        kinds.extend([
            ProblemKind::MalformedRequest,
            ProblemKind::IdempotencyKeyInFlight,
            ProblemKind::IdempotencyKeyReused,
        ]);
    }
}

/// A part that answers with no problem of its own.
impl Problems for () {
    fn problems(_: &mut Vec<ProblemKind>) {}
}

macro_rules! tuple_problems {
    ($($name:ident),+) => {
        impl<$($name: Problems),+> Problems for ($($name,)+) {
            fn problems(kinds: &mut Vec<ProblemKind>) {
                $($name::problems(kinds);)+
            }
        }
    };
}

tuple_problems!(A);
tuple_problems!(A, B);
tuple_problems!(A, B, C);
tuple_problems!(A, B, C, D);
tuple_problems!(A, B, C, D, E);

/// The name of the generic problem schema in `components`.
pub const PROBLEM: &str = "Problem";
/// The name of the 409 illegal-transition problem schema in `components`.
pub const ILLEGAL_TRANSITION: &str = "IllegalTransitionProblem";
/// The name of the blocker schema in `components`.
pub const BLOCKER: &str = "Blocker";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn strings() -> ArrayBuilder {
    ArrayBuilder::new().items(string())
}

/// An RFC 9457 problem body: `type`, `title`, `status`, `detail`, `instance`,
/// and extension members.
#[must_use]
pub fn problem_schema() -> Schema {
    ObjectBuilder::new()
        .description(Some("An RFC 9457 problem body"))
        .property(
            "type",
            string().description(Some("A stable URI naming the kind of problem")),
        )
        .property("title", string())
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", string())
        .property("instance", string())
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .build()
        .into()
}

/// One reason a guard blocks a move: `code`, `message`, `parameters`.
#[must_use]
pub fn blocker_schema() -> Schema {
    ObjectBuilder::new()
        .property(
            "code",
            string().description(Some("Stable, for programs (`quantity_limit`)")),
        )
        .property("message", string().description(Some("For people")))
        .property(
            "parameters",
            ObjectBuilder::new().description(Some("What the client needs to act on it")),
        )
        .required("code")
        .required("message")
        .required("parameters")
        .build()
        .into()
}

/// The 409 body of a move the current state does not allow
/// (`illegal-transition`) or a guard blocks (`transition-blocked`, with
/// `blockers`), with the states and actions of `S` by wire name.
#[must_use]
pub fn illegal_transition_schema<S: StateMachine>() -> Schema {
    let states = || string().enum_values(Some(S::NAMES.iter().copied()));
    let actions = || string().enum_values(Some(S::Action::NAMES.iter().copied()));
    ObjectBuilder::new()
        .description(Some(
            "A move the current state does not allow, or that a guard blocks now",
        ))
        .property("type", string())
        .property("title", string())
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", string())
        .property("instance", string())
        .property("resource", string())
        .property("current_state", states())
        .property("action", actions())
        .property("requested_state", states())
        .property("allowed_next_states", ArrayBuilder::new().items(states()))
        .property("allowed_actions", ArrayBuilder::new().items(actions()))
        .property(
            "blockers",
            ArrayBuilder::new().items(Ref::from_schema_name(BLOCKER)),
        )
        .required("type")
        .required("title")
        .required("status")
        .required("detail")
        .required("current_state")
        .required("allowed_next_states")
        .required("allowed_actions")
        .build()
        .into()
}

/// `S`'s states as a string enum of their wire names.
#[must_use]
pub fn state_schema<S: StateMachine>() -> Schema {
    string()
        .description(Some(format!("A state of a {}", S::RESOURCE)))
        .enum_values(Some(S::NAMES.iter().copied()))
        .build()
        .into()
}

/// `S`'s actions as a string enum of their wire names.
#[must_use]
pub fn action_schema<S: StateMachine>() -> Schema {
    string()
        .description(Some(format!("An action on a {}", S::RESOURCE)))
        .enum_values(Some(S::Action::NAMES.iter().copied()))
        .build()
        .into()
}

/// `current_state`, `allowed_actions`, `allowed_next_states` and, when
/// explained, `moves`, as served by [`Transitions`](super::Transitions).
#[must_use]
pub fn transitions_schema<S: StateMachine>() -> Schema {
    let states = || string().enum_values(Some(S::NAMES.iter().copied()));
    let a_move = ObjectBuilder::new()
        .property(
            "action",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .description(Some("`null` for a move by target only")),
        )
        .property("to", states())
        .property("allowed", ObjectBuilder::new().schema_type(Type::Boolean))
        .property(
            "blockers",
            ArrayBuilder::new().items(Ref::from_schema_name(BLOCKER)),
        )
        .required("action")
        .required("to")
        .required("allowed")
        .required("blockers");
    ObjectBuilder::new()
        .property("current_state", states())
        .property("allowed_actions", strings())
        .property("allowed_next_states", strings())
        .property(
            "moves",
            ArrayBuilder::new().items(a_move).description(Some(
                "With `?explain=true`: every move the caller may request",
            )),
        )
        .property("deadline", deadline_schema::<S>())
        .required("current_state")
        .required("allowed_actions")
        .required("allowed_next_states")
        .build()
        .into()
}

/// A pending deadline, as [`Pending`](crate::moves::Pending) serializes it:
/// the move it makes by itself (`action`), when (`at`), and why the last
/// attempt was not made (`not_made`, when it was not).
#[must_use]
pub fn deadline_schema<S: StateMachine>() -> Schema {
    ObjectBuilder::new()
        .description(Some(
            "The move the resource makes by itself, unless another move comes first",
        ))
        .property(
            "action",
            string().enum_values(Some(S::Action::NAMES.iter().copied())),
        )
        .property(
            "at",
            string()
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
                .description(Some("When it is due (RFC 3339, UTC)")),
        )
        .property(
            "not_made",
            string().description(Some(
                "Why the last attempt did not move (a guard blocked it); absent otherwise",
            )),
        )
        .required("action")
        .required("at")
        .build()
        .into()
}

/// The moves a caller may make now, as [`affordances`](super::affordances)
/// serves them in a representation.
#[must_use]
pub fn actions_schema<S: StateMachine>() -> Schema {
    ArrayBuilder::new()
        .description(Some(
            "The moves the caller may make now, after guards and permissions",
        ))
        .items(
            ObjectBuilder::new()
                .property(
                    "name",
                    string().enum_values(Some(S::Action::NAMES.iter().copied())),
                )
                .property("method", string().enum_values(Some(["POST"])))
                .property(
                    "href",
                    string().description(Some("Where to send it")),
                )
                .property("to", string().enum_values(Some(S::NAMES.iter().copied())))
                .property(
                    "input",
                    string().description(Some(
                        "A reference to the schema of its input in this document, when it takes one",
                    )),
                )
                .required("name")
                .required("method")
                .required("href")
                .required("to"),
        )
        .build()
        .into()
}

/// One history entry, as served by [`History`](super::History).
#[must_use]
pub fn history_entry_schema<S: StateMachine>() -> Schema {
    entry_members::<S>(ObjectBuilder::new(), "metadata")
        .build()
        .into()
}

/// One event of an event stream's `data` ([`EVENT_SCHEMA`](crate::moves::EVENT_SCHEMA)):
/// its place and key beside the history entry's members, the action's input
/// as `input`.
#[must_use]
pub fn event_schema<S: StateMachine>() -> Schema {
    let event = ObjectBuilder::new()
        .property(
            "schema",
            string().enum_values(Some([crate::moves::EVENT_SCHEMA])),
        )
        .property(
            "position",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .description(Some("Its place in the store's order; the SSE `id`")),
        )
        .property(
            "key",
            string().description(Some("`kind:id:version`, the same on every delivery")),
        )
        .property("kind", string())
        .property(
            "id",
            string().description(Some("The resource's id, as text")),
        )
        .required("schema")
        .required("position")
        .required("key")
        .required("kind")
        .required("id");
    entry_members::<S>(event, "input").build().into()
}

/// The members of a committed move, the action's input named `input`.
fn entry_members<S: StateMachine>(object: ObjectBuilder, input: &str) -> ObjectBuilder {
    let states = || string().enum_values(Some(S::NAMES.iter().copied()));
    let nullable = |of: Type| {
        ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            of,
            Type::Null,
        ]))
    };
    object
        .property(
            "version",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(2)),
        )
        .property("from", states())
        .property("to", states())
        .property("action", nullable(Type::String))
        .property(
            "at",
            string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            ))),
        )
        .property("actor", nullable(Type::String))
        .property("reason", nullable(Type::String))
        .property(
            input,
            nullable(Type::Object).description(Some("The action's input, or null")),
        )
        .required("version")
        .required("from")
        .required("to")
        .required("action")
        .required("at")
        .required("actor")
        .required("reason")
        .required(input)
}

/// Adds the problem schemas, [`BLOCKER`], `S`'s state and action enums
/// (named `{Resource}State` and `{Resource}Action`), its history entry
/// (`{Resource}HistoryEntry`) and its event (`{Resource}Event`) to
/// `components`.
#[must_use]
pub fn components<S: StateMachine>(components: ComponentsBuilder) -> ComponentsBuilder {
    let name = pascal(S::RESOURCE);
    components
        .schema(PROBLEM, problem_schema())
        .schema(BLOCKER, blocker_schema())
        .schema(format!("{name}HistoryEntry"), history_entry_schema::<S>())
        .schema(format!("{name}Event"), event_schema::<S>())
        .schema(ILLEGAL_TRANSITION, illegal_transition_schema::<S>())
        .schema(format!("{name}State"), state_schema::<S>())
        .schema(format!("{name}Action"), action_schema::<S>())
}

/// `order_line` -> `OrderLine`: how the schemas of a resource are named.
pub(crate) fn pascal(resource: &str) -> String {
    resource
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        })
        .collect()
}

/// The problem responses of the parts `P` (an extractor or a tuple of them),
/// one per status, added to `responses`.
#[must_use]
pub fn problem_responses<P: Problems>(responses: ResponsesBuilder) -> ResponsesBuilder {
    let mut kinds = Vec::new();
    P::problems(&mut kinds);
    problem_responses_of(&kinds, responses)
}

/// The problem responses of `kinds`, one per status, added to `responses`:
/// for a route whose parts' problems are narrowed by hand (a move whose
/// route does not require `If-Match` answers no 428).
#[must_use]
pub fn problem_responses_of(
    kinds: &[ProblemKind],
    mut responses: ResponsesBuilder,
) -> ResponsesBuilder {
    let mut statuses: Vec<u16> = kinds.iter().map(|k| k.status().as_u16()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let of_status: Vec<ProblemKind> = kinds
            .iter()
            .copied()
            .filter(|k| k.status().as_u16() == status)
            .collect();
        let mut titles: Vec<&str> = of_status.iter().map(|k| k.title()).collect();
        titles.dedup();
        let generic: RefOr<Schema> = Ref::from_schema_name(PROBLEM).into();
        let transition = |k: &ProblemKind| {
            matches!(
                k,
                ProblemKind::IllegalTransition | ProblemKind::TransitionBlocked
            )
        };
        let schema: RefOr<Schema> = if of_status.iter().any(transition) {
            let illegal: RefOr<Schema> = Ref::from_schema_name(ILLEGAL_TRANSITION).into();
            if of_status.iter().all(transition) {
                illegal
            } else {
                // anyOf, not oneOf: a 409 of a move is also a valid problem.
                RefOr::T(Schema::AnyOf(
                    AnyOfBuilder::new().item(illegal).item(generic).build(),
                ))
            }
        } else {
            generic
        };
        responses = responses.response(
            status.to_string(),
            ResponseBuilder::new()
                .description(titles.join("; "))
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .build(),
        );
    }
    responses
}

/// [`problem_responses`] as finished [`Responses`], for a route whose success
/// answers are added by the caller.
#[must_use]
pub fn responses_of<P: Problems>() -> Responses {
    problem_responses::<P>(ResponsesBuilder::new()).build()
}
