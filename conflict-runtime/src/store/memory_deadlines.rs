//! The pending deadlines of a `MemoryStore`, kept under its lock with the
//! resources, so a move sets or clears its deadline in the same step. Each
//! resource's deadline is kept in its slot, beside the resource a move has
//! just looked up: clearing it costs no second lookup.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, SystemTime};

use crate::machine::StateMachine;
use crate::moves::{Due, DueSettled, Pending};

/// The order a scheduler looks at the deadlines in.
pub(super) struct Book<Id> {
    // By when to look next (due, end of claim, backoff); the sequence
    // number tells apart deadlines looked at in the same instant.
    queue: BTreeMap<(SystemTime, u64), Id>,
    sequence: u64,
}

/// The deadline of one resource.
pub(super) struct Held<S: StateMachine> {
    version: u64,
    action: S::Action,
    at: SystemTime,
    next: (SystemTime, u64),
    attempts: u32,
    why: Option<String>,
}

impl<S: StateMachine> Held<S> {
    pub(super) fn pending(&self) -> Pending<S> {
        Pending {
            action: self.action,
            at: self.at,
            not_made: self.why.clone(),
        }
    }
}

/// Where a resource's deadline is kept: its slot.
pub(super) trait Holds<S: StateMachine> {
    fn deadline(&mut self) -> &mut Option<Held<S>>;
}

impl<Id: Clone + Eq + Hash> Book<Id> {
    pub(super) fn new() -> Self {
        Book {
            queue: BTreeMap::new(),
            sequence: 0,
        }
    }

    /// The resource `id` entered a state at `version`: its deadline, held
    /// in `held`, is `due` (the action and when), or none.
    pub(super) fn entered<S: StateMachine>(
        &mut self,
        held: &mut Option<Held<S>>,
        id: &Id,
        due: Option<(S::Action, SystemTime)>,
        version: u64,
    ) {
        if let Some(old) = held.take() {
            self.queue.remove(&old.next);
        }
        if let Some((action, at)) = due {
            let next = self.enqueue(id, at);
            *held = Some(Held {
                version,
                action,
                at,
                next,
                attempts: 0,
                why: None,
            });
        }
    }

    fn enqueue(&mut self, id: &Id, at: SystemTime) -> (SystemTime, u64) {
        self.sequence += 1;
        let key = (at, self.sequence);
        self.queue.insert(key, id.clone());
        key
    }

    pub(super) fn claim<S: StateMachine, H: Holds<S>>(
        &mut self,
        slots: &mut HashMap<Id, H>,
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
            let Some(held) = slots.get_mut(&id).and_then(|slot| slot.deadline().as_mut()) else {
                continue;
            };
            self.sequence += 1;
            held.next = (now + lease, self.sequence);
            held.attempts += 1;
            claimed.push(Due {
                id: id.clone(),
                version: held.version,
                action: held.action,
                at: held.at,
                attempt: held.attempts,
            });
            self.queue.insert(held.next, id);
        }
        claimed
    }

    pub(super) fn settle<S: StateMachine>(
        &mut self,
        held: &mut Option<Held<S>>,
        due: &Due<S, Id>,
        settled: DueSettled,
    ) {
        // A move since has set a deadline of its own: leave it be.
        let Some(current) = held.as_mut().filter(|held| held.version == due.version) else {
            return;
        };
        self.queue.remove(&current.next);
        match settled {
            DueSettled::Done => *held = None,
            DueSettled::Later { at, why } => {
                current.next = self.enqueue(&due.id, at);
                current.why = Some(why);
            }
        }
    }

    pub(super) fn next_due(&self) -> Option<SystemTime> {
        self.queue.keys().next().map(|(at, _)| *at)
    }
}
