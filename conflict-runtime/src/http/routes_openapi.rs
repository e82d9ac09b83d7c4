//! The `OpenAPI` 3.1 document of the routes [`Routes`] builds, from the same
//! declaration: one operation per action with its input's schema, each
//! route's problems from its extractors (500 included), and 428 only where
//! `If-Match` is required.

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder,
};

use super::openapi::{self, Problems, pascal, problem_responses_of};
use super::routes::Routes;
use super::{
    ActionPath, Conditional, Explain, JsonObject, LastEventId, ListQuery, MoveRequest, ProblemKind,
    ResourceId,
};
use crate::machine::{Action, StateMachine};
use crate::store::{Resource, Store};

/// What the routes add to a document: the resource's schema and each
/// input's, when given; permissive objects otherwise.
#[derive(Clone, Default)]
pub(super) struct Schemas {
    pub(super) resource: Option<Schema>,
    pub(super) inputs: Vec<(String, Schema)>,
}

impl<R: Resource, St: Store<R>, C> Routes<R, St, C>
where
    St::Id: std::fmt::Display,
{
    /// The document of these routes: `{Resource}` the resource's schema
    /// ([`schema`](Routes::schema), or any object), the states and actions
    /// by wire name, and each action's input under its type's name
    /// ([`input_schema`](Routes::input_schema), or any object).
    #[must_use]
    pub fn openapi(&self) -> OpenApi {
        let name = pascal(<R::State as StateMachine>::RESOURCE);
        let base = self.base();
        let item = format!("{base}/{{id}}");
        let mut paths = PathsBuilder::new()
            .path(base, self.collection_item(&name))
            .path(&item, self.resource_item(&name))
            .path(
                format!("{item}/transitions"),
                PathItem::new(
                    HttpMethod::Get,
                    operation(
                        "What the caller may do now; `?explain=true` adds every move and its blockers",
                        &kinds::<(ResourceId<(), R::State>, Explain)>(),
                        [("200", "The moves", Some(format!("{name}Transitions")))],
                    )
                    .parameter(id_parameter::<St::Id>())
                    .parameter(
                        ParameterBuilder::new()
                            .name("explain")
                            .parameter_in(ParameterIn::Query)
                            .required(Required::False)
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Boolean))),
                    ),
                ),
            )
            .path(
                format!("{item}/history"),
                PathItem::new(
                    HttpMethod::Get,
                    operation(
                        "Every committed move, oldest first",
                        &kinds::<ResourceId<(), R::State>>(),
                        [("200", "The history", Some(format!("{name}History")))],
                    )
                    .parameter(id_parameter::<St::Id>()),
                ),
            )
            .path(
                format!("/state-machines/{}", <R::State as StateMachine>::RESOURCE),
                PathItem::new(
                    HttpMethod::Get,
                    operation(
                        "The machine: JSON, or SVG, Mermaid, DOT or text by `Accept` or `?format=`",
                        &[
                            ProblemKind::MalformedRequest,
                            ProblemKind::NotAcceptable,
                            ProblemKind::Internal,
                        ],
                        [("200", "The machine", None)],
                    ),
                ),
            );
        paths = self.action_paths(paths, &name);
        if self.streams() {
            paths = paths
                .path(
                    format!("{base}/events"),
                    events_item::<St::Id>(&name, false),
                )
                .path(format!("{item}/events"), events_item::<St::Id>(&name, true));
        }
        if self.serves_openapi() {
            paths = paths.path(
                "/openapi.json",
                PathItem::new(
                    HttpMethod::Get,
                    operation("This document", &[], [("200", "OpenAPI 3.1", None)]),
                ),
            );
        }
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title(<R::State as StateMachine>::RESOURCE)
                    .version("1"),
            )
            .paths(paths.build())
            .components(Some(self.components(&name).build()))
            .build()
    }

    /// `{base}/{id}/{action}`, and `{base}/actions/{action}` where the
    /// routes move in bulk: one operation per action, with its input.
    fn action_paths(&self, mut paths: PathsBuilder, name: &str) -> PathsBuilder {
        let base = self.base();
        let item = format!("{base}/{{id}}");
        for &action in <<R::State as StateMachine>::Action as Action>::ALL {
            let mut one = operation(
                &format!("Apply `{}`", action.name()),
                &self.changing(move_kinds::<R::State>(self.requires_if_match())),
                [(
                    "200",
                    "The moved resource, with its new `ETag`",
                    Some(name.to_owned()),
                )],
            )
            .parameter(id_parameter::<St::Id>());
            if let Some(input) = self.rules().input_name(action) {
                let required = if self.input_required(action) {
                    Required::True
                } else {
                    Required::False
                };
                one = one.request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(required))
                        .content("application/json", json(input))
                        .build(),
                ));
            }
            paths = paths.path(
                format!("{item}/{}", action.name()),
                PathItem::new(HttpMethod::Post, one),
            );
            if let Some(max) = self.bulk_max() {
                paths = paths.path(
                    format!("{base}/actions/{}", action.name()),
                    PathItem::new(HttpMethod::Post, self.bulk_operation(name, action, max)),
                );
            }
        }
        paths
    }

    /// `kinds`, and the problems of the [`Idempotency`](super::Idempotency)
    /// layer where the routes take keys: for a route that changes something.
    fn changing(&self, mut kinds: Vec<ProblemKind>) -> Vec<ProblemKind> {
        if self.keyed() {
            openapi::IdempotencyProblems::problems(&mut kinds);
        }
        kinds
    }

    /// Whether `action`'s input must be sent: its type does not read `{}`
    /// (what an empty body is read as).
    fn input_required(&self, action: <R::State as StateMachine>::Action) -> bool {
        self.rules()
            .input_of(action)
            .is_some_and(|parse| parse(&serde_json::json!({})).is_err())
    }

    /// A move by target's body: `{"status": ...}` and the input of the
    /// action checked for that state (the first with an input leading
    /// there), as the engine reads it.
    fn target_body(&self) -> Schema {
        let mut targets = AnyOfBuilder::new();
        let mut plain = Vec::new();
        for &state in <R::State as StateMachine>::STATES {
            let input = <<R::State as StateMachine>::Action as Action>::ALL
                .iter()
                .copied()
                .filter(|&action| action.target() == Some(state))
                .find_map(|action| self.rules().input_name(action));
            let Some(input) = input else {
                plain.push(state.name());
                continue;
            };
            let status = ObjectBuilder::new()
                .property(
                    "status",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([state.name()])),
                )
                .required("status");
            targets = targets.item(
                AllOfBuilder::new()
                    .item(status)
                    .item(Ref::from_schema_name(input)),
            );
        }
        if !plain.is_empty() {
            targets = targets.item(
                ObjectBuilder::new()
                    .property(
                        "status",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(plain)),
                    )
                    .required("status"),
            );
        }
        targets.build().into()
    }

    /// `{base}`: create, and list where the store lists.
    fn collection_item(&self, name: &str) -> PathItem {
        let mut item = PathItem::new(
            HttpMethod::Post,
            operation(
                &format!(
                    "Create a {}, in an initial state",
                    <R::State as StateMachine>::RESOURCE
                ),
                &self.changing(kinds::<JsonObject<()>>()),
                [(
                    "201",
                    "Created, with its `Location` and `ETag`",
                    Some(name.to_owned()),
                )],
            )
            .request_body(Some(self.create_body_of(name))),
        );
        if self.lists() {
            let list = operation(
                "A page of the resources in any of the states, in the order of their ids",
                &kinds::<ListQuery<R::State, ()>>(),
                [(
                    "200",
                    "A page, and where the next starts",
                    Some(format!("{name}Page")),
                )],
            )
            .parameter(
                ParameterBuilder::new()
                    .name("status")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(
                        ArrayBuilder::new().items(Ref::from_schema_name(format!("{name}State"))),
                    )),
            )
            .parameter(
                ParameterBuilder::new()
                    .name("after")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some("The `next` of the page before"))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(IdKind::of::<St::Id>().cursor_pattern())),
                    )),
            )
            .parameter(
                ParameterBuilder::new()
                    .name("limit")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .maximum(Some(i64::try_from(super::MAX_PAGE).unwrap_or(i64::MAX))),
                    )),
            );
            item.get = Some(list.build());
        }
        item
    }

    /// `{base}/{id}`: read, move by target, create under a chosen id.
    fn resource_item(&self, name: &str) -> PathItem {
        let mut read = kinds::<(ResourceId<(), R::State>, Conditional)>();
        read.push(ProblemKind::Internal);
        let mut put = kinds::<(ResourceId<(), R::State>, Conditional, JsonObject<()>)>();
        put.extend([
            ProblemKind::AlreadyExists,
            ProblemKind::PreconditionFailed,
            ProblemKind::Internal,
        ]);
        PathItem::builder()
            .operation(
                HttpMethod::Get,
                operation(
                    &format!("A {}", <R::State as StateMachine>::RESOURCE),
                    &read,
                    [
                        (
                            "200",
                            "The resource, with its `ETag`",
                            Some(name.to_owned()),
                        ),
                        ("304", "Not modified: `If-None-Match` matches", None),
                    ],
                )
                .parameter(id_parameter::<St::Id>()),
            )
            .operation(
                HttpMethod::Patch,
                operation(
                    "Move to a state",
                    &self.changing(move_kinds::<R::State>(self.requires_if_match())),
                    [(
                        "200",
                        "The moved resource, with its new `ETag`",
                        Some(name.to_owned()),
                    )],
                )
                .parameter(id_parameter::<St::Id>())
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(self.target_body()))
                                .build(),
                        )
                        .build(),
                )),
            )
            .operation(
                HttpMethod::Put,
                operation(
                    "Create under a chosen id, at most once",
                    &self.changing(put),
                    [
                        ("201", "Created", Some(name.to_owned())),
                        (
                            "200",
                            "The identical resource was there already",
                            Some(name.to_owned()),
                        ),
                    ],
                )
                .parameter(id_parameter::<St::Id>())
                .request_body(Some(self.create_body_of(name))),
            )
            .build()
    }

    /// `POST {base}/actions/{action}`: the body names the resources by id
    /// or by state, with the action's input; a result per resource.
    fn bulk_operation(
        &self,
        name: &str,
        action: <R::State as StateMachine>::Action,
        max: usize,
    ) -> OperationBuilder {
        // An input that must be sent is required; otherwise it may be null.
        let required = self.input_required(action);
        let input: RefOr<Schema> = match self.rules().input_name(action) {
            Some(input) if required => Ref::from_schema_name(input).into(),
            Some(input) => Schema::from(
                AnyOfBuilder::new()
                    .item(Ref::from_schema_name(input))
                    .item(ObjectBuilder::new().schema_type(Type::Null)),
            )
            .into(),
            None => Schema::from(
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Object, Type::Null])),
            )
            .into(),
        };
        let by = |member: &str, schema: ArrayBuilder| {
            let body = ObjectBuilder::new()
                .property(member, schema)
                .required(member)
                .property("input", input.clone());
            if required {
                body.required("input")
            } else {
                body
            }
        };
        let body = OneOfBuilder::new()
            .item(by(
                "ids",
                ArrayBuilder::new()
                    .items(IdKind::of::<St::Id>().schema())
                    .max_items(Some(max)),
            ))
            .item(by(
                "status",
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(format!("{name}State")))
                    .min_items(Some(1)),
            ));
        operation(
            &format!(
                "Apply `{}` to many: by id, or every one in some states (at most {max})",
                action.name()
            ),
            &self.changing(kinds::<(ActionPath<R::State>, super::Many)>()),
            [(
                "200",
                "A result per resource: moved, or its problem",
                Some(format!("{name}Bulk")),
            )],
        )
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                )
                .build(),
        ))
    }

    /// What a create reads: the resource in an initial state, or the type
    /// of [`create_from`](Routes::create_from).
    fn create_body_of(&self, name: &str) -> utoipa::openapi::request_body::RequestBody {
        match self.create_body() {
            Some(body) => RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json(body))
                .build(),
            None => new_body::<R::State>(name),
        }
    }

    /// The schema given for the type `named`, or any object.
    fn given_schema(&self, named: &str) -> Schema {
        self.schemas()
            .inputs
            .iter()
            .find(|(given, _)| given == named)
            .map_or_else(
                || {
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .build()
                        .into()
                },
                |(_, schema)| schema.clone(),
            )
    }

    fn components(&self, name: &str) -> ComponentsBuilder {
        let resource: Schema = self.schemas().resource.clone().unwrap_or_else(|| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .build()
                .into()
        });
        let mut components = openapi::components::<R::State>(ComponentsBuilder::new())
            .schema(name, resource)
            .schema(
                format!("{name}Transitions"),
                openapi::transitions_schema::<R::State>(),
            )
            .schema(
                format!("{name}History"),
                ArrayBuilder::new().items(Ref::from_schema_name(format!("{name}HistoryEntry"))),
            )
            .schema(
                format!("{name}Page"),
                ObjectBuilder::new()
                    .property(
                        "items",
                        ArrayBuilder::new().items(Ref::from_schema_name(name)),
                    )
                    .property(
                        "next",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::from_iter([Type::String, Type::Null])),
                    )
                    .required("items"),
            );
        if self.bulk_max().is_some() {
            let result = ObjectBuilder::new()
                .property("id", IdKind::of::<St::Id>().schema())
                .property("status", ObjectBuilder::new().schema_type(Type::Integer))
                .property("resource", Ref::from_schema_name(name))
                .property("problem", Ref::from_schema_name(openapi::PROBLEM))
                .required("id")
                .required("status");
            components = components.schema(
                format!("{name}Bulk"),
                ObjectBuilder::new()
                    .property("results", ArrayBuilder::new().items(result))
                    .property("more", ObjectBuilder::new().schema_type(Type::Boolean))
                    .required("results")
                    .required("more"),
            );
        }
        for &action in <<R::State as StateMachine>::Action as Action>::ALL {
            if let Some(input) = self.rules().input_name(action) {
                components = components.schema(input, self.given_schema(input));
            }
        }
        if let Some(body) = self.create_body() {
            components = components.schema(body, self.given_schema(body));
        }
        components
    }
}

/// `{base}/events` and `{base}/{id}/events`: committed moves as
/// Server-Sent Events, each `data` a `{Name}Event`.
fn events_item<Id>(name: &str, of_one: bool) -> PathItem {
    let stream = ResponseBuilder::new()
        .description(
            "Server-Sent Events, `event: moved`, `id:` the event's position, `data:` the event; \
             the stream stays open",
        )
        .content(
            "text/event-stream",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(format!("{name}Event"))))
                .build(),
        )
        .build();
    let mut problems = kinds::<LastEventId>();
    problems.push(ProblemKind::Internal);
    let summary = if of_one {
        problems.push(ProblemKind::NotFound);
        "The committed moves of one resource, as they commit"
    } else {
        "Every committed move, as it commits"
    };
    let mut operation = OperationBuilder::new().summary(Some(summary)).responses(
        problem_responses_of(&problems, ResponsesBuilder::new())
            .response("200", stream)
            .build(),
    );
    if of_one {
        operation = operation.parameter(id_parameter::<Id>());
    }
    for parameter in openapi::last_event_id_parameters() {
        operation = operation.parameter(parameter);
    }
    PathItem::new(HttpMethod::Get, operation)
}

/// The kinds of problem of the parts `P`.
fn kinds<P: Problems>() -> Vec<ProblemKind> {
    let mut kinds = Vec::new();
    P::problems(&mut kinds);
    kinds
}

/// A move's problems: 428 only where `If-Match` is required.
fn move_kinds<S: StateMachine>(requires_if_match: bool) -> Vec<ProblemKind> {
    let mut kinds = kinds::<MoveRequest<S, ()>>();
    if !requires_if_match {
        kinds.retain(|&kind| kind != ProblemKind::PreconditionRequired);
    }
    kinds
}

fn operation<const N: usize>(
    summary: &str,
    problems: &[ProblemKind],
    successes: [(&str, &str, Option<String>); N],
) -> OperationBuilder {
    let mut kinds = problems.to_vec();
    // Every route can fail inside: the store, a hook's task.
    kinds.push(ProblemKind::Internal);
    let responses = successes.into_iter().fold(
        problem_responses_of(&kinds, ResponsesBuilder::new()),
        |responses, (status, description, schema)| {
            let mut response = ResponseBuilder::new().description(description);
            if let Some(schema) = schema {
                response = response.content("application/json", json(&schema));
            }
            responses.response(status, response.build())
        },
    );
    OperationBuilder::new()
        .summary(Some(summary))
        .responses(responses.build())
}

fn json(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

/// The body of a create: the resource, in an initial state (its state
/// member is `status`, as moves by target name it).
fn new_body<S: StateMachine>(name: &str) -> utoipa::openapi::request_body::RequestBody {
    let initial = ObjectBuilder::new().property(
        "status",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(S::INITIAL.iter().map(|state| state.name()))),
    );
    let schema = Schema::AllOf(
        AllOfBuilder::new()
            .item(Ref::from_schema_name(name))
            .item(initial)
            .build(),
    );
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// How ids of a type read, for their path parameter, the ids of a bulk
/// move and the cursors of pages (`c1.` and the id's text in hex). An
/// integer's schema states its type's range: a schema-valid id must read
/// back, or schemathesis rightly flags a valid request refused.
enum IdKind {
    Unsigned(u64),
    Signed(i64, i64),
    Uuid,
    Text,
}

impl IdKind {
    /// By the type's name: the integers, `Uuid`, or any text.
    fn of<Id>() -> Self {
        let name = std::any::type_name::<Id>();
        let last = name.rsplit("::").next().unwrap_or(name);
        match last {
            "u8" => IdKind::Unsigned(u8::MAX.into()),
            "u16" => IdKind::Unsigned(u16::MAX.into()),
            "u32" => IdKind::Unsigned(u32::MAX.into()),
            "u64" | "usize" => IdKind::Unsigned(u64::MAX),
            "i8" => IdKind::Signed(i8::MIN.into(), i8::MAX.into()),
            "i16" => IdKind::Signed(i16::MIN.into(), i16::MAX.into()),
            "i32" => IdKind::Signed(i32::MIN.into(), i32::MAX.into()),
            "i64" | "isize" => IdKind::Signed(i64::MIN, i64::MAX),
            "Uuid" => IdKind::Uuid,
            _ => IdKind::Text,
        }
    }

    fn schema(&self) -> ObjectBuilder {
        match *self {
            IdKind::Unsigned(max) => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(max)),
            IdKind::Signed(min, max) => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(max)),
            IdKind::Uuid => ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::Custom("uuid".to_owned()),
            )),
            IdKind::Text => ObjectBuilder::new().schema_type(Type::String),
        }
    }

    /// Cursors of ids this kind reads back: digits are `3x` in hex.
    fn cursor_pattern(&self) -> &'static str {
        match self {
            IdKind::Unsigned(_) => "^c1\\.(3[0-9]){1,19}$",
            IdKind::Signed(..) => "^c1\\.(2d)?(3[0-9]){1,18}$",
            IdKind::Uuid => "^c1\\.(3[0-9]|6[1-6]|2d){36}$",
            IdKind::Text => "^c1\\.([0-9a-f]{2})+$",
        }
    }
}

fn id_parameter<Id>() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(IdKind::of::<Id>().schema()))
        .build()
}
