//! What the SQL stores share: the table a resource lives in, the names in
//! it, and how a row's JSON members become its columns.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::StoreError;
use crate::deadline::Deadline;
use crate::machine::{Action, StateMachine};

/// Where a resource lives: a table of yours, with its id, state and version
/// columns. The other columns map to the resource's members of the same
/// names: read through the resource's `sqlx::FromRow`, written from its
/// `serde::Serialize`.
///
/// ```
/// use conflict_runtime::store::Table;
///
/// // orders(id bigserial primary key, status text, version bigint, item text, ...)
/// let orders = Table::new("orders");
/// // tickets(ticket_id uuid default gen_random_uuid(), stage ticket_stage, revision bigint, ...)
/// let tickets = Table::new("support.tickets").id("ticket_id").state("stage").version("revision");
/// # let _ = (orders, tickets);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) state: String,
    pub(crate) version: String,
    pub(crate) kind: Option<String>,
}

impl Table {
    /// The table `name` (`orders`, or `schema.orders`), with the columns
    /// `id`, `status` and `version`.
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            id: "id".to_owned(),
            state: "status".to_owned(),
            version: "version".to_owned(),
            kind: None,
        }
    }

    /// The primary key column (default `id`). New ids come from its
    /// default: a sequence, an identity, `gen_random_uuid()`.
    #[must_use]
    pub fn id(mut self, column: impl Into<String>) -> Self {
        self.id = column.into();
        self
    }

    /// The state column (default `status`): text, or a Postgres enum type
    /// whose labels are the states' wire names.
    #[must_use]
    pub fn state(mut self, column: impl Into<String>) -> Self {
        self.state = column.into();
        self
    }

    /// The version column (default `version`): a `bigint`, 1 for a new row,
    /// one more with every move.
    #[must_use]
    pub fn version(mut self, column: impl Into<String>) -> Self {
        self.version = column.into();
        self
    }

    /// The kind the history records the resource under (default: the
    /// machine's resource name, `order`).
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    pub(crate) fn kind_or<S: StateMachine>(&self) -> String {
        self.kind.clone().unwrap_or_else(|| S::RESOURCE.to_owned())
    }
}

/// A name as a quoted SQL identifier; `schema.table` quotes each part.
pub(crate) fn quoted(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

const NUL: &str = "the database keeps no NUL character (\\u0000) in text";

/// Refuses what SQL text cannot hold: a NUL character in any string or key.
pub(crate) fn storable<S: StateMachine>(value: &Value) -> Result<(), StoreError<S>> {
    // Iterative: the value came from a parser that bounds its depth, but a
    // resource built in code need not have.
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if text.contains('\0') => {
                return Err(StoreError::Unstorable(NUL));
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => {
                if members.keys().any(|key| key.contains('\0')) {
                    return Err(StoreError::Unstorable(NUL));
                }
                pending.extend(members.values());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a NUL character in a text of the history.
pub(crate) fn storable_text<S: StateMachine>(text: Option<&str>) -> Result<(), StoreError<S>> {
    if text.is_some_and(|text| text.contains('\0')) {
        return Err(StoreError::Unstorable(NUL));
    }
    Ok(())
}

/// The resource's members that are columns of the table, by name: what a
/// create or an edit writes. Members the resource leaves out are left to
/// the column's default (create) or its current value (edit).
pub(crate) fn written<'v>(json: &'v Value, columns: &[String]) -> Vec<&'v str> {
    let Value::Object(members) = json else {
        return Vec::new();
    };
    columns
        .iter()
        .filter_map(|column| {
            members
                .get_key_value(column.as_str())
                .map(|(k, _)| k.as_str())
        })
        .collect()
}

/// A backend error, for logs.
pub(crate) fn backend<S: StateMachine>(
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError<S> {
    StoreError::Backend(Box::new(error))
}

/// The table lacks a column the store needs.
#[derive(Debug, thiserror::Error)]
#[error("table {table} has no column {column}")]
pub(crate) struct MissingColumn {
    pub(crate) table: String,
    pub(crate) column: String,
}

/// A version column that holds a negative number.
pub(crate) fn version(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(0)
}

/// A time as microseconds since the Unix epoch, as the stores keep times.
pub(crate) fn micros_of(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// The time `micros` after the Unix epoch (the epoch for a negative count).
pub(crate) fn at_micros(micros: i64) -> SystemTime {
    u64::try_from(micros)
        .ok()
        .and_then(|micros| SystemTime::UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Text as an SQL string literal.
#[cfg(feature = "postgres")]
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A deadline as the SQL stores keep it: by wire names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeadlineRow {
    pub(crate) state: &'static str,
    pub(crate) action: &'static str,
    pub(crate) seconds: u64,
}

impl DeadlineRow {
    /// `deadline` by wire names.
    pub(crate) fn of<S: StateMachine>(deadline: &Deadline<S>) -> Self {
        DeadlineRow {
            state: deadline.state().name(),
            action: deadline.action().name(),
            seconds: deadline.after().as_secs(),
        }
    }

    /// The deadlines declared on `S`.
    pub(crate) fn declared<S: StateMachine>() -> Vec<DeadlineRow> {
        S::DEADLINES.iter().map(DeadlineRow::of).collect()
    }

    /// `rows` with `deadline` in place of its state's.
    pub(crate) fn with<S: StateMachine>(rows: &[DeadlineRow], deadline: &Deadline<S>) -> Vec<Self> {
        let set = DeadlineRow::of(deadline);
        let mut rows: Vec<DeadlineRow> = rows
            .iter()
            .filter(|row| row.state != set.state)
            .copied()
            .collect();
        rows.push(set);
        rows
    }

    /// The deadline, typed; `None` for names `S` does not know.
    pub(crate) fn typed<S: StateMachine>(&self) -> Option<Deadline<S>> {
        let state = S::from_name(self.state)?;
        let action = <S::Action as Action>::from_name(self.action)?;
        Some(Deadline::new(state, action, self.seconds))
    }

    /// The deadlines as SQL: `VALUES` rows of (state, action, seconds)
    /// (empty without any), and the list of the states whose deadline the
    /// statements do not clear: theirs, and `computed` (set by the store's
    /// code, from the resource). `None` without deadlines of either kind,
    /// whose statements then do not touch `conflict_deadlines` at all.
    #[cfg(feature = "postgres")]
    pub(crate) fn sql(rows: &[DeadlineRow], computed: &[&str]) -> Option<(String, String)> {
        if rows.is_empty() && computed.is_empty() {
            return None;
        }
        let values: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "({}, {}, {})",
                    literal(row.state),
                    literal(row.action),
                    row.seconds
                )
            })
            .collect();
        let states: Vec<String> = rows
            .iter()
            .map(|row| row.state)
            .chain(computed.iter().copied())
            .map(literal)
            .collect();
        Some((values.join(", "), states.join(", ")))
    }

    /// `rows` without `state`'s.
    #[cfg(feature = "postgres")]
    pub(crate) fn without(rows: &[DeadlineRow], state: &str) -> Vec<Self> {
        rows.iter()
            .filter(|row| row.state != state)
            .copied()
            .collect()
    }
}

impl<S: StateMachine> From<sqlx::Error> for StoreError<S> {
    fn from(error: sqlx::Error) -> Self {
        backend(error)
    }
}

/// A state stored under a name the machine does not declare.
pub(crate) fn unknown_state<S: StateMachine>(stored: String) -> StoreError<S> {
    StoreError::UnknownName {
        what: "state",
        stored,
    }
}

/// An action stored (in the history, in a deadline) under a name the machine
/// does not declare.
pub(crate) fn unknown_action<S: StateMachine>(stored: String) -> StoreError<S> {
    StoreError::UnknownName {
        what: "action",
        stored,
    }
}

/// The state of a row, by its stored name.
pub(crate) fn stored_state<S: StateMachine>(name: String) -> Result<S, StoreError<S>> {
    S::from_name(&name).ok_or_else(|| unknown_state(name))
}

/// The action of a history or deadline row, by its stored name.
pub(crate) fn stored_action<S: StateMachine>(name: String) -> Result<S::Action, StoreError<S>> {
    <S::Action as Action>::from_name(&name).ok_or_else(|| unknown_action(name))
}

/// A row that did not decode: a state the machine does not declare (the
/// derive's `Decode` says so), or the database's error.
pub(crate) fn undecoded<S: StateMachine>(error: sqlx::Error) -> StoreError<S> {
    if let sqlx::Error::ColumnDecode { source, .. } = &error
        && let Some(unknown) = source.downcast_ref::<crate::__private::UnknownStoredState>()
    {
        return unknown_state(unknown.0.clone());
    }
    backend(error)
}
