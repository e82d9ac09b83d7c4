//! The outbox of `MemoryStore`: events in commit order (the store's lock
//! orders commits), handlers' cursors and deliveries, in the process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Display;
use std::time::{Duration, SystemTime};

use super::Entry;
use crate::machine::StateMachine;
use crate::moves::{Dead, Delivery, Event, Settled};

/// A delivery waiting, being tried, or dead, with its own copy of the
/// event: the log forgets events without regard to deliveries.
struct Pending<S: StateMachine> {
    event: Event<S>,
    attempts: u32,
    due: SystemTime,
    dead: Option<String>,
}

/// The log of one store.
pub(super) struct Log<S: StateMachine, Id> {
    events: VecDeque<(u64, Id, Entry<S>)>,
    last: u64,
    kept_after: u64,
    capacity: usize,
    cursors: HashMap<String, u64>,
    deliveries: BTreeMap<(u64, String), Pending<S>>,
}

/// How many events a `MemoryStore` keeps by default (the oldest go first).
pub(super) const CAPACITY: usize = 100_000;

impl<S: StateMachine, Id: Clone> Log<S, Id> {
    pub(super) fn new(capacity: usize) -> Self {
        Log {
            events: VecDeque::new(),
            last: 0,
            kept_after: 0,
            capacity,
            cursors: HashMap::new(),
            deliveries: BTreeMap::new(),
        }
    }

    /// Appends the event of a committed move.
    pub(super) fn push(&mut self, id: &Id, entry: &Entry<S>) {
        self.last += 1;
        self.events
            .push_back((self.last, id.clone(), entry.clone()));
        while self.events.len() > self.capacity && self.forget_oldest(None) {}
    }

    /// Forgets the oldest event if it is older than `before` (when given).
    fn forget_oldest(&mut self, before: Option<SystemTime>) -> bool {
        let Some((position, _, entry)) = self.events.front() else {
            return false;
        };
        if before.is_some_and(|before| entry.at >= before) {
            return false;
        }
        self.kept_after = *position;
        self.events.pop_front();
        true
    }

    pub(super) fn kept_after(&self) -> u64 {
        self.kept_after
    }

    pub(super) fn latest(&self) -> u64 {
        self.last
    }

    pub(super) fn trim(&mut self, age: Duration) -> u64 {
        let before = SystemTime::now().checked_sub(age);
        let mut trimmed = 0;
        while before.is_some() && self.forget_oldest(before) {
            trimmed += 1;
        }
        trimmed
    }
}

impl<S: StateMachine, Id: Clone + Display> Log<S, Id> {
    fn event(&self, position: u64) -> Option<Event<S>> {
        let index = self
            .events
            .binary_search_by_key(&position, |(p, ..)| *p)
            .ok()?;
        let (position, id, entry) = &self.events[index];
        Some(Event {
            position: *position,
            kind: S::RESOURCE.to_owned(),
            id: id.to_string(),
            entry: entry.clone(),
        })
    }

    pub(super) fn events(&self, after: u64, limit: usize) -> Vec<Event<S>> {
        let start = self.events.partition_point(|(p, ..)| *p <= after);
        self.events
            .range(start..)
            .take(limit)
            .filter_map(|(position, ..)| self.event(*position))
            .collect()
    }

    pub(super) fn events_of(&self, id: &str, after: u64, limit: usize) -> Vec<Event<S>> {
        let start = self.events.partition_point(|(p, ..)| *p <= after);
        self.events
            .range(start..)
            .filter(|(_, of, _)| of.to_string() == id)
            .take(limit)
            .filter_map(|(position, ..)| self.event(*position))
            .collect()
    }

    pub(super) fn follow(
        &mut self,
        handler: &str,
        wanted: &(dyn Fn(&Entry<S>) -> bool + Sync),
        limit: usize,
    ) -> usize {
        let last = self.last;
        let cursor = *self.cursors.entry(handler.to_owned()).or_insert(last);
        let start = self.events.partition_point(|(p, ..)| *p <= cursor);
        let now = SystemTime::now();
        let mut went = 0;
        let mut reached = cursor;
        for (position, id, entry) in self.events.range(start..).take(limit) {
            went += 1;
            reached = *position;
            if !wanted(entry) {
                continue;
            }
            self.deliveries
                .entry((*position, handler.to_owned()))
                .or_insert_with(|| Pending {
                    event: Event {
                        position: *position,
                        kind: S::RESOURCE.to_owned(),
                        id: id.to_string(),
                        entry: entry.clone(),
                    },
                    attempts: 0,
                    due: now,
                    dead: None,
                });
        }
        self.cursors.insert(handler.to_owned(), reached);
        went
    }

    pub(super) fn claim(
        &mut self,
        handlers: &[&str],
        limit: usize,
        lease: Duration,
    ) -> Vec<Delivery<S>> {
        let now = SystemTime::now();
        let due: Vec<(u64, String)> = self
            .deliveries
            .iter()
            .filter(|((_, handler), pending)| {
                pending.dead.is_none() && pending.due <= now && handlers.contains(&handler.as_str())
            })
            .take(limit)
            .map(|(key, _)| key.clone())
            .collect();
        let mut claimed = Vec::with_capacity(due.len());
        for key in due {
            if let Some(pending) = self.deliveries.get_mut(&key) {
                pending.attempts += 1;
                pending.due = now + lease;
                claimed.push(Delivery {
                    handler: key.1,
                    event: pending.event.clone(),
                    attempt: pending.attempts,
                });
            }
        }
        claimed
    }

    pub(super) fn settle(&mut self, delivery: &Delivery<S>, settled: Settled) {
        let key = (delivery.event.position, delivery.handler.clone());
        let Some(pending) = self.deliveries.get_mut(&key) else {
            return;
        };
        match settled {
            Settled::Done => {
                self.deliveries.remove(&key);
            }
            Settled::Retry { at, .. } => pending.due = at,
            Settled::Dead { error } => pending.dead = Some(error),
            Settled::Released => {
                pending.due = SystemTime::now();
                pending.attempts = pending.attempts.saturating_sub(1);
            }
        }
    }

    pub(super) fn dead(&self, handler: Option<&str>) -> Vec<Dead<S>> {
        self.deliveries
            .iter()
            .filter(|((_, name), _)| handler.is_none_or(|handler| handler == name))
            .filter_map(|((_, name), pending)| {
                Some(Dead {
                    handler: name.clone(),
                    event: pending.event.clone(),
                    attempts: pending.attempts,
                    error: pending.dead.clone()?,
                })
            })
            .collect()
    }

    pub(super) fn revive(&mut self, handler: &str, position: u64) -> bool {
        match self.deliveries.get_mut(&(position, handler.to_owned())) {
            Some(pending) if pending.dead.is_some() => {
                pending.attempts = 0;
                pending.due = SystemTime::now();
                pending.dead = None;
                true
            }
            _ => false,
        }
    }
}
