//! The pending deadlines of a `MemoryStore`, kept under its lock with the
//! resources, so a move sets or clears its deadline in the same step.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, SystemTime};

use crate::machine::StateMachine;
use crate::moves::{Due, DueSettled, Pending};

/// Deadlines by resource, and in the order a scheduler looks at them.
pub(super) struct Book<S: StateMachine, Id> {
    by_id: HashMap<Id, Held<S>>,
    // By when to look next (due, end of claim, backoff); the sequence
    // number tells apart deadlines looked at in the same instant.
    queue: BTreeMap<(SystemTime, u64), Id>,
    sequence: u64,
}

struct Held<S: StateMachine> {
    version: u64,
    action: S::Action,
    at: SystemTime,
    next: (SystemTime, u64),
    attempts: u32,
    why: Option<String>,
}

impl<S: StateMachine, Id: Clone + Eq + Hash> Book<S, Id> {
    pub(super) fn new() -> Self {
        Book {
            by_id: HashMap::new(),
            queue: BTreeMap::new(),
            sequence: 0,
        }
    }

    /// The resource `id` entered a state at `version`: its deadline is
    /// `due` (the action and when), or none.
    pub(super) fn entered(&mut self, id: &Id, due: Option<(S::Action, SystemTime)>, version: u64) {
        if let Some(held) = self.by_id.remove(id) {
            self.queue.remove(&held.next);
        }
        if let Some((action, at)) = due {
            let next = self.enqueue(id, at);
            self.by_id.insert(
                id.clone(),
                Held {
                    version,
                    action,
                    at,
                    next,
                    attempts: 0,
                    why: None,
                },
            );
        }
    }

    fn enqueue(&mut self, id: &Id, at: SystemTime) -> (SystemTime, u64) {
        self.sequence += 1;
        let key = (at, self.sequence);
        self.queue.insert(key, id.clone());
        key
    }

    pub(super) fn pending(&self, id: &Id) -> Option<Pending<S>> {
        self.by_id.get(id).map(|held| Pending {
            action: held.action,
            at: held.at,
            not_made: held.why.clone(),
        })
    }

    pub(super) fn claim(
        &mut self,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Vec<Due<S, Id>> {
        let ready: Vec<(SystemTime, u64)> = self
            .queue
            .range(..=(now, u64::MAX))
            .take(limit)
            .map(|(key, _)| *key)
            .collect();
        let mut claimed = Vec::with_capacity(ready.len());
        for key in ready {
            let Some(id) = self.queue.remove(&key) else {
                continue;
            };
            let next = self.enqueue(&id, now + lease);
            let Some(held) = self.by_id.get_mut(&id) else {
                continue;
            };
            held.next = next;
            held.attempts += 1;
            claimed.push(Due {
                id,
                version: held.version,
                action: held.action,
                at: held.at,
                attempt: held.attempts,
            });
        }
        claimed
    }

    pub(super) fn settle(&mut self, due: &Due<S, Id>, settled: DueSettled) {
        let Some(held) = self.by_id.get(&due.id) else {
            return;
        };
        // A move since has set a deadline of its own: leave it be.
        if held.version != due.version {
            return;
        }
        let old = held.next;
        self.queue.remove(&old);
        match settled {
            DueSettled::Done => {
                self.by_id.remove(&due.id);
            }
            DueSettled::Later { at, why } => {
                let next = self.enqueue(&due.id, at);
                if let Some(held) = self.by_id.get_mut(&due.id) {
                    held.next = next;
                    held.why = Some(why);
                }
            }
        }
    }

    pub(super) fn next_due(&self) -> Option<SystemTime> {
        self.queue.keys().next().map(|(at, _)| *at)
    }
}
