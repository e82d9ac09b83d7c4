//! Lists and bulk moves over HTTP: `GET /orders?status=paid&after=...`
//! and `POST /orders/actions/{action}`.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use super::problem::{self, Problem, move_problem};
use crate::machine::StateMachine;
use crate::moves::{Caller, Engine, Input, Moved, Outcome};
use crate::store::{List, Page, Resource, Store, Versioned};

/// The most resources one page lists.
pub const MAX_PAGE: usize = 100;
/// The page size when the request names none.
pub const DEFAULT_PAGE: usize = 20;

/// `?status=paid,shipped&after=CURSOR&limit=N`: which states (any of
/// them; all when absent, and `status` may repeat), where the page starts
/// and how long it is.
///
/// A state that is none of the machine's is a 422 listing the known ones,
/// a cursor this crate did not issue a 400, a `limit` that is not a number
/// a 400 and one outside 1 to 100 a 422; each problem names the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery<S, Id> {
    states: Vec<S>,
    after: Option<Id>,
    limit: usize,
    instance: String,
    id: PhantomData<fn() -> Id>,
}

impl<S: StateMachine, Id> ListQuery<S, Id> {
    /// The states asked for.
    pub fn states(&self) -> &[S] {
        &self.states
    }

    /// Where the page starts: after this id.
    pub fn after(&self) -> Option<&Id> {
        self.after.as_ref()
    }

    /// How many resources the page holds at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The page of `store` this query asks for.
    ///
    /// # Errors
    /// The [`Problem`] for the store's failure.
    pub async fn page<R, St>(&self, store: &St) -> Result<Listed<Id, R>, Problem>
    where
        R: Resource<State = S>,
        St: List<R, Id = Id>,
        Id: Display,
    {
        store
            .list(&self.states, self.after.as_ref(), self.limit)
            .await
            .map(Listed)
            .map_err(|error| Problem::from(error).with_instance(self.instance.as_str()))
    }
}

/// A cursor: the id the next page starts after, as this crate writes it.
const CURSOR: &str = "c1.";

/// The cursor of the page after `id`.
pub fn cursor(id: &impl Display) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(CURSOR);
    for byte in id.to_string().bytes() {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn from_cursor<Id: FromStr>(cursor: &str) -> Option<Id> {
    let hex = cursor.strip_prefix(CURSOR)?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()?.parse().ok()
}

fn parameter(problem: Problem, name: &'static str, instance: &str) -> Problem {
    problem.with("parameter", name).with_instance(instance)
}

impl<S, Id, St> FromRequestParts<St> for ListQuery<S, Id>
where
    S: StateMachine,
    Id: FromStr + Send,
    St: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Problem> {
        let instance = parts.uri.path().to_owned();
        let mut query = ListQuery {
            states: Vec::new(),
            after: None,
            limit: DEFAULT_PAGE,
            instance: instance.clone(),
            id: PhantomData,
        };
        for pair in parts.uri.query().unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "status" => {
                    for name in value.split(',') {
                        let state = S::parse_name(name).map_err(|unknown| {
                            parameter(Problem::from(unknown), "status", &instance)
                        })?;
                        if !query.states.contains(&state) {
                            query.states.push(state);
                        }
                    }
                }
                "after" => {
                    query.after = Some(from_cursor(value).ok_or_else(|| {
                        parameter(
                            problem::malformed(
                                "`after` is not a cursor this service issued; use the `next` of a page",
                            ),
                            "after",
                            &instance,
                        )
                    })?);
                }
                "limit" => {
                    let limit: usize = value.parse().map_err(|_| {
                        parameter(
                            problem::malformed("`limit` is a whole number"),
                            "limit",
                            &instance,
                        )
                    })?;
                    if !(1..=MAX_PAGE).contains(&limit) {
                        return Err(parameter(
                            problem::invalid_value(format!(
                                "`limit` is 1 to {MAX_PAGE}, not {limit}"
                            )),
                            "limit",
                            &instance,
                        ));
                    }
                    query.limit = limit;
                }
                _ => {}
            }
        }
        if query.states.is_empty() {
            query.states = S::STATES.to_vec();
        }
        Ok(query)
    }
}

/// A page of resources: 200 with `{"items": [...], "next": CURSOR}` (`next`
/// is `null` on the last page).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Listed<Id, R>(pub Page<Id, R>);

impl<Id: Display, R: Serialize> Serialize for Listed<Id, R> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        let items: Vec<&R> = self.0.items.iter().map(Versioned::value).collect();
        map.serialize_entry("items", &items)?;
        map.serialize_entry("next", &self.0.next.as_ref().map(cursor))?;
        map.end()
    }
}

impl<Id: Display, R: Serialize> IntoResponse for Listed<Id, R> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// The most resources one bulk move names.
pub const MAX_BULK: usize = 1000;

/// The body of a bulk move, `POST {base}/actions/{action}`: the resources
/// by id (`{"ids": [1, 2]}`, at most the route's limit), or every one in
/// some states (`{"status": ["pending"]}`, the first that many by id; the
/// answer's `more` says whether others were left), and the action's input
/// for each (`"input": {...}`).
///
/// An id is a JSON string or a whole number (`7.0` too, as JSON Schema's
/// `integer` admits) that reads as the store's key; anything else, too many
/// ids, neither or both of `ids` and `status`, a state the machine does not
/// have (listing those it has), or an input that is not an object is a 422
/// naming the member.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Many {
    #[serde(default)]
    ids: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    status: Option<Vec<String>>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

impl Many {
    /// Applies `action` to the resources this body names, each under the
    /// engine's rules for `caller` ([`Engine::perform_each`]); answers a
    /// result per resource, in the order named, and whether a state filter
    /// left resources out. `instance` is the request's path, for problems.
    ///
    /// # Errors
    /// A problem for the request as a whole: 422 for a body that names no
    /// resources, too many, or an id or input that cannot be read; 403 when
    /// the caller may not take the action at all; the store's error.
    pub async fn perform<R, St>(
        self,
        engine: &Engine<R, St>,
        caller: &dyn Caller,
        action: <R::State as StateMachine>::Action,
        max: usize,
        instance: &str,
    ) -> Result<(Vec<Outcome<St::Id, R>>, bool), Problem>
    where
        R: Resource,
        St: Store<R> + List<R>,
        St::Id: FromStr + Display + Eq + std::hash::Hash + Clone + Send + Sync + 'static,
    {
        let invalid = |field: &'static str, detail: String| {
            problem::invalid_value(detail)
                .with_instance(instance)
                .with("field", field)
        };
        let (ids, more) = match (self.ids, self.status) {
            (Some(ids), None) if ids.len() > max => {
                return Err(invalid(
                    "ids",
                    format!("one request moves at most {max}, not {}", ids.len()),
                ));
            }
            (Some(ids), None) => {
                let ids = ids
                    .iter()
                    .map(|id| {
                        id_of(id).ok_or_else(|| {
                            let resource = <R::State as StateMachine>::RESOURCE;
                            invalid("ids", format!("{id} is not the id of a {resource}"))
                        })
                    })
                    .collect::<Result<Vec<St::Id>, Problem>>()?;
                (ids, false)
            }
            (None, Some(names)) if !names.is_empty() => {
                let states = names
                    .iter()
                    .map(|name| {
                        R::State::parse_name(name).map_err(|unknown| {
                            Problem::from(unknown)
                                .with_instance(instance)
                                .with("field", "status")
                        })
                    })
                    .collect::<Result<Vec<_>, Problem>>()?;
                let page = engine
                    .store()
                    .list(&states, None, max)
                    .await
                    .map_err(|error| Problem::from(error).with_instance(instance))?;
                let ids = page.items.iter().map(|found| found.id().clone()).collect();
                (ids, page.next.is_some())
            }
            _ => {
                return Err(invalid(
                    "ids",
                    "name the resources with `ids`, or the states they are in with `status`"
                        .to_owned(),
                ));
            }
        };
        let input = match self.input {
            None => Input::None,
            Some(object @ serde_json::Value::Object(_)) => Input::Value(object),
            Some(_) => {
                return Err(invalid(
                    "input",
                    "the action's input is a JSON object".to_owned(),
                ));
            }
        };
        let results = engine
            .perform_each(caller, action, ids, input)
            .await
            .map_err(|error| Problem::from(error).with_instance(instance))?;
        Ok((results, more))
    }
}

/// An id written in JSON: a string, or a whole number, read as `Id`.
fn id_of<Id: FromStr>(value: &serde_json::Value) -> Option<Id> {
    match value {
        serde_json::Value::String(text) => text.parse().ok(),
        serde_json::Value::Number(number) => {
            let text = match (number.as_i64(), number.as_u64(), number.as_f64()) {
                (Some(whole), _, _) => whole.to_string(),
                (None, Some(whole), _) => whole.to_string(),
                // A float is written with a fraction or exponent (`7.0`),
                // or is an integer beyond i64 and u64 that JSON rounded: at
                // -2^63 it may have been -2^63 - 1, so only a float inside
                // (-2^63, 2^64) is the whole number written.
                (None, None, Some(float))
                    if float.fract() == 0.0
                        && float > -(2_f64.powi(63))
                        && float < 2_f64.powi(64) =>
                {
                    format!("{float:.0}")
                }
                _ => return None,
            };
            text.parse().ok()
        }
        _ => None,
    }
}

/// The answer to a bulk move: 200 with a result per resource, in the order
/// asked: `{"id", "status": 200, "resource": {...}}` for a move made, or
/// `{"id", "status": 404|409|412|..., "problem": {...}}` for a refusal; and
/// `more` when a filter matched more resources than one request moves.
#[must_use]
pub struct Bulk<Id, R: Resource> {
    results: Vec<Answered<Id, R>>,
    more: bool,
}

/// One resource of a bulk move, answered: moved, or its problem.
type Answered<Id, R> = (Id, Result<Moved<Id, R>, Problem>);

impl<Id: Display, R: Resource> Bulk<Id, R> {
    /// The results of [`Engine::perform_each`](crate::moves::Engine::perform_each),
    /// each refusal mapped to its problem; `more` when resources were left.
    pub fn new(results: Vec<Outcome<Id, R>>, more: bool) -> Self {
        let results = results
            .into_iter()
            .map(|(id, result)| {
                let result = result.map_err(|error| move_problem(error, &id));
                (id, result)
            })
            .collect();
        Bulk { results, more }
    }
}

struct Entry<'a, Id, R: Resource>(&'a Id, &'a Result<Moved<Id, R>, Problem>);

impl<Id: Serialize, R: Resource + Serialize> Serialize for Entry<'_, Id, R> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("id", self.0)?;
        match self.1 {
            Ok(moved) => {
                map.serialize_entry("status", &200)?;
                map.serialize_entry("resource", moved.resource().value())?;
            }
            Err(problem) => {
                map.serialize_entry("status", &problem.status().as_u16())?;
                map.serialize_entry("problem", problem)?;
            }
        }
        map.end()
    }
}

struct Outcomes<'a, Id, R: Resource>(&'a [Answered<Id, R>]);

impl<Id: Serialize, R: Resource + Serialize> Serialize for Outcomes<'_, Id, R> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (id, result) in self.0 {
            seq.serialize_element(&Entry(id, result))?;
        }
        seq.end()
    }
}

impl<Id: Serialize, R: Resource + Serialize> Serialize for Bulk<Id, R> {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("results", &Outcomes(&self.results))?;
        map.serialize_entry("more", &self.more)?;
        map.end()
    }
}

impl<Id: Serialize, R: Resource + Serialize> IntoResponse for Bulk<Id, R> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{cursor, from_cursor, id_of};
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_others_are_refused() {
        assert_eq!(from_cursor::<i64>(&cursor(&42_i64)), Some(42));
        assert_eq!(
            from_cursor::<String>(&cursor(&"a b/ü")).as_deref(),
            Some("a b/ü")
        );
        for foreign in ["42", "c1.4", "c1.zz", "c2.3432", "c1.ff"] {
            assert_eq!(from_cursor::<i64>(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn ids_are_strings_or_whole_numbers() {
        assert_eq!(id_of::<i64>(&json!(7)), Some(7));
        assert_eq!(id_of::<i64>(&json!(7.0)), Some(7));
        assert_eq!(id_of::<i64>(&json!(-3)), Some(-3));
        assert_eq!(id_of::<i64>(&json!("7")), Some(7));
        assert_eq!(id_of::<u64>(&json!(u64::MAX)), Some(u64::MAX));
        assert_eq!(id_of::<String>(&json!("a-b")).as_deref(), Some("a-b"));
        assert_eq!(
            id_of::<i64>(&json!(-9.0e18)),
            Some(-9_000_000_000_000_000_000)
        );
        let below_i64: serde_json::Value = serde_json::from_str("-9223372036854775809").unwrap();
        for not_an_id in [
            below_i64,
            json!(7.5),
            json!(1e300),
            json!(null),
            json!([1]),
            json!("x"),
        ] {
            assert_eq!(id_of::<i64>(&not_an_id), None, "{not_an_id}");
        }
        assert_eq!(id_of::<u64>(&json!(-1)), None);
    }
}
