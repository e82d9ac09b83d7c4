//! The routes generated from a machine (`http::Routes`): a service of one
//! resource in a few lines, served on a loopback port, answering as the
//! hand-written example does; and the conformance check over it.

use conflict_runtime::StateMachine;
use conflict_runtime::guard::Blocker;
use conflict_runtime::http::Routes;
use conflict_runtime::moves::{Engine, Rules};
use conflict_runtime::store::{Keyed, MemoryStore, Resource};
use conflict_runtime::testing::Conformance;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[macro_use]
mod support;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Ticket {
    title: String,
    status: TicketStatus,
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

/// A ticket titled "blocked" cannot be started.
fn rules() -> Rules<Ticket> {
    Rules::new().guard(TicketStatusAction::Start, |ticket: &Ticket| {
        if ticket.title == "blocked" {
            return Err(Blocker::new("blocked", "this ticket waits on another"));
        }
        Ok(())
    })
}

/// Opens a ticket of each title, in order (ids from 1).
async fn open_tickets(server: &support::Server, titles: &[&str]) {
    for title in titles {
        let (status, _, _) = send(
            server
                .client
                .post(server.url("/tickets"))
                .json(&json!({"title": title, "status": "open"})),
        )
        .await;
        assert_eq!(status, 201, "{title}");
    }
}

/// The routes of tickets over a new store, to build on.
fn tickets() -> Routes<Ticket, MemoryStore<Ticket>> {
    Routes::new("/tickets", Engine::new(MemoryStore::new(), rules()))
}

fn app(tickets: MemoryStore<Ticket>) -> axum::Router {
    Routes::new("/tickets", Engine::new(tickets, rules()))
        .with_actions("authorization")
        .listed()
        .router()
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_routes_answer_as_the_contract_says() {
    let server = support::Server::start(app(MemoryStore::new())).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);

    // Create: 201, Location, ETag; a new ticket starts open.
    let (status, headers, created) = send(
        client
            .post(url("/tickets"))
            .json(&json!({"title": "printer", "status": "open"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(headers["location"], "/tickets/1");
    assert_eq!(headers["etag"], "\"1\"");
    assert_eq!(created["status"], "open");
    let (status, _, problem) = send(
        client
            .post(url("/tickets"))
            .json(&json!({"title": "x", "status": "closed"})),
    )
    .await;
    assert_eq!(
        (status, &problem["type"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("urn:conflict:problem:invalid-input")
        )
    );

    // Read, with what may be done, and 304 on a matching ETag.
    let (status, headers, ticket) = send(client.get(url("/tickets/1"))).await;
    assert_eq!(status, 200);
    assert_eq!(headers["vary"], "authorization");
    let offered: Vec<&str> = ticket["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["start", "close"]);
    let (status, _, _) = send(
        client
            .get(url("/tickets/1"))
            .header("if-none-match", "\"1\""),
    )
    .await;
    assert_eq!(status, 304);

    // Moves: by action, then an illegal one is a 409 naming what is allowed.
    let (status, headers, started) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(
        (status, &started["status"]),
        (StatusCode::OK, &json!("in_progress"))
    );
    assert_eq!(headers["etag"], "\"2\"");
    let (status, _, refused) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(status, 409);
    assert_eq!(refused["type"], "urn:conflict:problem:illegal-transition");
    assert_eq!(refused["allowed_actions"], json!(["close"]));
    // By target, under a precondition: a stale one is 412.
    let (status, _, _) = send(
        client
            .patch(url("/tickets/1"))
            .header("if-match", "\"1\"")
            .json(&json!({"status": "closed"})),
    )
    .await;
    assert_eq!(status, 412);
    let (status, _, closed) = send(
        client
            .patch(url("/tickets/1"))
            .header("if-match", "\"2\"")
            .json(&json!({"status": "closed"})),
    )
    .await;
    assert_eq!(
        (status, &closed["status"]),
        (StatusCode::OK, &json!("closed"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_chosen_ids_history_listing_and_problems() {
    let server = support::Server::start(app(MemoryStore::new())).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    let (status, _, _) = send(
        client
            .post(url("/tickets"))
            .json(&json!({"title": "printer", "status": "open"})),
    )
    .await;
    assert_eq!(status, 201);
    for path in ["/tickets/1/start", "/tickets/1/close"] {
        let (status, _, _) = send(client.post(url(path))).await;
        assert_eq!(status, 200, "{path}");
    }
    // A guard blocks: 409 transition-blocked with its blocker.
    let (_, _, _) = send(
        client
            .put(url("/tickets/7"))
            .json(&json!({"title": "blocked", "status": "open"})),
    )
    .await;
    let (status, _, blocked) = send(client.post(url("/tickets/7/start"))).await;
    assert_eq!(status, 409);
    assert_eq!(blocked["type"], "urn:conflict:problem:transition-blocked");
    assert_eq!(blocked["blockers"][0]["code"], "blocked");
    let (_, _, transitions) = send(client.get(url("/tickets/7/transitions?explain=true"))).await;
    assert_eq!(transitions["allowed_actions"], json!(["close"]));
    // Create under a chosen id: again the same is a 200, different a 409.
    let (status, _, _) = send(
        client
            .put(url("/tickets/7"))
            .json(&json!({"title": "blocked", "status": "open"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = send(
        client
            .put(url("/tickets/7"))
            .json(&json!({"title": "other", "status": "open"})),
    )
    .await;
    assert_eq!(status, 409);

    // History, listing by state, the machine, and problems for the rest.
    let (_, _, history) = send(client.get(url("/tickets/1/history"))).await;
    assert_eq!(history.as_array().map(Vec::len), Some(2));
    let (status, _, page) = send(client.get(url("/tickets?status=open"))).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    let (status, _, machine) = send(client.get(url("/state-machines/ticket"))).await;
    assert_eq!(status, 200);
    assert!(machine["states"].is_array(), "{machine}");
    let (status, _, missing) = send(client.get(url("/tickets/99"))).await;
    assert_eq!(
        (status, &missing["type"]),
        (
            StatusCode::NOT_FOUND,
            &json!("urn:conflict:problem:not-found")
        )
    );
    let (status, _, _) = send(client.delete(url("/tickets/1"))).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_generated_routes_conform() {
    let tickets = MemoryStore::<Ticket>::new();
    let store = tickets.clone();
    let checked = Conformance::new(app(tickets), move |status| {
        let store = store.clone();
        async move {
            let ticket = Ticket {
                title: "printer".to_owned(),
                status,
            };
            let created = conflict_runtime::store::Create::create(&store, ticket)
                .await
                .unwrap();
            format!("/tickets/{}", created.id())
        }
    })
    .check()
    .await
    .unwrap();
    assert_eq!(checked, 3 * 2);
}

/// Every `$ref` under `value` names a schema of `components`.
fn dangling_refs(value: &Value, components: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            if let Some(Value::String(target)) = members.get("$ref") {
                let name = target.trim_start_matches("#/components/schemas/");
                if components.get(name).is_none() {
                    found.push(target.clone());
                }
            }
            for member in members.values() {
                dangling_refs(member, components, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                dangling_refs(item, components, found);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_document_follows_the_declaration() {
    let tickets = MemoryStore::<Ticket>::new();
    let routes = Routes::new("/tickets", Engine::new(tickets, rules())).listed();
    let server = support::Server::start(routes.with_openapi().router()).await;
    let (status, _, document) = send(server.client.get(server.url("/openapi.json"))).await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = &document["paths"];
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let mut statuses: Vec<String> = paths[path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is documented"))
            .keys()
            .cloned()
            .collect();
        statuses.sort();
        statuses
    };
    // One operation per action; a move's refusals, 500 too, and no 428 where
    // If-Match is not required.
    for action in ["start", "close"] {
        let move_statuses = statuses(&format!("/tickets/{{id}}/{action}"), "post");
        for status in ["200", "404", "409", "412", "500", "503"] {
            assert!(
                move_statuses.iter().any(|s| s == status),
                "{action}: {move_statuses:?}"
            );
        }
        assert!(
            !move_statuses.iter().any(|s| s == "428"),
            "{action}: {move_statuses:?}"
        );
    }
    assert!(statuses("/tickets/{id}", "get").contains(&"304".to_owned()));
    assert!(statuses("/tickets/{id}", "patch").contains(&"409".to_owned()));
    assert!(statuses("/tickets/{id}", "put").contains(&"201".to_owned()));
    assert!(statuses("/tickets", "post").contains(&"201".to_owned()));
    assert!(statuses("/tickets", "get").contains(&"200".to_owned()));
    assert!(statuses("/tickets/{id}/transitions", "get").contains(&"200".to_owned()));
    assert!(statuses("/tickets/{id}/history", "get").contains(&"200".to_owned()));
    // A new ticket is documented as starting open.
    let created =
        &paths["/tickets"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        created["allOf"][1]["properties"]["status"]["enum"],
        json!(["open"])
    );
    let mut dangling = Vec::new();
    dangling_refs(&document, &document["components"]["schemas"], &mut dangling);
    assert!(dangling.is_empty(), "{dangling:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_may_require_if_match_and_the_document_says_so() {
    let routes = tickets().require_if_match().with_openapi();
    let server = support::Server::start(routes.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    let (status, _, _) = send(
        client
            .post(url("/tickets"))
            .json(&json!({"title": "printer", "status": "open"})),
    )
    .await;
    assert_eq!(status, 201);
    // Without If-Match, by action and by target: 428, and nothing moves.
    let (status, _, problem) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(status, 428);
    assert_eq!(
        problem["type"],
        "urn:conflict:problem:precondition-required"
    );
    let (status, _, _) = send(
        client
            .patch(url("/tickets/1"))
            .json(&json!({"status": "closed"})),
    )
    .await;
    assert_eq!(status, 428);
    let (_, _, ticket) = send(client.get(url("/tickets/1"))).await;
    assert_eq!(ticket["status"], "open");
    // With it, the move is made.
    let (status, headers, started) = send(
        client
            .post(url("/tickets/1/start"))
            .header("if-match", "\"1\""),
    )
    .await;
    assert_eq!(
        (status, &started["status"]),
        (StatusCode::OK, &json!("in_progress"))
    );
    assert_eq!(headers["etag"], "\"2\"");
    // The document lists 428 on every move, and only there.
    let (_, _, document) = send(client.get(url("/openapi.json"))).await;
    let has_428 = |path: &str, method: &str| {
        document["paths"][path][method]["responses"]
            .get("428")
            .is_some()
    };
    assert!(has_428("/tickets/{id}/start", "post"));
    assert!(has_428("/tickets/{id}/close", "post"));
    assert!(has_428("/tickets/{id}", "patch"));
    assert!(!has_428("/tickets/{id}", "get"));
    assert!(!has_428("/tickets/{id}", "put"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_move_at_once_by_id_or_by_state() {
    let routes = tickets().bulk(3).with_openapi();
    let server = support::Server::start(routes.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    open_tickets(&server, &["a", "blocked", "c", "d"]).await;
    let (status, _, _) = send(client.post(url("/tickets/4/close"))).await;
    assert_eq!(status, 200);
    let bulk = |action: &str, body: Value| {
        client
            .post(url(&format!("/tickets/actions/{action}")))
            .json(&body)
    };

    // By id, in the order asked: moved, blocked by its guard, missing,
    // illegal; ids as JSON Schema's integers (7.0) read too.
    let (status, _, answer) = send(bulk("start", json!({"ids": [1.0, 2, 99]}))).await;
    assert_eq!(status, 200, "{answer}");
    let results = &answer["results"];
    assert_eq!(results[0]["id"], 1);
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[0]["resource"]["status"], "in_progress");
    assert_eq!(results[1]["status"], 409);
    assert_eq!(
        results[1]["problem"]["type"],
        "urn:conflict:problem:transition-blocked"
    );
    assert_eq!(results[2]["status"], 404);
    assert_eq!(answer["more"], false);
    let (_, _, answer) = send(bulk("start", json!({"ids": [4]}))).await;
    assert_eq!(answer["results"][0]["status"], 409);
    assert_eq!(answer["results"][0]["problem"]["current_state"], "closed");

    // By state: the open ones (2 and 3), all within the limit.
    let (status, _, answer) = send(bulk("close", json!({"status": ["open"]}))).await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<&Value> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| &result["id"])
        .collect();
    assert_eq!(ids, [&json!(2), &json!(3)]);
    let (_, _, ticket) = send(client.get(url("/tickets/3"))).await;
    assert_eq!(ticket["status"], "closed");

    // Refused as a whole, each naming the member at fault.
    for (body, field) in [
        (json!({"ids": [1, 2, 3, 4]}), "ids"),
        (json!({"ids": ["one"]}), "ids"),
        (json!({"ids": [1.5]}), "ids"),
        (json!({}), "ids"),
        (json!({"status": ["lost"]}), "status"),
        (json!({"ids": [1], "input": 5}), "input"),
    ] {
        let (status, _, problem) = send(bulk("close", body.clone())).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    let (status, _, problem) = send(bulk("fly", json!({"ids": [1]}))).await;
    assert_eq!(status, 404, "{problem}");

    // One operation per action, its limit in the schema.
    let (_, _, document) = send(client.get(url("/openapi.json"))).await;
    let operation = &document["paths"]["/tickets/actions/close"]["post"];
    assert!(operation["responses"].get("200").is_some(), "{operation}");
    assert!(operation["responses"].get("403").is_some(), "{operation}");
    let body = &operation["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        body["oneOf"][0]["properties"]["ids"]["maxItems"], 3,
        "{body}"
    );
    assert!(document["components"]["schemas"]["TicketBulk"].is_object());
    let mut dangling = Vec::new();
    dangling_refs(&document, &document["components"]["schemas"], &mut dangling);
    assert!(dangling.is_empty(), "{dangling:?}");
}

/// The first event a `text/event-stream` response sends, as JSON.
async fn first_event(response: &mut reqwest::Response) -> Value {
    let mut text = String::new();
    let read = async {
        loop {
            if let Some(data) = text
                .split("\n\n")
                .filter(|_| text.contains("\n\n"))
                .find_map(|block| block.lines().find_map(|line| line.strip_prefix("data: ")))
            {
                return serde_json::from_str::<Value>(data).unwrap();
            }
            let chunk = response.chunk().await.unwrap().expect("the stream is open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an event within ten seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_moves_stream_as_events() {
    let routes = tickets().events().with_openapi();
    let server = support::Server::start(routes.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    open_tickets(&server, &["a", "b"]).await;
    let mut all = client.get(url("/tickets/events")).send().await.unwrap();
    assert_eq!(all.status(), 200);
    assert_eq!(all.headers()["content-type"], "text/event-stream");
    let mut of_two = client.get(url("/tickets/2/events")).send().await.unwrap();
    assert_eq!(of_two.status(), 200);
    let (status, _, _) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(client.post(url("/tickets/2/close"))).await;
    assert_eq!(status, 200);

    let first = first_event(&mut all).await;
    assert_eq!(
        (&first["id"], &first["action"]),
        (&json!("1"), &json!("start")),
        "{first}"
    );
    let of_two = first_event(&mut of_two).await;
    assert_eq!(
        (&of_two["id"], &of_two["to"]),
        (&json!("2"), &json!("closed")),
        "{of_two}"
    );

    // A resource that is not there has no stream; a bad resume point is 400.
    let (status, _, _) = send(client.get(url("/tickets/9/events"))).await;
    assert_eq!(status, 404);
    let (status, _, _) = send(
        client
            .get(url("/tickets/events"))
            .header("last-event-id", "soon"),
    )
    .await;
    assert_eq!(status, 400);
    let (_, _, document) = send(client.get(url("/openapi.json"))).await;
    let stream = &document["paths"]["/tickets/{id}/events"]["get"]["responses"];
    assert!(
        stream["200"]["content"]["text/event-stream"].is_object(),
        "{stream}"
    );
    assert!(stream.get("404").is_some(), "{stream}");
    let mut dangling = Vec::new();
    dangling_refs(&document, &document["components"]["schemas"], &mut dangling);
    assert!(dangling.is_empty(), "{dangling:?}");
}

/// What a client sends to open a ticket: a title, never a state.
#[derive(Deserialize)]
struct NewTicket {
    title: String,
}

impl conflict_runtime::http::NewResource<Ticket, u64> for NewTicket {
    fn into_resource(self, id: Option<&u64>) -> Result<Ticket, conflict_runtime::moves::Invalid> {
        if self.title.trim().is_empty() {
            return Err(conflict_runtime::moves::Invalid::new(
                "title",
                "a ticket needs a title",
            ));
        }
        if id == Some(&0) {
            return Err(conflict_runtime::moves::Invalid::new(
                "id",
                "ticket ids start at 1",
            ));
        }
        Ok(Ticket {
            title: self.title,
            status: TicketStatus::Open,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_may_take_a_body_of_their_own() {
    let routes = tickets().create_from::<NewTicket>().with_openapi();
    let server = support::Server::start(routes.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    let (status, headers, created) = send(
        client
            .post(url("/tickets"))
            .json(&json!({"title": "printer"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["location"], "/tickets/1");
    assert_eq!(created["status"], "open");
    // Refusals name the field: the type's own (a missing title), the
    // conversion's (a blank title, id 0).
    for (request, field) in [
        (client.post(url("/tickets")).json(&json!({})), "title"),
        (
            client.post(url("/tickets")).json(&json!({"title": " "})),
            "title",
        ),
        (
            client.put(url("/tickets/0")).json(&json!({"title": "x"})),
            "id",
        ),
    ] {
        let (status, _, problem) = send(request).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    // Under a chosen id, at most once.
    let (status, _, _) = send(client.put(url("/tickets/7")).json(&json!({"title": "x"}))).await;
    assert_eq!(status, 201);
    let (status, _, _) = send(client.put(url("/tickets/7")).json(&json!({"title": "y"}))).await;
    assert_eq!(status, 409);
    // The document's create bodies are the type's.
    let (_, _, document) = send(client.get(url("/openapi.json"))).await;
    for (path, method) in [("/tickets", "post"), ("/tickets/{id}", "put")] {
        assert_eq!(
            document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/NewTicket",
            "{method} {path}"
        );
    }
    assert!(document["components"]["schemas"]["NewTicket"].is_object());
}

/// A completion of reads: the title as shown, in capitals (a payment
/// joined from another table, in a real service).
async fn shouted(
    _: MemoryStore<Ticket>,
    mut found: Vec<conflict_runtime::store::Versioned<u64, Ticket>>,
) -> Result<
    Vec<conflict_runtime::store::Versioned<u64, Ticket>>,
    conflict_runtime::store::StoreError<TicketStatus>,
> {
    for ticket in &mut found {
        *ticket = ticket.clone().map(|mut value| {
            value.title = value.title.to_uppercase();
            value
        });
    }
    Ok(found)
}

/// A move made by code of the service's: the engine's move, and a header
/// saying so (a payment row written in its transaction, in a real one).
fn performed<'a>(
    engine: &'a Engine<Ticket, MemoryStore<Ticket>>,
    caller: &'a dyn conflict_runtime::moves::Caller,
    spec: conflict_runtime::moves::MoveSpec<TicketStatus, u64>,
    _: Option<conflict_runtime::http::KeyedRequest>,
) -> std::pin::Pin<
    Box<
        dyn Future<
                Output = Result<
                    axum::response::Response,
                    conflict_runtime::moves::MoveError<TicketStatus>,
                >,
            > + Send
            + 'a,
    >,
> {
    Box::pin(async move {
        let moved = engine.perform(caller, spec).await?;
        let mut answer = axum::response::IntoResponse::into_response(moved);
        answer
            .headers_mut()
            .insert("x-performed-by", "the-service".parse().unwrap());
        Ok(answer)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_completed_and_moves_made_by_code_of_the_services() {
    let tickets = MemoryStore::<Ticket>::new();
    let completed = Routes::new("/tickets", Engine::new(tickets.clone(), rules()))
        .listed()
        .bulk(10)
        .read_with(shouted);
    let server = support::Server::start(completed.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    open_tickets(&server, &["printer", "screen"]).await;
    let (_, _, read) = send(client.get(url("/tickets/1"))).await;
    assert_eq!(read["title"], "PRINTER");
    let (_, _, page) = send(client.get(url("/tickets?status=open"))).await;
    assert_eq!(page["items"][1]["title"], "SCREEN", "{page}");
    let (_, _, moved) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(moved["title"], "PRINTER");
    let (_, _, many) = send(
        client
            .post(url("/tickets/actions/close"))
            .json(&json!({"ids": [99, 2]})),
    )
    .await;
    assert_eq!(many["results"][0]["status"], 404, "{many}");
    assert_eq!(many["results"][1]["resource"]["title"], "SCREEN", "{many}");
    // Stored as created: only the answers are completed.
    let stored = conflict_runtime::store::Store::get(&tickets, &1)
        .await
        .unwrap();
    assert_eq!(stored.value().title, "printer");

    let performing = Routes::new("/tickets", Engine::new(tickets, rules()))
        .perform_with(performed)
        .require_if_match();
    let server = support::Server::start(performing.router()).await;
    let client = &server.client;
    let url = |path: &str| server.url(path);
    let response = client
        .post(url("/tickets/1/close"))
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-performed-by"], "the-service");
    // Its refusals are problems as the engine's are; the request is still
    // read by the routes (If-Match required).
    let (status, _, refused) = send(
        client
            .post(url("/tickets/1/start"))
            .header("if-match", "\"3\""),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(refused["instance"], "/tickets/1/start");
    let (status, _, _) = send(client.post(url("/tickets/1/start"))).await;
    assert_eq!(status, 428);
}
