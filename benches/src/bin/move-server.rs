//! A move endpoint for the HTTP benchmark: `move-server conflict PORT` serves
//! it through the crate (extractor, `MemoryStore`, `ETag`, problem bodies),
//! `move-server hand PORT` through a hand-written axum handler doing the same
//! work with a `Mutex<HashMap>`. Both preload 1000 closed doors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conflict_runtime::http::{MoveRequest, Problem};
use conflict_runtime::store::{MemoryStore, Versioned};

use conflict_benches::{DOORS, Door, DoorState};

async fn through_conflict(
    State(doors): State<MemoryStore<Door>>,
    request: MoveRequest<DoorState, u64>,
) -> Result<Versioned<u64, Door>, Problem> {
    request.apply(&doors).await
}

fn conflict_app() -> Router {
    let doors = MemoryStore::<Door>::new();
    for _ in 0..DOORS {
        doors.create(|&id| Door {
            id,
            state: DoorState::Closed,
        });
    }
    Router::new()
        .route("/doors/{id}/{action}", post(through_conflict))
        .with_state(doors)
}

type Doors = Arc<Mutex<HashMap<u64, (DoorState, u64)>>>;

/// The same work by hand: parse, look up, decide, commit, answer JSON with an
/// `ETag`, or a 409 problem body naming the state and the allowed moves.
async fn by_hand(
    State(doors): State<Doors>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return (StatusCode::NOT_FOUND, "no such door").into_response();
    };
    let mut doors = doors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some((state, version)) = doors.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, "no such door").into_response();
    };
    let next = match (*state, action.as_str()) {
        (DoorState::Closed, "open") => Some(DoorState::Open),
        (DoorState::Closed, "lock") => Some(DoorState::Locked),
        (DoorState::Open, "close") | (DoorState::Locked, "unlock") => Some(DoorState::Closed),
        (_, "open" | "close" | "lock" | "unlock") => None,
        _ => return (StatusCode::NOT_FOUND, "no such action").into_response(),
    };
    if let Some(next) = next {
        *state = next;
        *version += 1;
        let etag = HeaderValue::from_str(&format!("\"{version}\""))
            .unwrap_or(HeaderValue::from_static("\"0\""));
        let body = serde_json::json!({"id": id, "state": next});
        drop(doors);
        return ([(header::ETAG, etag)], axum::Json(body)).into_response();
    }
    let (allowed_actions, allowed_next): (&[&str], &[&str]) = match *state {
        DoorState::Closed => (&["open", "lock"], &["open", "locked"]),
        DoorState::Open => (&["close"], &["closed"]),
        DoorState::Locked => (&["unlock"], &["closed"]),
    };
    let current = *state;
    drop(doors);
    let body = serde_json::json!({
        "type": "urn:conflict:problem:illegal-transition",
        "title": "Illegal state transition",
        "status": 409,
        "detail": format!("cannot {action} door {id}: it is {}", name(current)),
        "current_state": current,
        "action": action,
        "allowed_next_states": allowed_next,
        "allowed_actions": allowed_actions,
    });
    (
        StatusCode::CONFLICT,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn name(state: DoorState) -> &'static str {
    match state {
        DoorState::Closed => "closed",
        DoorState::Open => "open",
        DoorState::Locked => "locked",
    }
}

fn hand_app() -> Router {
    let doors: Doors = Arc::new(Mutex::new(
        (1..=DOORS).map(|id| (id, (DoorState::Closed, 1))).collect(),
    ));
    Router::new()
        .route("/doors/{id}/{action}", post(by_hand))
        .with_state(doors)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(port)) = (args.next(), args.next()) else {
        return Err("usage: move-server conflict|hand PORT".into());
    };
    let app = match mode.as_str() {
        "conflict" => conflict_app(),
        "hand" => hand_app(),
        other => return Err(format!("unknown mode `{other}`").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
