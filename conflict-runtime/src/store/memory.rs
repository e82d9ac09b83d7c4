use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::{Arc, PoisonError, RwLock};

use super::{Create, Expected, Inserted, Move, Resource, Store, StoreError, Versioned};

/// The embedded store: resources in a map behind one lock, for a single
/// process. A move holds the write lock from the check to the commit.
pub struct MemoryStore<R, Id = u64> {
    inner: Arc<RwLock<Inner<R, Id>>>,
}

struct Inner<R, Id> {
    resources: HashMap<Id, Versioned<Id, R>>,
    last_id: u64,
}

impl<R, Id> Clone for MemoryStore<R, Id> {
    fn clone(&self) -> Self {
        MemoryStore {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R, Id> Default for MemoryStore<R, Id> {
    fn default() -> Self {
        MemoryStore {
            inner: Arc::new(RwLock::new(Inner {
                resources: HashMap::new(),
                last_id: 0,
            })),
        }
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

    fn get_now(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        self.read()
            .resources
            .get(id)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn insert_now(&self, id: Id, value: R) -> Result<Inserted<Id, R>, StoreError<R::State>> {
        match self.write().resources.entry(id.clone()) {
            Entry::Occupied(existing) if existing.get().value == value => {
                Ok(Inserted::Existing(existing.get().clone()))
            }
            Entry::Occupied(existing) => Err(StoreError::AlreadyExists {
                version: existing.get().version,
                state: existing.get().value.state(),
            }),
            Entry::Vacant(slot) => Ok(Inserted::Created(
                slot.insert(Versioned::new(id, 1, value)).clone(),
            )),
        }
    }

    fn apply_now(
        &self,
        id: &Id,
        requested: Move<R::State>,
        expected: Option<&Expected>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut inner = self.write();
        let current = inner.resources.get_mut(id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected
            && !expected.matches(current.version)
        {
            return Err(StoreError::PreconditionFailed {
                version: current.version,
                state: current.value.state(),
            });
        }
        if let Some(next) = requested.decide(current.value.state())? {
            current.value.set_state(next);
            current.version += 1;
        }
        Ok(current.clone())
    }
}

impl<R: Resource> MemoryStore<R, u64> {
    /// Stores a new resource under the next free id, which `make` receives
    /// so that the resource can carry it.
    pub fn create(&self, make: impl FnOnce(u64) -> R) -> Versioned<u64, R> {
        let mut inner = self.write();
        let mut id = inner.last_id + 1;
        // Ids taken by `insert` are skipped, not overwritten.
        while inner.resources.contains_key(&id) {
            id += 1;
        }
        inner.last_id = id;
        let created = Versioned::new(id, 1, make(id));
        inner.resources.insert(id, created.clone());
        created
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
        requested: Move<R::State>,
        expected: Option<&Expected>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        self.apply_now(id, requested, expected)
    }
}

impl<R: Resource> Create<R> for MemoryStore<R, u64> {
    async fn create(
        &self,
        make: impl Fn(u64) -> R + Send,
    ) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        Ok(MemoryStore::create(self, make))
    }
}
