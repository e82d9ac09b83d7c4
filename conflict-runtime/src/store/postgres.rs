//! `PgStore`: resources in Postgres, where a move is one conditional
//! statement, so that several server instances stay correct together.

use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::{
    Change, ChangeParts, Create, Entry, Expected, Inserted, Move, Note, Resource, Store,
    StoreError, Versioned,
};
use crate::machine::{Action, StateMachine};

/// The schema: three tables and a sequence (`sql/postgres.sql`).
pub const SCHEMA: &str = include_str!("../../sql/postgres.sql");

/// Resources of type `R` in Postgres, shared by every instance that
/// connects to the same database.
///
/// A move is one statement and one round trip: a conditional `UPDATE` of the
/// row, locked and read at its latest version in the same statement, that
/// also writes the history row; when it changes nothing, the same read says
/// why (404, 409 or 412) with no window for another change in between. The
/// `state` and `version` columns are the truth; `body` holds the rest of the
/// resource as JSON, and its copy of the state is replaced on every read.
pub struct PgStore<R> {
    pool: PgPool,
    resource: PhantomData<fn() -> R>,
}

impl<R> Clone for PgStore<R> {
    fn clone(&self) -> Self {
        PgStore {
            pool: self.pool.clone(),
            resource: PhantomData,
        }
    }
}

impl<R> PgStore<R> {
    /// A store on `pool`; run [`PgStore::migrate`] once before using it.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        PgStore {
            pool,
            resource: PhantomData,
        }
    }

    /// Creates the tables if they are missing ([`SCHEMA`]).
    ///
    /// # Errors
    /// The database's error.
    pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(SCHEMA).execute(pool).await.map(drop)
    }
}

fn backend<S: StateMachine>(
    error: impl std::error::Error + Send + Sync + 'static,
) -> StoreError<S> {
    StoreError::Backend(Box::new(error))
}

/// Ids are `bigint`: a larger one names nothing.
fn db_id(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

fn version(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(0)
}

impl<R> PgStore<R>
where
    R: Resource + Serialize + DeserializeOwned,
{
    /// A row's columns as the resource: the `state` column wins over `body`.
    fn resource(
        id: u64,
        state: &str,
        raw_version: i64,
        body: serde_json::Value,
    ) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        let state = <R::State as StateMachine>::from_name(state)
            .ok_or_else(|| backend(UnknownStored("state", state.to_owned())))?;
        let mut value: R = serde_json::from_value(body).map_err(backend)?;
        value.set_state(state);
        Ok(Versioned::new(id, version(raw_version), value))
    }
}

impl<R> PgStore<R>
where
    R: Resource + Serialize + DeserializeOwned,
{
    fn row(
        id: u64,
        row: &sqlx::postgres::PgRow,
    ) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        Self::resource(
            id,
            row.try_get("state").map_err(backend)?,
            row.try_get("version").map_err(backend)?,
            row.try_get("body").map_err(backend)?,
        )
    }
}

const NUL: &str = "Postgres keeps no NUL character (\\u0000) in text";

/// Refuses what `jsonb` cannot hold: a NUL character in any string or key.
fn storable<S: StateMachine>(value: &serde_json::Value) -> Result<(), StoreError<S>> {
    // Iterative: the value came from a parser that bounds its depth, but a
    // resource built in code need not have.
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::String(text) if text.contains('\0') => {
                return Err(StoreError::Unstorable(NUL));
            }
            serde_json::Value::Array(items) => pending.extend(items),
            serde_json::Value::Object(members) => {
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

/// A column that names no state (or action) of the machine: the schema and
/// the code disagree.
#[derive(Debug, thiserror::Error)]
#[error("the database holds {0} `{1}`, which the machine does not declare")]
struct UnknownStored(&'static str, String);

const GET: &str = "SELECT state, version, body FROM conflict_resources WHERE kind = $1 AND id = $2";

const INSERT: &str = "
    WITH inserted AS (
        INSERT INTO conflict_resources (kind, id, state, version, body)
        VALUES ($1, $2, $3, 1, $4)
        ON CONFLICT (kind, id) DO NOTHING
        RETURNING state, version, body
    )
    SELECT true AS created, state, version, body FROM inserted
    UNION ALL
    SELECT false, state, version, body FROM conflict_resources
     WHERE kind = $1 AND id = $2 AND NOT EXISTS (SELECT 1 FROM inserted)";

// $3/$4: the (from, to) pairs the move allows; $5: the versions `If-Match`
// accepts, or NULL; $6-$9: the action, actor, reason and metadata for the
// history; $10: the edited body, or NULL to keep it.
//
// `current` locks the row and reads its latest committed version; the
// update decides on those values and writes the row it holds, so the
// decision, the write and the reason for a refusal all see one version.
const APPLY: &str = "
    WITH current AS (
        SELECT state, version, body FROM conflict_resources
         WHERE kind = $1 AND id = $2
           FOR UPDATE
    ), moved AS (
        UPDATE conflict_resources r
           SET previous_state = c.state,
               state = ($4::text[])[array_position($3::text[], c.state)],
               version = c.version + 1,
               body = COALESCE($10::jsonb, r.body)
          FROM current c
         WHERE r.kind = $1 AND r.id = $2
           AND c.state = ANY($3::text[])
           AND ($5::bigint[] IS NULL OR c.version = ANY($5))
        RETURNING r.previous_state, r.state, r.version, r.body
    ), logged AS (
        INSERT INTO conflict_history
               (kind, id, version, from_state, to_state, action, actor, reason, metadata)
        SELECT $1, $2, version, previous_state, state, $6, $7, $8, $9 FROM moved
    )
    SELECT true AS moved, state, version, body FROM moved
    UNION ALL
    SELECT false, state, version, body FROM current WHERE NOT EXISTS (SELECT 1 FROM moved)";

// No row: no such resource; one row of NULLs: a resource with no moves yet.
const HISTORY: &str = "
    SELECT h.version, h.from_state, h.to_state, h.action,
           (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros,
           h.actor, h.reason, h.metadata
      FROM conflict_resources r
      LEFT JOIN conflict_history h ON h.kind = r.kind AND h.id = r.id
     WHERE r.kind = $1 AND r.id = $2
     ORDER BY h.version";

fn stored_state<S: StateMachine>(name: &str) -> Result<S, StoreError<S>> {
    S::from_name(name).ok_or_else(|| backend(UnknownStored("state", name.to_owned())))
}

fn history_entry<S: StateMachine>(
    row: &sqlx::postgres::PgRow,
) -> Result<Option<Entry<S>>, StoreError<S>> {
    let Some(version) = row.try_get::<Option<i64>, _>("version").map_err(backend)? else {
        return Ok(None);
    };
    let from: String = row.try_get("from_state").map_err(backend)?;
    let to: String = row.try_get("to_state").map_err(backend)?;
    let action: Option<String> = row.try_get("action").map_err(backend)?;
    let micros: i64 = row.try_get("at_micros").map_err(backend)?;
    let action = match action {
        Some(name) => Some(
            <S::Action as Action>::from_name(&name)
                .ok_or_else(|| backend(UnknownStored("action", name)))?,
        ),
        None => None,
    };
    let at = u64::try_from(micros)
        .ok()
        .and_then(|micros| SystemTime::UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Some(Entry {
        version: self::version(version),
        from: stored_state(&from)?,
        to: stored_state(&to)?,
        action,
        at,
        note: Note {
            actor: row.try_get("actor").map_err(backend)?,
            reason: row.try_get("reason").map_err(backend)?,
            metadata: row.try_get("metadata").map_err(backend)?,
        },
    }))
}

impl<R> Store<R> for PgStore<R>
where
    R: Resource + Serialize + DeserializeOwned,
{
    type Id = u64;

    async fn get(&self, id: &u64) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        let Some(key) = db_id(*id) else {
            return Err(StoreError::NotFound);
        };
        let row = sqlx::query(GET)
            .bind(<R::State as StateMachine>::RESOURCE)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        Self::row(*id, &row)
    }

    async fn insert(&self, id: u64, value: R) -> Result<Inserted<u64, R>, StoreError<R::State>> {
        let Some(key) = db_id(id) else {
            return Err(StoreError::NotFound);
        };
        let body = serde_json::to_value(&value).map_err(backend)?;
        storable(&body)?;
        let row = sqlx::query(INSERT)
            .bind(<R::State as StateMachine>::RESOURCE)
            .bind(key)
            .bind(value.state().name())
            .bind(&body)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let created: bool = row.try_get("created").map_err(backend)?;
        let stored = Self::row(id, &row)?;
        if created {
            Ok(Inserted::Created(stored))
        } else if *stored.value() == value {
            Ok(Inserted::Existing(stored))
        } else {
            Err(StoreError::AlreadyExists {
                version: stored.version(),
                state: stored.value().state(),
            })
        }
    }

    async fn history(&self, id: &u64) -> Result<Vec<Entry<R::State>>, StoreError<R::State>> {
        let Some(key) = db_id(*id) else {
            return Err(StoreError::NotFound);
        };
        let rows = sqlx::query(HISTORY)
            .bind(<R::State as StateMachine>::RESOURCE)
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter()
            .filter_map(|row| history_entry(row).transpose())
            .collect()
    }

    async fn apply(
        &self,
        id: &u64,
        change: Change<R>,
    ) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        let Some(key) = db_id(*id) else {
            return Err(StoreError::NotFound);
        };
        let change = change.into_parts();
        let ChangeParts {
            requested,
            action,
            expected,
            edited,
            note,
            ..
        } = &change;
        let (requested, expected) = (*requested, expected.as_ref());
        let edited = edited
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(backend)?;
        for value in edited.iter().chain(&note.metadata) {
            storable(value)?;
        }
        for text in [&note.actor, &note.reason].into_iter().flatten() {
            if text.contains('\0') {
                return Err(StoreError::Unstorable(NUL));
            }
        }
        // Every (from, to) pair the move allows, decided from the table in
        // memory; the database only checks that the row is in one of them.
        let (from, to): (Vec<&str>, Vec<&str>) = <R::State as StateMachine>::STATES
            .iter()
            .filter_map(|&state| {
                let target = match requested {
                    Move::Action(action) => state.target(action),
                    // a move to where the resource is stays a no-op, as in memory
                    Move::To(target) if target == state => None,
                    Move::To(target) => state.can_transition_to(target).then_some(target),
                };
                target.map(|target| (state.name(), target.name()))
            })
            .unzip();
        let versions: Option<Vec<i64>> = match expected {
            None | Some(Expected::Any) => None,
            Some(Expected::OneOf(versions)) => Some(
                versions
                    .iter()
                    .filter_map(|&v| i64::try_from(v).ok())
                    .collect(),
            ),
        };
        let action = action.map(Action::name);
        let row = sqlx::query(APPLY)
            .bind(<R::State as StateMachine>::RESOURCE)
            .bind(key)
            .bind(&from)
            .bind(&to)
            .bind(versions.as_deref())
            .bind(action)
            .bind(note.actor.as_deref())
            .bind(note.reason.as_deref())
            .bind(note.metadata.as_ref())
            .bind(edited.as_ref())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        let moved: bool = row.try_get("moved").map_err(backend)?;
        let now = Self::row(*id, &row)?;
        if moved {
            return Ok(now);
        }
        // Not moved: the locked row says why, as memory would.
        let state = now.value().state();
        match change.decide(now.version(), state)? {
            None => Ok(now),
            Some(_) => Err(backend(Inconsistent(state.name()))),
        }
    }
}

/// The database refused a move that the table allows from the locked state:
/// the statement and the table disagree, which is a bug, not a client error.
#[derive(Debug, thiserror::Error)]
#[error("the database did not apply a move that state `{0}` allows")]
struct Inconsistent(&'static str);

impl<R> Create<R> for PgStore<R>
where
    R: Resource + Serialize + DeserializeOwned,
{
    async fn create(
        &self,
        make: impl Fn(u64) -> R + Send,
    ) -> Result<Versioned<u64, R>, StoreError<R::State>> {
        // Ids a client took with `PUT` are skipped, not overwritten.
        loop {
            let next: i64 = sqlx::query_scalar("SELECT nextval('conflict_resource_ids')")
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
            let id = u64::try_from(next).map_err(backend)?;
            match self.insert(id, make(id)).await {
                Ok(Inserted::Created(created)) => return Ok(created),
                Ok(Inserted::Existing(_)) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(error) => return Err(error),
            }
        }
    }
}
