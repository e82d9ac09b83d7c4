//! `cargo run --example tickets [-- --addr HOST:PORT]`: a service of one
//! resource in a few lines, every route generated from its machine
//! (`http::Routes`), with its OpenAPI document at `/openapi.json`.

use conflict_runtime::StateMachine;
use conflict_runtime::http::{MAX_BULK, Routes};
use conflict_runtime::moves::{ActionInput, Engine, Rules};
use conflict_runtime::store::{Keyed, MemoryStore, Resource};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TicketStatus {
    #[state(initial, on(start -> InProgress, close -> Closed))]
    Open,
    #[state(on(close -> Closed))]
    InProgress,
    #[state(terminal)]
    Closed,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Ticket {
    title: String,
    status: TicketStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolution: Option<String>,
}

impl Resource for Ticket {
    type State = TicketStatus;
    fn state(&self) -> TicketStatus {
        self.status
    }
    fn set_state(&mut self, status: TicketStatus) {
        self.status = status;
    }
}

impl Keyed<u64> for Ticket {}

/// `close` may say how the ticket was resolved.
#[derive(Serialize, Deserialize)]
struct Resolution {
    #[serde(default)]
    note: Option<String>,
}

impl ActionInput<Ticket> for Resolution {
    fn edit(&self, ticket: &mut Ticket) {
        ticket.resolution.clone_from(&self.note);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = match (args.next().as_deref(), args.next()) {
        (Some("--addr"), Some(addr)) => addr,
        _ => "127.0.0.1:3000".to_owned(),
    };
    let rules = Rules::new().input::<Resolution>(TicketStatusAction::Close);
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let app = Routes::new("/tickets", Engine::new(MemoryStore::<Ticket>::new(), rules))
        .listed()
        .bulk(MAX_BULK)
        .schema(
            ObjectBuilder::new()
                .property("title", string())
                .property(
                    "status",
                    utoipa::openapi::Ref::from_schema_name("TicketState"),
                )
                .property(
                    "resolution",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null])),
                )
                .required("title")
                .required("status")
                .build(),
        )
        .input_schema(
            "Resolution",
            ObjectBuilder::new()
                .property(
                    "note",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null])),
                )
                .build(),
        )
        .with_openapi()
        .router();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("tickets on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
