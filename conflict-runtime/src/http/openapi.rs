//! `OpenAPI` 3.1 pieces, built with `utoipa`'s builders: schemas for
//! the state and action enums by wire name, the problem bodies of every
//! status this crate answers with, and the responses each extractor can
//! produce, so a route's document lists them without anyone typing them.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Ref, RefOr, ResponseBuilder, Responses, ResponsesBuilder,
};

use super::extract::{ActionPath, Conditional, JsonBody, MoveRequest, ResourceId, TargetState};
use super::problem::{PROBLEM_JSON, ProblemKind};
use crate::machine::{Action, StateMachine};

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
        kinds.extend([
            ProblemKind::NotFound,
            ProblemKind::UnknownAction,
            ProblemKind::MalformedRequest,
            ProblemKind::UnsupportedMediaType,
            ProblemKind::PayloadTooLarge,
            ProblemKind::UnknownState,
            ProblemKind::PreconditionFailed,
            ProblemKind::PreconditionRequired,
            ProblemKind::IllegalTransition,
        ]);
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

/// The 409 body of an illegal move, with the states and actions of `S` by
/// wire name.
#[must_use]
pub fn illegal_transition_schema<S: StateMachine>() -> Schema {
    let states = || string().enum_values(Some(S::NAMES.iter().copied()));
    let actions = || string().enum_values(Some(S::Action::NAMES.iter().copied()));
    ObjectBuilder::new()
        .description(Some("A move the current state does not allow"))
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

/// `current_state`, `allowed_actions`, `allowed_next_states`, as served by
/// [`Transitions`](super::Transitions).
#[must_use]
pub fn transitions_schema<S: StateMachine>() -> Schema {
    ObjectBuilder::new()
        .property(
            "current_state",
            string().enum_values(Some(S::NAMES.iter().copied())),
        )
        .property("allowed_actions", strings())
        .property("allowed_next_states", strings())
        .required("current_state")
        .required("allowed_actions")
        .required("allowed_next_states")
        .build()
        .into()
}

/// Adds the problem schemas and `S`'s state and action enums (named
/// `{Resource}State` and `{Resource}Action`) to `components`.
#[must_use]
pub fn components<S: StateMachine>(components: ComponentsBuilder) -> ComponentsBuilder {
    let name = pascal(S::RESOURCE);
    components
        .schema(PROBLEM, problem_schema())
        .schema(ILLEGAL_TRANSITION, illegal_transition_schema::<S>())
        .schema(format!("{name}State"), state_schema::<S>())
        .schema(format!("{name}Action"), action_schema::<S>())
}

fn pascal(resource: &str) -> String {
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
pub fn problem_responses<P: Problems>(mut responses: ResponsesBuilder) -> ResponsesBuilder {
    let mut kinds = Vec::new();
    P::problems(&mut kinds);
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
        let schema: RefOr<Schema> = if of_status.contains(&ProblemKind::IllegalTransition) {
            let illegal: RefOr<Schema> = Ref::from_schema_name(ILLEGAL_TRANSITION).into();
            if of_status.len() == 1 {
                illegal
            } else {
                RefOr::T(Schema::OneOf(
                    OneOfBuilder::new().item(illegal).item(generic).build(),
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
