//! `SqliteStore`: resources in a table of yours in SQLite, the embedded
//! durable store: a single-machine service keeps its data with no server.

use std::fmt::{Display, Write as _};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, Decode, Encode, FromRow, Row, Sqlite, Type};

use super::names::{self, MachineChange, NameReport, Place, StoredName, Verify};
use super::sql::{
    DeadlineRow, Table, backend, micros_of, quoted, storable, storable_text, stored_action,
    stored_state, undecoded, version, written,
};
use super::{
    Applied, Change, ChangeParts, Create, Entry, Inserted, List, Note, Page, Resource, Store,
    StoreError, Versioned,
};
use crate::deadline::{Deadline, InvalidDeadline};
use crate::machine::{Action, StateMachine};
use crate::moves::Computed;

/// The crate's own tables in SQLite (the history), as versioned
/// migrations: run them with [`migrator`], or copy the files of
/// `conflict-runtime/migrations/sqlite` into your own migrations.
#[must_use]
pub fn migrator() -> sqlx::migrate::Migrator {
    super::migrations::sqlite()
}

/// What a type must be to key a row in SQLite (`i64`, `String`).
pub trait SqliteKey:
    for<'q> Encode<'q, Sqlite>
    + for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + Clone
    + Eq
    + Hash
    + Display
    + Send
    + Sync
    + Unpin
    + 'static
{
}

impl<T> SqliteKey for T where
    T: for<'q> Encode<'q, Sqlite>
        + for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + Clone
        + Eq
        + Hash
        + Display
        + Send
        + Sync
        + Unpin
        + 'static
{
}

/// What a type must be to live in a SQLite table: read through its own
/// `sqlx::FromRow`, written from its `serde::Serialize`.
pub trait SqliteRecord: Resource + Serialize + for<'r> FromRow<'r, SqliteRow> + Unpin {}

impl<R> SqliteRecord for R where R: Resource + Serialize + for<'r> FromRow<'r, SqliteRow> + Unpin {}

/// Resources of type `R` in a SQLite table of yours, keyed by `Id`.
///
/// A move is one `BEGIN IMMEDIATE` transaction: the row is read under the
/// database's write lock, the move decided on it, and the conditional
/// `UPDATE ... RETURNING` and the history row written before the commit. A
/// refusal rolls back and writes nothing. Any number of connections and
/// processes on one database file stay correct: SQLite lets one write
/// transaction run at a time.
pub struct SqliteStore<R: Resource, Id = i64> {
    pool: SqlitePool,
    shape: Arc<Shape>,
    committed: crate::moves::Commits,
    computed: Computed<R>,
    machine_change: Option<Arc<MachineChange>>,
    types: PhantomData<fn() -> (R, Id)>,
}

impl<R: Resource, Id> Clone for SqliteStore<R, Id> {
    fn clone(&self) -> Self {
        SqliteStore {
            pool: self.pool.clone(),
            shape: Arc::clone(&self.shape),
            committed: self.committed.clone(),
            computed: self.computed.clone(),
            machine_change: self.machine_change.clone(),
            types: PhantomData,
        }
    }
}

impl<R: Resource, Id> std::fmt::Debug for SqliteStore<R, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("table", &self.shape.table)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
struct Shape {
    kind: String,
    /// The deadlines a move or a creation sets.
    deadlines: Vec<DeadlineRow>,
    table: String,
    id: String,
    id_column: String,
    state: String,
    version: String,
    columns: Vec<String>,
    get: Arc<str>,
    update: Arc<str>,
    update_edit: Arc<str>,
    history: Arc<str>,
    list_first: Arc<str>,
    list_after: Arc<str>,
}

const HISTORY: &str = "INSERT INTO conflict_history
    (kind, id, version, from_state, to_state, action, at_micros, actor, reason, metadata)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// A JSON path to member `name`.
fn path(name: &str) -> String {
    format!("'$.\"{}\"'", name.replace('\'', "''").replace('"', "\\\""))
}

impl Shape {
    #[allow(
        clippy::many_single_char_names,
        reason = "t, i, s, v: the table and its columns, short as they read in the SQL"
    )]
    fn new(table: &Table, kind: String, columns: Vec<String>, deadlines: Vec<DeadlineRow>) -> Self {
        let (t, i, s, v) = (
            quoted(&table.name),
            quoted(&table.id),
            quoted(&table.state),
            quoted(&table.version),
        );
        let returned = format!("{s} AS conflict_state, {v} AS conflict_version");
        let select = format!("SELECT *, {returned} FROM {t}");
        // An edit writes the members its JSON holds and keeps the others.
        let mut edit = String::new();
        for column in &columns {
            let (c, p) = (quoted(column), path(column));
            let _ = write!(
                edit,
                ", {c} = CASE WHEN json_type(?3, {p}) IS NULL THEN {c} ELSE json_extract(?3, {p}) END"
            );
        }
        let update = |edit: &str| {
            format!(
                "UPDATE {t} SET {s} = ?2, {v} = {v} + 1{edit} WHERE {i} = ?1 RETURNING *, {returned}"
            )
        };
        let list = |after: &str| {
            format!(
                "{select} WHERE {s} IN (SELECT value FROM json_each(?1)){after} ORDER BY {i} LIMIT ?2"
            )
        };
        Shape {
            get: format!("{select} WHERE {i} = ?1").into(),
            update: update("").into(),
            update_edit: update(&edit).into(),
            history: format!(
                "SELECT h.version, h.from_state, h.to_state, h.action, h.at_micros,
                        h.actor, h.reason, h.metadata
                   FROM {t} r
                   LEFT JOIN conflict_history h ON h.kind = ?1 AND h.id = ?3
                  WHERE r.{i} = ?2
                  ORDER BY h.version"
            )
            .into(),
            list_first: list("").into(),
            list_after: list(&format!(" AND {i} > ?3")).into(),
            kind,
            deadlines,
            table: t,
            id: i,
            id_column: table.id.clone(),
            state: s,
            version: v,
            columns,
        }
    }

    /// `INSERT` of the members of a new resource's JSON that are columns;
    /// `with_id` when the caller names the id (`?3`).
    fn insert(&self, members: &[&str], with_id: bool) -> String {
        let Shape {
            table: t,
            id: i,
            state: s,
            version: v,
            ..
        } = self;
        let (mut columns, mut values) = (String::new(), String::new());
        if with_id {
            let _ = write!(columns, "{i}, ");
            values.push_str("?3, ");
        }
        for member in members {
            let _ = write!(columns, "{}, ", quoted(member));
            let _ = write!(values, "json_extract(?1, {}), ", path(member));
        }
        let conflict = if with_id {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        };
        format!(
            "INSERT INTO {t} ({columns}{s}, {v}) VALUES ({values}?2, 1){conflict}
             RETURNING *, {s} AS conflict_state, {v} AS conflict_version"
        )
    }
}

impl<R: SqliteRecord, Id: SqliteKey> SqliteStore<R, Id> {
    /// A store over `table` in the database of `pool`. Reads the table's
    /// columns once: the id, state and version columns must exist; every
    /// other column is written from the resource's member of the same name.
    ///
    /// # Errors
    /// The database's error, or a column the table lacks.
    pub async fn connect(pool: SqlitePool, table: Table) -> Result<Self, StoreError<R::State>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM pragma_table_xinfo(?1) WHERE hidden IN (0, 1) ORDER BY cid",
        )
        .bind(&table.name)
        .fetch_all(&pool)
        .await?;
        for needed in [&table.id, &table.state, &table.version] {
            if !names.contains(needed) {
                return Err(backend(super::sql::MissingColumn {
                    table: table.name.clone(),
                    column: needed.clone(),
                }));
            }
        }
        let columns = names
            .into_iter()
            .filter(|name| ![&table.id, &table.state, &table.version].contains(&name))
            .collect();
        let kind = table.kind_or::<R::State>();
        let served: Option<(String, String)> =
            sqlx::query_as(AssertSqlSafe(names::sql::served("?1")))
                .bind(&kind)
                .fetch_optional(&pool)
                .await?;
        let served_as: Option<String> = if served.is_none() {
            sqlx::query_scalar(AssertSqlSafe(names::sql::served_as("?1", "?2")))
                .bind(&kind)
                .bind(R::State::fingerprint())
                .fetch_optional(&pool)
                .await?
        } else {
            None
        };
        let machine_change = MachineChange::since::<R::State>(served, served_as).map(Arc::new);
        sqlx::query(AssertSqlSafe(names::sql::serve("?1", "?2", "?3")))
            .bind(&kind)
            .bind(R::State::fingerprint())
            .bind(R::State::declaration().join("\n"))
            .execute(&pool)
            .await?;
        Ok(SqliteStore {
            pool,
            shape: Arc::new(Shape::new(
                &table,
                kind,
                columns,
                DeadlineRow::declared::<R::State>(),
            )),
            committed: crate::moves::Commits::default(),
            computed: Computed::default(),
            machine_change,
            types: PhantomData,
        })
    }

    /// How the machine differs from the one this store's kind was last
    /// served with, as found (and logged) when it connected; `None` for
    /// the same machine, or the first.
    #[must_use]
    pub fn machine_change(&self) -> Option<&MachineChange> {
        self.machine_change.as_deref()
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Sets `deadline` on the rows entering its state from now on, in
    /// place of the state's declared one ([`Deadline::of`]: a payment window
    /// read from configuration). Set it before the store is used: the clones
    /// made before keep the deadlines they had.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Deadline<R::State>) -> Self {
        let shape = &*self.shape;
        let deadlines = DeadlineRow::with(&shape.deadlines, &deadline);
        self.shape = Arc::new(Shape {
            deadlines,
            ..shape.clone()
        });
        self
    }

    /// Sets the deadline of `state` from each row's own data: `action` is
    /// made at the time `at` reads from the resource as it enters `state`
    /// (an invoice's `due_at`; `None` sets no deadline), in place of the
    /// state's declared one, written in the move's transaction. Set it
    /// before the store is used: the clones made before keep the deadlines
    /// they had. Every instance on one database should set the same.
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

    /// The deadlines a move or a creation sets, typed.
    pub(super) fn deadlines(&self) -> Vec<Deadline<R::State>> {
        self.shape
            .deadlines
            .iter()
            .filter_map(DeadlineRow::typed)
            .collect()
    }

    /// The quoted table and id column, for the statements of other modules.
    pub(super) fn table(&self) -> (&str, &str) {
        (&self.shape.table, &self.shape.id)
    }

    /// The deadlines read from the resources.
    pub(super) fn computed(&self) -> &Computed<R> {
        &self.computed
    }

    /// The kind the history and the outbox record the resources under.
    pub(super) fn kind(&self) -> &str {
        &self.shape.kind
    }

    /// What this process's dispatchers and streams wait on: signaled at
    /// each commit made through this store.
    pub(super) fn committed(&self) -> &crate::moves::Commits {
        &self.committed
    }

    fn read(&self, row: &SqliteRow) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let id: Id = row
            .try_get(self.shape.id_column.as_str())
            .map_err(backend)?;
        let raw_version: i64 = row.try_get("conflict_version").map_err(backend)?;
        let value = R::from_row(row).map_err(undecoded)?;
        Ok(Versioned::new(id, version(raw_version), value))
    }

    fn state_of(row: &SqliteRow) -> Result<R::State, StoreError<R::State>> {
        let name: String = row.try_get("conflict_state").map_err(backend)?;
        stored_state(name)
    }

    /// One change, inside the write transaction `connection` holds.
    async fn apply_within(
        &self,
        connection: &mut SqliteConnection,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let change = change.into_parts();
        let ChangeParts {
            action,
            edited,
            note,
            ..
        } = &change;
        let edited = edited
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(backend)?;
        for value in edited.iter().chain(&note.metadata) {
            storable(value)?;
        }
        storable_text(note.actor.as_deref())?;
        storable_text(note.reason.as_deref())?;
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.get)))
            .bind(id)
            .fetch_optional(&mut *connection)
            .await?
            .ok_or(StoreError::NotFound)?;
        let from = Self::state_of(&row)?;
        let current = version(row.try_get("conflict_version").map_err(backend)?);
        let Some(to) = change.decide(current, from)? else {
            return self.read(&row);
        };
        let query = match &edited {
            Some(edited) => sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.update_edit)))
                .bind(id)
                .bind(to.name())
                .bind(edited),
            None => sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.update)))
                .bind(id)
                .bind(to.name()),
        };
        let row = query.fetch_one(&mut *connection).await?;
        let moved = self.read(&row)?;
        let now = SystemTime::now();
        let at = micros_of(now);
        sqlx::query(HISTORY)
            .bind(&self.shape.kind)
            .bind(id.to_string())
            .bind(db_version(moved.version()))
            .bind(from.name())
            .bind(to.name())
            .bind(action.map(Action::name))
            .bind(at)
            .bind(note.actor.as_deref())
            .bind(note.reason.as_deref())
            .bind(note.metadata.as_ref().map(serde_json::Value::to_string))
            .execute(&mut *connection)
            .await?;
        self.entered(connection, id, moved.value(), moved.version(), now)
            .await?;
        Ok(moved)
    }

    /// The resource `id` entered the state of `value` at `version`, `now`:
    /// its deadline is that state's (read from `value`, or declared), or
    /// none; in the caller's transaction. Nothing to do for a machine
    /// without deadlines.
    async fn entered(
        &self,
        connection: &mut SqliteConnection,
        id: &Id,
        value: &R,
        version: u64,
        now: SystemTime,
    ) -> Result<(), StoreError<R::State>> {
        if self.shape.deadlines.is_empty() && self.computed.is_empty() {
            return Ok(());
        }
        let declared = self
            .shape
            .deadlines
            .iter()
            .find(|deadline| deadline.state == value.state().name())
            .and_then(DeadlineRow::typed);
        let Some((action, at)) = self.computed.due(value, declared, now) else {
            sqlx::query("DELETE FROM conflict_deadlines WHERE kind = ?1 AND id = ?2")
                .bind(&self.shape.kind)
                .bind(id.to_string())
                .execute(&mut *connection)
                .await?;
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO conflict_deadlines
                    (kind, id, resource, version, action, due_micros, next_micros)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (kind, id) DO UPDATE
                SET version = excluded.version, action = excluded.action,
                    due_micros = excluded.due_micros, next_micros = excluded.next_micros,
                    attempts = 0, not_made = NULL",
        )
        .bind(&self.shape.kind)
        .bind(id.to_string())
        .bind(id)
        .bind(db_version(version))
        .bind(action.name())
        .bind(micros_of(at))
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// Inserts a new resource with `sql` (`insert`'s), with its deadline,
    /// in one transaction: the row, or `None` when the id was taken.
    async fn insert_row(
        &self,
        sql: String,
        json: &serde_json::Value,
        state: R::State,
        id: Option<&Id>,
    ) -> Result<Option<Versioned<Id, R>>, StoreError<R::State>> {
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(json.to_string())
            .bind(state.name());
        let query = match id {
            Some(id) => query.bind(id),
            None => query,
        };
        let Some(row) = query.fetch_optional(&mut *transaction).await? else {
            transaction.rollback().await?;
            return Ok(None);
        };
        let created = self.read(&row)?;
        self.entered(
            &mut transaction,
            created.id(),
            created.value(),
            1,
            SystemTime::now(),
        )
        .await?;
        transaction.commit().await?;
        Ok(Some(created))
    }
}

pub(super) fn history_entry<S: StateMachine>(
    row: &SqliteRow,
) -> Result<Option<Entry<S>>, StoreError<S>> {
    let Some(raw_version) = row.try_get::<Option<i64>, _>("version").map_err(backend)? else {
        return Ok(None);
    };
    let action = match row
        .try_get::<Option<String>, _>("action")
        .map_err(backend)?
    {
        Some(name) => Some(stored_action(name)?),
        None => None,
    };
    let micros: i64 = row.try_get("at_micros").map_err(backend)?;
    let metadata: Option<String> = row.try_get("metadata").map_err(backend)?;
    Ok(Some(Entry {
        version: version(raw_version),
        from: stored_state(row.try_get("from_state").map_err(backend)?)?,
        to: stored_state(row.try_get("to_state").map_err(backend)?)?,
        action,
        at: u64::try_from(micros)
            .ok()
            .and_then(|micros| SystemTime::UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
            .unwrap_or(SystemTime::UNIX_EPOCH),
        note: Note {
            actor: row.try_get("actor").map_err(backend)?,
            reason: row.try_get("reason").map_err(backend)?,
            metadata: metadata
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(backend)?,
        },
    }))
}

impl<R: SqliteRecord, Id: SqliteKey> Verify<R> for SqliteStore<R, Id> {
    async fn verify(&self) -> Result<NameReport, StoreError<R::State>> {
        let Shape { table, state, .. } = &*self.shape;
        let rows = sqlx::query(AssertSqlSafe(names::sql::count(table, state, "?1")))
            .bind(&self.shape.kind)
            .fetch_all(&self.pool)
            .await?;
        let counted = rows
            .iter()
            .filter_map(|row| names::sql::counted(row).transpose())
            .collect::<Result<_, _>>()?;
        Ok(NameReport::of::<R::State>(&self.shape.kind, counted))
    }
}

impl<R: SqliteRecord, Id: SqliteKey> SqliteStore<R, Id> {
    /// Rewrites every old name the machine reads (its aliases, and its
    /// removed states' mappings) to the current name, in the resources'
    /// table, the history and the deadlines, in one transaction; with
    /// `dry_run` the transaction is rolled back. Answers what was (or would
    /// be) rewritten, with counts. Rows under names the machine does not
    /// read at all are left for [`Verify::verify`] to report.
    ///
    /// # Errors
    /// The database's error; nothing is rewritten then.
    pub async fn migrate_names(
        &self,
        dry_run: bool,
    ) -> Result<Vec<StoredName>, StoreError<R::State>> {
        let Shape { table, state, .. } = &*self.shape;
        let renames = names::sql::renames::<R::State>(table, state, "TEXT", |n| format!("?{n}"));
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut rewritten = Vec::with_capacity(renames.len());
        for rename in &renames {
            let query = sqlx::query(AssertSqlSafe(rename.sql.as_str()));
            let query = if rename.place == Place::State {
                query
            } else {
                query.bind(&self.shape.kind)
            };
            let done = query
                .bind(rename.old)
                .bind(rename.current)
                .execute(&mut *transaction)
                .await?;
            rewritten.push((rename, done.rows_affected()));
        }
        if dry_run {
            transaction.rollback().await?;
        } else {
            transaction.commit().await?;
        }
        Ok(names::sql::done(rewritten))
    }
}

impl<R: SqliteRecord, Id: SqliteKey> Store<R> for SqliteStore<R, Id> {
    type Id = Id;

    async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.get)))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.read(&row)
    }

    async fn insert(&self, id: Id, value: R) -> Result<Inserted<Id, R>, StoreError<R::State>> {
        let json = serde_json::to_value(&value).map_err(backend)?;
        storable(&json)?;
        let sql = self
            .shape
            .insert(&written(&json, &self.shape.columns), true);
        if let Some(created) = self
            .insert_row(sql, &json, value.state(), Some(&id))
            .await?
        {
            return Ok(Inserted::Created(created));
        }
        let stored = Store::get(self, &id).await?;
        if *stored.value() == value {
            Ok(Inserted::Existing(stored))
        } else {
            Err(StoreError::AlreadyExists {
                version: stored.version(),
                state: stored.value().state(),
            })
        }
    }

    async fn apply(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        // The write lock first: the read and the write see one version.
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let applied = self.apply_within(&mut transaction, id, change).await;
        match &applied {
            Ok(_) => {
                transaction.commit().await?;
                self.committed.signal();
            }
            Err(_) => transaction.rollback().await?,
        }
        applied
    }

    async fn history(&self, id: &Id) -> Result<Vec<Entry<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.history)))
            .bind(&self.shape.kind)
            .bind(id)
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter()
            .filter_map(|row| history_entry(row).transpose())
            .collect()
    }

    async fn apply_each(&self, changes: Vec<(Id, Change<R>)>) -> Vec<Applied<Id, R>> {
        // One write transaction for all: SQLite commits are the cost.
        let mut transaction = match self.pool.begin_with("BEGIN IMMEDIATE").await {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = Arc::new(error);
                return changes
                    .iter()
                    .map(|_| Err(StoreError::Backend(Box::new(Shared(Arc::clone(&error))))))
                    .collect();
            }
        };
        let mut results = Vec::with_capacity(changes.len());
        for (id, change) in changes {
            // A savepoint each: a change that fails half way leaves nothing.
            let result = match sqlx::Acquire::begin(&mut *transaction).await {
                Ok(mut savepoint) => {
                    let result = self.apply_within(&mut savepoint, &id, change).await;
                    let ended = match &result {
                        Ok(_) => savepoint.commit().await,
                        Err(_) => savepoint.rollback().await,
                    };
                    ended.map_err(StoreError::from).and(result)
                }
                Err(error) => Err(error.into()),
            };
            results.push(result);
        }
        let committed = transaction.commit().await;
        self.committed.signal();
        if let Err(error) = committed {
            let error = Arc::new(error);
            return results
                .into_iter()
                .map(|result| {
                    result.and_then(|_| {
                        Err(StoreError::Backend(Box::new(Shared(Arc::clone(&error)))))
                    })
                })
                .collect();
        }
        results
    }
}

/// A create whose `INSERT` returned no row.
#[derive(Debug, thiserror::Error)]
#[error("the table kept no row for the new resource")]
struct NothingInserted;

/// A database error shared by every change of a failed transaction.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Shared(Arc<sqlx::Error>);

impl<R: SqliteRecord, Id: SqliteKey> Create<R> for SqliteStore<R, Id> {
    async fn create(&self, value: R) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let json = serde_json::to_value(&value).map_err(backend)?;
        storable(&json)?;
        let sql = self
            .shape
            .insert(&written(&json, &self.shape.columns), false);
        self.insert_row(sql, &json, value.state(), None)
            .await?
            .ok_or_else(|| backend(NothingInserted))
    }
}

impl<R: SqliteRecord, Id: SqliteKey> List<R> for SqliteStore<R, Id> {
    async fn list(
        &self,
        states: &[R::State],
        after: Option<&Id>,
        limit: usize,
    ) -> Result<Page<Id, R>, StoreError<R::State>> {
        let names = serde_json::to_string(&states.iter().map(|s| s.name()).collect::<Vec<_>>())
            .map_err(backend)?;
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let query = match after {
            None => sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.list_first)))
                .bind(names)
                .bind(fetch),
            Some(after) => sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.list_after)))
                .bind(names)
                .bind(fetch)
                .bind(after),
        };
        let rows = query.fetch_all(&self.pool).await?;
        let more = rows.len() > limit;
        let items = rows
            .iter()
            .take(limit)
            .map(|row| self.read(row))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            items.last().map(|last| last.id().clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

/// A [`SqliteStore`]'s view of a connection inside a write transaction of
/// yours (begun with `BEGIN IMMEDIATE`, so that its reads and writes see one
/// version): the moves the engine makes through it
/// ([`Engine::perform_in`](crate::moves::Engine::perform_in)) commit or roll
/// back with the transaction.
pub struct SqliteTx<'c, R: Resource, Id> {
    store: SqliteStore<R, Id>,
    connection: tokio::sync::Mutex<&'c mut SqliteConnection>,
}

impl<R: SqliteRecord, Id: SqliteKey> SqliteStore<R, Id> {
    /// The store's view of a connection you hold, inside a write
    /// transaction of yours (`pool.begin_with("BEGIN IMMEDIATE")`).
    pub fn on<'c>(&self, connection: &'c mut SqliteConnection) -> SqliteTx<'c, R, Id> {
        SqliteTx {
            store: self.clone(),
            connection: tokio::sync::Mutex::new(connection),
        }
    }
}

impl<R: SqliteRecord, Id: SqliteKey> crate::moves::store::Access<R> for SqliteTx<'_, R, Id> {
    type Id = Id;

    async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut connection = self.connection.lock().await;
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.store.shape.get)))
            .bind(id)
            .fetch_optional(&mut **connection)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.store.read(&row)
    }

    async fn apply(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut connection = self.connection.lock().await;
        // A savepoint: a change that fails half way leaves the rest of the
        // caller's transaction as it was.
        let mut savepoint = sqlx::Acquire::begin(&mut **connection).await?;
        let applied = self.store.apply_within(&mut savepoint, id, change).await;
        match &applied {
            Ok(_) => savepoint.commit().await?,
            Err(_) => savepoint.rollback().await?,
        }
        applied
    }
}

impl<R: SqliteRecord, Id: SqliteKey> crate::moves::Engine<R, SqliteStore<R, Id>> {
    /// Performs a move inside a write transaction of yours, on
    /// `connection`: see [`Engine::perform_in`](crate::moves::Engine::perform_in)
    /// of the Postgres store, which this mirrors.
    ///
    /// # Errors
    /// [`MoveError`](crate::moves::MoveError) for the first check that fails.
    pub async fn perform_in(
        &self,
        connection: &mut SqliteConnection,
        caller: &dyn crate::moves::Caller,
        spec: crate::moves::MoveSpec<R::State, Id>,
    ) -> Result<crate::moves::Uncommitted<Id, R>, crate::moves::MoveError<R::State>> {
        let pending = std::sync::Mutex::new(None);
        let view = self.store().on(connection);
        let moved = self
            .run(&view, caller, spec, crate::moves::Hooks::Later(&pending))
            .await?;
        let pending = pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(crate::moves::Uncommitted::new(
            moved,
            self.rules(),
            pending,
            Some(self.store().committed().clone()),
        ))
    }
}

/// A version a database column can hold.
fn db_version(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}
