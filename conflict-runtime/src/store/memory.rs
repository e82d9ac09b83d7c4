use std::collections::HashMap;
use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::memory_deadlines::{Book, Held, Holds};
use super::memory_log::{CAPACITY, Log};
use super::names::{NameReport, Verify};
use super::{
    Change, ChangeParts, Create, Entry, Inserted, Keyed, List, Page, Resource, Store, StoreError,
    Versioned,
};
use crate::deadline::{Deadline, InvalidDeadline, Schedule};
use crate::machine::StateMachine;
use crate::moves::{
    Commits, Computed, Dead, Deadlines, Delivery, Due, DueSettled, Event, Outbox, Pending, Settled,
    Wake, Wakeups,
};

/// The embedded store: resources in a map behind one lock, for a single
/// process. A move holds the write lock from the check to the commit, and
/// appends its history entry and its event under the same lock.
///
/// Its outbox lives in the process too: durable handlers survive a failed
/// handler, not a crash. It keeps the latest 100 000 events (the oldest go
/// first, unless a delivery still needs them).
pub struct MemoryStore<R: Resource, Id = u64> {
    inner: Arc<RwLock<Inner<R, Id>>>,
    // A lock of its own: dispatchers and streams do not hold up reads and
    // moves. A move takes it under the store's lock, so events keep the
    // order of commits.
    log: Arc<Mutex<Log<R::State, Id>>>,
    committed: Commits,
    schedule: Schedule<R::State>,
    computed: Computed<R>,
}

struct Inner<R: Resource, Id> {
    resources: HashMap<Id, Slot<R, Id>>,
    last_id: u64,
    deadlines: Book<Id>,
}

struct Slot<R: Resource, Id> {
    current: Versioned<Id, R>,
    history: Vec<Entry<R::State>>,
    deadline: Option<Held<R::State>>,
}

impl<R: Resource, Id> Slot<R, Id> {
    fn new(current: Versioned<Id, R>) -> Self {
        Slot {
            current,
            history: Vec::new(),
            deadline: None,
        }
    }
}

impl<R: Resource, Id> Holds<R::State> for Slot<R, Id> {
    fn deadline(&mut self) -> &mut Option<Held<R::State>> {
        &mut self.deadline
    }
}

impl<R: Resource, Id> Clone for MemoryStore<R, Id> {
    fn clone(&self) -> Self {
        MemoryStore {
            inner: Arc::clone(&self.inner),
            log: Arc::clone(&self.log),
            committed: self.committed.clone(),
            schedule: self.schedule.clone(),
            computed: self.computed.clone(),
        }
    }
}

impl<R: Resource, Id: Clone + Eq + Hash> Default for MemoryStore<R, Id> {
    fn default() -> Self {
        MemoryStore::with_event_capacity(CAPACITY)
    }
}

impl<R: Resource, Id: Clone + Eq + Hash> MemoryStore<R, Id> {
    /// An empty store that keeps at most `capacity` events.
    #[must_use]
    pub fn with_event_capacity(capacity: usize) -> Self {
        MemoryStore {
            inner: Arc::new(RwLock::new(Inner {
                resources: HashMap::new(),
                last_id: 0,
                deadlines: Book::new(),
            })),
            log: Arc::new(Mutex::new(Log::new(capacity.max(1)))),
            committed: Commits::default(),
            schedule: Schedule::default(),
            computed: Computed::default(),
        }
    }

    /// Sets `deadline` on the resources entering its state from now on,
    /// in place of the state's declared one ([`Deadline::of`]: a payment
    /// window read from configuration). Set it before the store is used:
    /// the clones made before keep the deadlines they had.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Deadline<R::State>) -> Self {
        self.schedule = self.schedule.with(deadline);
        self
    }

    /// Sets the deadline of `state` from each resource's own data: `action`
    /// is made at the time `at` reads from the resource as it enters
    /// `state` (an invoice's `due_at`; `None` sets no deadline), in place
    /// of the state's declared one. Set it before the store is used: the
    /// clones made before keep the deadlines they had.
    ///
    /// # Errors
    /// [`InvalidDeadline::NotAMove`] when `action` does not leave `state`.
    pub fn with_deadline_at(
        mut self,
        state: R::State,
        action: <R::State as StateMachine>::Action,
        at: impl Fn(&R) -> Option<SystemTime> + Send + Sync + 'static,
    ) -> Result<Self, InvalidDeadline> {
        self.computed = self.computed.with(state, action, at)?;
        Ok(self)
    }

    /// When `value`, entering its state at `now`, is due to move by itself.
    fn due(
        &self,
        value: &R,
        now: SystemTime,
    ) -> Option<(<R::State as StateMachine>::Action, SystemTime)> {
        let declared = self.schedule.of(value.state()).copied();
        self.computed.due(value, declared, now)
    }
}

impl<R: Resource, Id: Clone + Eq + Hash> MemoryStore<R, Id> {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while the lock was held cannot leave a half-applied move: every
    // write below is a single assignment after all checks.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<R, Id>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<R, Id>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log<R::State, Id>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_now(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        self.read()
            .resources
            .get(id)
            .map(|slot| slot.current.clone())
            .ok_or(StoreError::NotFound)
    }

    fn history_now(&self, id: &Id) -> Result<Vec<Entry<R::State>>, StoreError<R::State>> {
        self.read()
            .resources
            .get(id)
            .map(|slot| slot.history.clone())
            .ok_or(StoreError::NotFound)
    }

    fn insert_now(&self, id: Id, value: R) -> Result<Inserted<Id, R>, StoreError<R::State>> {
        let mut inner = self.write();
        let Inner {
            resources,
            deadlines,
            ..
        } = &mut *inner;
        match resources.entry(id) {
            Occupied(existing) if existing.get().current.value == value => {
                Ok(Inserted::Existing(existing.get().current.clone()))
            }
            Occupied(existing) => Err(StoreError::AlreadyExists {
                version: existing.get().current.version,
                state: existing.get().current.value.state(),
            }),
            Vacant(vacant) => {
                let due = self.due(&value, SystemTime::now());
                let id = vacant.key().clone();
                let mut slot = Slot::new(Versioned::new(id.clone(), 1, value));
                deadlines.entered(&mut slot.deadline, &id, due, 1);
                Ok(Inserted::Created(vacant.insert(slot).current.clone()))
            }
        }
    }

    fn apply_now(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let change = change.into_parts();
        let mut inner = self.write();
        let Inner {
            resources,
            deadlines,
            ..
        } = &mut *inner;
        let slot = resources.get_mut(id).ok_or(StoreError::NotFound)?;
        let current = &mut slot.current;
        let from = current.value.state();
        let Some(to) = change.decide(current.version, from)? else {
            return Ok(slot.current.clone());
        };
        let ChangeParts {
            action,
            edited,
            note,
            ..
        } = change;
        if let Some(edited) = edited {
            current.value = edited;
        }
        current.value.set_state(to);
        current.version += 1;
        let entry = Entry {
            version: current.version,
            from,
            to,
            action,
            at: SystemTime::now(),
            note,
        };
        let moved = current.clone();
        let due = self.due(&moved.value, entry.at);
        deadlines.entered(&mut slot.deadline, id, due, moved.version);
        self.log().push(id, &entry);
        slot.history.push(entry);
        drop(inner);
        self.committed.signal();
        Ok(moved)
    }
}

/// Ids a [`MemoryStore`] can choose: the `n`th of a sequence (1, 2, 3, ...).
pub trait SequentialId: Sized {
    /// The `n`th id, or `None` past the type's range.
    fn nth(n: u64) -> Option<Self>;
}

impl SequentialId for u64 {
    fn nth(n: u64) -> Option<Self> {
        Some(n)
    }
}

impl SequentialId for i64 {
    fn nth(n: u64) -> Option<Self> {
        i64::try_from(n).ok()
    }
}

impl SequentialId for String {
    fn nth(n: u64) -> Option<Self> {
        Some(n.to_string())
    }
}

#[cfg(feature = "uuid")]
impl SequentialId for uuid::Uuid {
    fn nth(n: u64) -> Option<Self> {
        Some(uuid::Uuid::from_u128(u128::from(n)))
    }
}

impl<R: Resource, Id: SequentialId + Clone + Eq + Hash> MemoryStore<R, Id> {
    /// Stores a new resource under the next free id, which `make` receives
    /// so that the resource can carry it.
    ///
    /// # Panics
    /// When the ids of `Id` run out (past `i64::MAX` for `i64`).
    pub fn create(&self, make: impl FnOnce(&Id) -> R) -> Versioned<Id, R> {
        let mut inner = self.write();
        let id = inner
            .next_free_id()
            .expect("the id type has room for more resources");
        let created = Versioned::new(id.clone(), 1, make(&id));
        let due = self.due(&created.value, SystemTime::now());
        let mut slot = Slot::new(created.clone());
        inner.deadlines.entered(&mut slot.deadline, &id, due, 1);
        inner.resources.insert(id, slot);
        created
    }
}

impl<R: Resource, Id: SequentialId + Clone + Eq + Hash> Inner<R, Id> {
    /// The next id after the last one chosen; ids a client took with
    /// `insert` are skipped, not overwritten.
    fn next_free_id(&mut self) -> Option<Id> {
        loop {
            self.last_id = self.last_id.checked_add(1)?;
            let id = Id::nth(self.last_id)?;
            if !self.resources.contains_key(&id) {
                return Some(id);
            }
        }
    }
}

impl<R, Id> Store<R> for MemoryStore<R, Id>
where
    R: Resource,
    Id: Clone + Eq + Hash + Send + Sync + 'static,
{
    type Id = Id;

    async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        self.get_now(id)
    }

    async fn insert(&self, id: Id, value: R) -> Result<Inserted<Id, R>, StoreError<R::State>> {
        self.insert_now(id, value)
    }

    async fn apply(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        self.apply_now(id, change)
    }

    async fn history(&self, id: &Id) -> Result<Vec<Entry<R::State>>, StoreError<R::State>> {
        self.history_now(id)
    }
}

impl<R, Id> Create<R> for MemoryStore<R, Id>
where
    R: Resource + Keyed<Id>,
    Id: SequentialId + Clone + Eq + Hash + Send + Sync + 'static,
{
    async fn create(&self, value: R) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut inner = self.write();
        let id = inner.next_free_id().ok_or_else(|| {
            StoreError::Backend("the id type has no room for another resource".into())
        })?;
        let mut value = value;
        value.set_id(&id);
        let created = Versioned::new(id.clone(), 1, value);
        let due = self.due(&created.value, SystemTime::now());
        let mut slot = Slot::new(created.clone());
        inner.deadlines.entered(&mut slot.deadline, &id, due, 1);
        inner.resources.insert(id, slot);
        Ok(created)
    }
}

impl<R, Id> List<R> for MemoryStore<R, Id>
where
    R: Resource,
    Id: Clone + Ord + Hash + Send + Sync + 'static,
{
    async fn list(
        &self,
        states: &[R::State],
        after: Option<&Id>,
        limit: usize,
    ) -> Result<Page<Id, R>, StoreError<R::State>> {
        let inner = self.read();
        // A map in hash order: the matching ids are sorted to page by them.
        let mut matching: Vec<&Versioned<Id, R>> = inner
            .resources
            .values()
            .map(|slot| &slot.current)
            .filter(|current| states.contains(&current.value.state()))
            .filter(|current| after.is_none_or(|after| current.id > *after))
            .collect();
        matching.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let more = matching.len() > limit;
        let items: Vec<Versioned<Id, R>> = matching.into_iter().take(limit).cloned().collect();
        let next = if more {
            items.last().map(|last| last.id.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

impl<R, Id> Outbox<R> for MemoryStore<R, Id>
where
    R: Resource,
    Id: Clone + Eq + Hash + Display + Send + Sync + 'static,
{
    async fn events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        Ok(self.log().events(after, limit))
    }

    async fn events_of(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        Ok(self.log().events_of(id, after, limit))
    }

    async fn latest(&self) -> Result<u64, StoreError<R::State>> {
        Ok(self.log().latest())
    }

    async fn kept_after(&self) -> Result<u64, StoreError<R::State>> {
        Ok(self.log().kept_after())
    }

    async fn trim(&self, age: Duration) -> Result<u64, StoreError<R::State>> {
        Ok(self.log().trim(age))
    }

    async fn follow(
        &self,
        handler: &str,
        wanted: &(dyn Fn(&Entry<R::State>) -> bool + Sync),
        limit: usize,
    ) -> Result<usize, StoreError<R::State>> {
        Ok(self.log().follow(handler, wanted, limit))
    }

    async fn claim(
        &self,
        handlers: &[&str],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery<R::State>>, StoreError<R::State>> {
        Ok(self.log().claim(handlers, limit, lease))
    }

    async fn settle(
        &self,
        settled: Vec<(Delivery<R::State>, Settled)>,
    ) -> Result<(), StoreError<R::State>> {
        let mut log = self.log();
        for (delivery, settled) in settled {
            log.settle(&delivery, settled);
        }
        Ok(())
    }

    async fn dead(
        &self,
        handler: Option<&str>,
    ) -> Result<Vec<Dead<R::State>>, StoreError<R::State>> {
        Ok(self.log().dead(handler))
    }

    async fn revive(&self, handler: &str, position: u64) -> Result<bool, StoreError<R::State>> {
        Ok(self.log().revive(handler, position))
    }
}

/// A `MemoryStore` keeps states and actions typed: it holds no name the
/// running machine does not declare, so its report is always clean.
impl<R, Id> Verify<R> for MemoryStore<R, Id>
where
    R: Resource,
    Id: Clone + Eq + Hash + Send + Sync + 'static,
{
    async fn verify(&self) -> Result<NameReport, StoreError<R::State>> {
        Ok(NameReport::of::<R::State>(R::State::RESOURCE, Vec::new()))
    }
}

impl<R, Id> Deadlines<R> for MemoryStore<R, Id>
where
    R: Resource,
    Id: Clone + Eq + Hash + Send + Sync + 'static,
{
    fn schedule(&self) -> Vec<Deadline<R::State>> {
        self.schedule.all().to_vec()
    }

    fn reads_due_times(&self) -> bool {
        !self.computed.is_empty()
    }

    async fn pending(&self, id: &Id) -> Result<Option<Pending<R::State>>, StoreError<R::State>> {
        let inner = self.read();
        let slot = inner.resources.get(id).ok_or(StoreError::NotFound)?;
        Ok(slot.deadline.as_ref().map(Held::pending))
    }

    async fn claim_due(
        &self,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Due<R::State, Id>>, StoreError<R::State>> {
        let mut inner = self.write();
        let Inner {
            resources,
            deadlines,
            ..
        } = &mut *inner;
        Ok(deadlines.claim(resources, now, limit, lease))
    }

    async fn settle_due(
        &self,
        due: &Due<R::State, Id>,
        settled: DueSettled,
    ) -> Result<(), StoreError<R::State>> {
        let mut inner = self.write();
        let Inner {
            resources,
            deadlines,
            ..
        } = &mut *inner;
        if let Some(slot) = resources.get_mut(&due.id) {
            deadlines.settle(&mut slot.deadline, due, settled);
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, StoreError<R::State>> {
        Ok(self.read().deadlines.next_due())
    }
}

impl<R: Resource, Id> Wake for MemoryStore<R, Id> {
    fn wakeups(&self) -> impl Future<Output = Wakeups> + Send {
        let wakeups = self.committed.wakeups();
        async move { wakeups }
    }
}
