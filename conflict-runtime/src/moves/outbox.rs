//! The outbox: every committed move as an event, kept by the store in the
//! move's own atomic step, in one global order a reader can resume from;
//! and the bookkeeping of durable handlers that a dispatcher drives.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::history::Entry;
use super::store::{Resource, Store, StoreError};
use crate::machine::{Action, StateMachine};

/// One committed move, as the outbox keeps it: its place in the global
/// order, the resource, and the history entry (version, from, to, action,
/// time, actor, reason, the action's input).
#[derive(Clone, Debug, PartialEq)]
pub struct Event<S: StateMachine> {
    /// Its place in the order of every event of the store; later events
    /// have larger positions, with gaps (other kinds, trimmed events).
    pub position: u64,
    /// The kind of resource (`order`).
    pub kind: String,
    /// The resource's id, as text.
    pub id: String,
    /// The move.
    pub entry: Entry<S>,
}

impl<S: StateMachine> Event<S> {
    /// What identifies the event wherever it is delivered, however often:
    /// `kind:id:version`. A handler that records the keys it has seen is
    /// idempotent.
    #[must_use]
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.kind, self.id, self.entry.version)
    }
}

/// The version of the event's JSON form, in its `schema` member.
pub const EVENT_SCHEMA: &str = "conflict.event.v1";

impl<S: StateMachine> Serialize for Event<S> {
    /// `{"schema": "conflict.event.v1", "position", "key", "kind", "id",
    /// "version", "from", "to", "action", "at", "actor", "reason", "input"}`:
    /// states and actions by wire name, `at` in RFC 3339 (UTC,
    /// milliseconds), absent values as `null`.
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let entry = &self.entry;
        let mut map = serializer.serialize_map(Some(13))?;
        map.serialize_entry("schema", EVENT_SCHEMA)?;
        map.serialize_entry("position", &self.position)?;
        map.serialize_entry("key", &self.key())?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("version", &entry.version)?;
        map.serialize_entry("from", entry.from.name())?;
        map.serialize_entry("to", entry.to.name())?;
        map.serialize_entry("action", &entry.action.map(Action::name))?;
        map.serialize_entry(
            "at",
            &humantime::format_rfc3339_millis(entry.at).to_string(),
        )?;
        map.serialize_entry("actor", &entry.note.actor)?;
        map.serialize_entry("reason", &entry.note.reason)?;
        map.serialize_entry("input", &entry.note.metadata)?;
        map.end()
    }
}

/// One event handed to one durable handler, for one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery<S: StateMachine> {
    /// The handler's name.
    pub handler: String,
    /// The event.
    pub event: Event<S>,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

/// What became of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The handler succeeded: the delivery is done.
    Done,
    /// The handler failed: try again at `at`.
    Retry {
        /// When.
        at: SystemTime,
        /// What the handler said.
        error: String,
    },
    /// The handler failed its last attempt: the delivery is dead, kept with
    /// its error until revived.
    Dead {
        /// What the handler said.
        error: String,
    },
    /// The dispatcher let the delivery go unattempted (it is shutting
    /// down): due again now, and the attempt does not count.
    Released,
}

/// A delivery that failed every attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Dead<S: StateMachine> {
    /// The handler's name.
    pub handler: String,
    /// The event.
    pub event: Event<S>,
    /// How many attempts failed.
    pub attempts: u32,
    /// The last error.
    pub error: String,
}

/// A store that keeps an outbox: every committed move as an [`Event`], and
/// the deliveries of durable handlers.
///
/// The events are written in the move's own atomic step (the history entry
/// is the event), so a refused, stale, no-op or rolled-back move has none,
/// and a committed one cannot lose it.
pub trait Outbox<R: Resource>: Store<R> {
    /// The events of this store's kind after `after`, in order, at most
    /// `limit`. Positions are final: no event will later appear before one
    /// that was read. The price on Postgres: a committed event can be read
    /// once every transaction older than its own has ended (any transaction
    /// of the database server), so a reader may see it a moment after the
    /// commit, and not while a long transaction stays open.
    fn events(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Event<R::State>>, StoreError<R::State>>> + Send;

    /// The events of one resource (its id as text) after `after`, in order,
    /// at most `limit`.
    fn events_of(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Event<R::State>>, StoreError<R::State>>> + Send;

    /// The position of the latest event of any kind (0 when there is none):
    /// where a reader that wants only what comes next starts.
    fn latest(&self) -> impl Future<Output = Result<u64, StoreError<R::State>>> + Send;

    /// The position after which events are still kept (0 until some were
    /// trimmed): a reader that resumes before it has missed some.
    fn kept_after(&self) -> impl Future<Output = Result<u64, StoreError<R::State>>> + Send;

    /// Forgets, for readers, the oldest events up to the first younger than
    /// `age`, and answers how many: [`events`](Outbox::events) no longer
    /// gives them, and [`kept_after`](Outbox::kept_after) moves past them.
    /// Deliveries still pending keep their events; a SQL store keeps the
    /// rows, as history.
    fn trim(&self, age: Duration)
    -> impl Future<Output = Result<u64, StoreError<R::State>>> + Send;

    /// Hands the events after the handler's cursor (at most `limit`) whose
    /// entry `wanted` picks to `handler` as deliveries due now, and moves the
    /// cursor past them; a handler new to the store starts at the latest
    /// event (with `limit` 0, `follow` only registers it). Answers how many
    /// events it went through (0: caught up).
    fn follow(
        &self,
        handler: &str,
        wanted: &(dyn Fn(&Entry<R::State>) -> bool + Sync),
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError<R::State>>> + Send;

    /// Takes up to `limit` deliveries due now for `handlers`, oldest first,
    /// each held for `lease`: no other dispatcher takes it until then.
    fn claim(
        &self,
        handlers: &[&str],
        limit: usize,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery<R::State>>, StoreError<R::State>>> + Send;

    /// Records what became of claimed deliveries, all at once.
    fn settle(
        &self,
        settled: Vec<(Delivery<R::State>, Settled)>,
    ) -> impl Future<Output = Result<(), StoreError<R::State>>> + Send;

    /// The dead deliveries, of one handler or of all.
    fn dead(
        &self,
        handler: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Dead<R::State>>, StoreError<R::State>>> + Send;

    /// Makes a dead delivery due again, with its attempts counted afresh;
    /// `false` when there is no such dead delivery.
    fn revive(
        &self,
        handler: &str,
        position: u64,
    ) -> impl Future<Output = Result<bool, StoreError<R::State>>> + Send;
}
