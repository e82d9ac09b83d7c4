//! The history of committed moves: what a store records in the same atomic
//! step as each move.

use std::time::SystemTime;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::machine::{Action, StateMachine};

/// What the history records beside a move: who made it, why, and the
/// action's input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Note {
    /// The caller, when known.
    pub actor: Option<String>,
    /// Why, in the caller's words (`cancel`'s `reason`).
    pub reason: Option<String>,
    /// The action's input, or anything else worth keeping.
    pub metadata: Option<Value>,
}

/// One committed move, as the history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<S: StateMachine> {
    /// The version the move created.
    pub version: u64,
    /// The state it left.
    pub from: S,
    /// The state it entered.
    pub to: S,
    /// The action, when the move was requested by action.
    pub action: Option<S::Action>,
    /// When it was committed.
    pub at: SystemTime,
    /// Who, why and with what input.
    pub note: Note,
}

impl<S: StateMachine> Serialize for Entry<S> {
    /// `{"version", "from", "to", "action", "at", "actor", "reason",
    /// "metadata"}` with wire names, `at` in RFC 3339 (UTC, milliseconds),
    /// absent values as `null`: one shape for every entry.
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("from", self.from.name())?;
        map.serialize_entry("to", self.to.name())?;
        map.serialize_entry("action", &self.action.map(Action::name))?;
        map.serialize_entry("at", &humantime::format_rfc3339_millis(self.at).to_string())?;
        map.serialize_entry("actor", &self.note.actor)?;
        map.serialize_entry("reason", &self.note.reason)?;
        map.serialize_entry("metadata", &self.note.metadata)?;
        map.end()
    }
}
