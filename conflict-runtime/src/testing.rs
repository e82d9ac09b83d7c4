//! Helpers to test your own machines and the routers built on them
//! (feature `testing`): assertions that read like the declaration, proptest
//! strategies over any derived machine, and a conformance check that drives
//! a router through every (state, action) pair.
//!
//! ```
//! use conflict_runtime::{StateMachine, assert_moves, assert_refuses};
//!
//! #[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq)]
//! enum OrderStatus {
//!     #[state(initial, on(pay -> Paid, cancel -> Cancelled))]
//!     Pending,
//!     #[state(on(ship -> Shipped, cancel -> Cancelled))]
//!     Paid,
//!     #[state(terminal)]
//!     Shipped,
//!     #[state(terminal)]
//!     Cancelled,
//! }
//!
//! assert_moves!(OrderStatus::Paid, ship => Shipped);
//! assert_moves!(OrderStatus::Pending, cancel => OrderStatus::Cancelled);
//! assert_refuses!(OrderStatus::Shipped, cancel);
//! assert_refuses!(OrderStatus::Pending, ship, allowed: [pay, cancel]);
//! ```
//!
//! The `orders` example's own tests (`tests/tests/testing_helpers.rs`) use
//! all of them: the strategies over its machine, and the conformance check
//! over its router.

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use proptest::strategy::{BoxedStrategy, Just, Strategy};
use serde_json::Value;

use crate::machine::{Action, StateMachine, TransitionError};

/// Asserts that `from` moves by `action` to `to`: `assert_moves!(OrderStatus::Paid, ship =>
/// Shipped)`. `to` is a variant, bare or by path. A failure says where the
/// action leads instead, or why it is refused.
#[macro_export]
macro_rules! assert_moves {
    ($from:expr, $action:ident => $to:path $(,)?) => {{
        let from = $from;
        $crate::testing::check_moves(from, stringify!($action), from.$action(), stringify!($to));
    }};
}

/// Asserts that `from` refuses `action`, and, with `allowed: [...]`, that
/// the actions it allows are exactly those (in any order):
/// `assert_refuses!(OrderStatus::Shipped, cancel, allowed: [deliver])`.
#[macro_export]
macro_rules! assert_refuses {
    ($from:expr, $action:ident $(,)?) => {{
        let from = $from;
        $crate::testing::check_refuses(from, stringify!($action), from.$action(), None);
    }};
    ($from:expr, $action:ident, allowed: [$($allowed:ident),* $(,)?] $(,)?) => {{
        let from = $from;
        $crate::testing::check_refuses(
            from,
            stringify!($action),
            from.$action(),
            Some(&[$(stringify!($allowed)),*]),
        );
    }};
}

/// What [`assert_moves!`] checks.
///
/// # Panics
/// When `moved` is a refusal, or a move to another state than `to`.
#[doc(hidden)]
#[track_caller]
pub fn check_moves<S: StateMachine>(
    from: S,
    action: &str,
    moved: Result<S, TransitionError<S>>,
    to: &str,
) {
    let expected = last_segment(to);
    match moved {
        Ok(target) if format!("{target:?}") == expected => {}
        Ok(target) => panic!("`{from:?}` --{action}--> `{target:?}`, not `{expected}`"),
        Err(refused) => panic!(
            "`{from:?}` refuses `{action}` ({refused}); it allows {}",
            actions_of(from)
        ),
    }
}

/// What [`assert_refuses!`] checks.
///
/// # Panics
/// When `moved` is a move, or the allowed actions are not `allowed`.
#[doc(hidden)]
#[track_caller]
pub fn check_refuses<S: StateMachine>(
    from: S,
    action: &str,
    moved: Result<S, TransitionError<S>>,
    allowed: Option<&[&str]>,
) {
    if let Ok(target) = moved {
        panic!("`{from:?}` allows `{action}` (to `{target:?}`); expected a refusal");
    }
    let Some(allowed) = allowed else {
        return;
    };
    let mut expected: Vec<String> = allowed.iter().map(|name| pascal(name)).collect();
    let mut actual: Vec<String> = from.actions().iter().map(|a| format!("{a:?}")).collect();
    expected.sort_unstable();
    actual.sort_unstable();
    assert!(
        expected == actual,
        "`{from:?}` refuses `{action}`, but allows {}, not [{}]",
        actions_of(from),
        allowed.join(", ")
    );
}

/// `OrderStatus::Shipped` -> `Shipped`.
fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path).trim()
}

/// `mark_paid` -> `MarkPaid`, as the derive names the action's variant.
fn pascal(method: &str) -> String {
    method
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

/// `[pay, cancel]`, by wire name.
fn actions_of<S: StateMachine>(state: S) -> String {
    let names: Vec<&str> = state.actions().iter().map(|a| a.name()).collect();
    format!("[{}]", names.join(", "))
}

/// One move of a [`Path`]: by its action, or a bare move (`to(State)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step<S: StateMachine> {
    /// The action, for a named move.
    pub action: Option<S::Action>,
    /// The state it leads to.
    pub to: S,
}

/// A legal walk through a machine: from an initial state, each step a move
/// the declaration allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path<S: StateMachine> {
    /// The initial state it starts in.
    pub start: S,
    /// The moves, in order.
    pub steps: Vec<Step<S>>,
}

impl<S: StateMachine> Path<S> {
    /// The state the walk ends in.
    #[must_use]
    pub fn end(&self) -> S {
        self.steps.last().map_or(self.start, |step| step.to)
    }
}

/// The moves out of `state`: each named one, then each bare one.
fn steps_from<S: StateMachine>(state: S) -> Vec<Step<S>> {
    let mut steps: Vec<Step<S>> = state
        .actions()
        .iter()
        .filter_map(|&action| {
            Some(Step {
                action: Some(action),
                to: state.target(action)?,
            })
        })
        .collect();
    for &to in state.next_states() {
        if !steps.iter().any(|step| step.to == to) {
            steps.push(Step { action: None, to });
        }
    }
    steps
}

/// Legal paths of up to `max_moves` moves through `S`, from any of its
/// initial states; a path ends early in a terminal state. Shrinks toward
/// shorter paths and earlier choices.
pub fn legal_paths<S: StateMachine>(max_moves: usize) -> BoxedStrategy<Path<S>> {
    let starts = S::INITIAL.len().max(1);
    (
        0..starts,
        proptest::collection::vec(proptest::num::usize::ANY, 0..=max_moves),
    )
        .prop_map(|(start, choices)| {
            let start = S::INITIAL.get(start).copied().unwrap_or(S::STATES[0]);
            let mut path = Path {
                start,
                steps: Vec::with_capacity(choices.len()),
            };
            for choice in choices {
                let options = steps_from(path.end());
                let Some(step) = options.get(choice % options.len().max(1)) else {
                    break;
                };
                path.steps.push(*step);
            }
            path
        })
        .boxed()
}

/// Every (state, action) pair of `S` the declaration refuses.
#[must_use]
pub fn illegal_pairs<S: StateMachine>() -> Vec<(S, S::Action)> {
    S::STATES
        .iter()
        .flat_map(|&state| {
            <S::Action as Action>::ALL
                .iter()
                .filter(move |&&action| state.target(action).is_none())
                .map(move |&action| (state, action))
        })
        .collect()
}

/// The (state, action) pairs `S` refuses, drawn at random; a machine that
/// refuses none gives a strategy with no values (every case is rejected).
pub fn illegal_moves<S: StateMachine>() -> BoxedStrategy<(S, S::Action)> {
    let pairs = illegal_pairs::<S>();
    if pairs.is_empty() {
        return Just(None)
            .prop_filter_map("the machine refuses no move", |pair| pair)
            .boxed();
    }
    proptest::sample::select(pairs).boxed()
}

type Place<S> = Box<dyn Fn(S) -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// Drives a router built on this crate through every (state, action) pair
/// of its machine: a pair the declaration refuses must answer `409` with
/// an `application/problem+json` body of type
/// `urn:conflict:problem:illegal-transition` naming the current state, and
/// allowed actions and next states that the state really allows; a pair it
/// allows must not answer that.
///
/// `place` puts a resource in a given state (through your store, or your
/// own API) and answers its path (`/orders/7`); each action is a `POST` to
/// the path and the action (`/orders/7/ship`), with the body
/// [`input`](Conformance::input) gives (`{}` by default) and the headers
/// given with [`header`](Conformance::header).
pub struct Conformance<S: StateMachine> {
    router: Router,
    place: Place<S>,
    input: Box<dyn Fn(S::Action) -> Value + Send + Sync>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl<S: StateMachine> Conformance<S> {
    /// The check of `router`, whose resources `place` puts in a state.
    pub fn new<F, Fut>(router: Router, place: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        Conformance {
            router,
            place: Box::new(move |state| Box::pin(place(state))),
            input: Box::new(|_| Value::Object(serde_json::Map::new())),
            headers: Vec::new(),
        }
    }

    /// The body each action is sent with (an action whose input is
    /// required needs a valid one, or its legal moves answer 422).
    #[must_use]
    pub fn input(mut self, input: impl Fn(S::Action) -> Value + Send + Sync + 'static) -> Self {
        self.input = Box::new(input);
        self
    }

    /// A header every request carries (the caller's identity, say).
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Sends every pair, and answers how many were checked.
    ///
    /// # Errors
    /// Every pair whose answer broke the contract, each named with what it
    /// answered.
    pub async fn check(self) -> Result<usize, Failures> {
        let mut failures = Vec::new();
        let mut checked = 0;
        for &state in S::STATES {
            for &action in <S::Action as Action>::ALL {
                let path = (self.place)(state).await;
                let (status, body) = self
                    .send(&format!("{path}/{}", action.name()), action)
                    .await;
                checked += 1;
                let verdict = match state.target(action) {
                    None => refusal_is_conformant(state, status, &body),
                    Some(_) if is_illegal(status, &body) => Err(format!(
                        "the declaration allows it, but it answered {status} illegal-transition"
                    )),
                    Some(_) => Ok(()),
                };
                if let Err(why) = verdict {
                    failures.push(format!(
                        "({}, {}): {why}; body {body}",
                        state.name(),
                        action.name()
                    ));
                }
            }
        }
        if failures.is_empty() {
            Ok(checked)
        } else {
            Err(Failures(failures))
        }
    }

    async fn send(&self, path: &str, action: S::Action) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let body = Body::from((self.input)(action).to_string());
        let Ok(request) = request.body(body) else {
            return (StatusCode::BAD_REQUEST, Value::Null);
        };
        let mut router = self.router.clone();
        // A router is always ready; asked all the same, as the contract wants.
        if let Err(never) = std::future::poll_fn(|cx| {
            tower_service::Service::<Request<Body>>::poll_ready(&mut router, cx)
        })
        .await
        {
            match never {}
        }
        let response = match tower_service::Service::call(&mut router, request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let body = if content_type.starts_with(crate::http::PROBLEM_JSON) || status.is_success() {
            body
        } else {
            serde_json::json!({"content-type": content_type, "body": body})
        };
        (status, body)
    }
}

fn is_illegal(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::CONFLICT && body["type"] == "urn:conflict:problem:illegal-transition"
}

/// Whether the answer to a refused pair is the 409 the contract promises.
fn refusal_is_conformant<S: StateMachine>(
    state: S,
    status: StatusCode,
    body: &Value,
) -> Result<(), String> {
    if !is_illegal(status, body) {
        return Err(format!(
            "the declaration refuses it, but it answered {status}, not 409 illegal-transition"
        ));
    }
    if body["current_state"] != state.name() {
        return Err(format!(
            "current_state is {}, not \"{}\"",
            body["current_state"],
            state.name()
        ));
    }
    let listed = |member: &str, allowed: &[&str]| -> Result<(), String> {
        let Some(names) = body[member].as_array() else {
            return Err(format!("{member} is missing"));
        };
        match names
            .iter()
            .find(|name| !name.as_str().is_some_and(|name| allowed.contains(&name)))
        {
            Some(stray) => Err(format!(
                "{member} lists {stray}, which `{}` does not allow",
                state.name()
            )),
            None => Ok(()),
        }
    };
    let actions: Vec<&str> = state.actions().iter().map(|a| a.name()).collect();
    let next: Vec<&str> = state.next_states().iter().map(|s| s.name()).collect();
    listed("allowed_actions", &actions)?;
    listed("allowed_next_states", &next)
}

/// The pairs a router answered against the contract, one line each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failures(pub Vec<String>);

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} pairs broke the contract:", self.0.len())?;
        for failure in &self.0 {
            writeln!(f, "  {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}
