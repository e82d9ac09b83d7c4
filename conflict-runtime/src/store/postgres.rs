//! `PgStore`: resources in a table of yours, in Postgres. A move is one
//! conditional statement on that table, so several server instances stay
//! correct together, and it can run inside a transaction of yours.

use std::fmt::{Display, Write as _};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sqlx::postgres::{PgConnection, PgHasArrayType, PgPool, PgRow};
use sqlx::{AssertSqlSafe, Decode, Encode, FromRow, Postgres, Row, Type};
use tokio::sync::Mutex;

use super::names::{self, MachineChange, NameReport, Place, StoredName, Verify};
use super::sql::{
    DeadlineRow, MissingColumn, Table, backend, literal, micros_of, quoted, storable,
    storable_text, stored_action, stored_state, undecoded, version, written,
};
use super::{
    Applied, Change, ChangeParts, Create, Entry, Expected, Inserted, List, Move, Note, Page,
    Resource, Store, StoreError, Versioned,
};
use crate::deadline::{Deadline, InvalidDeadline};
use crate::machine::{Action, StateMachine};
use crate::moves::store::Access;
use crate::moves::{Caller, Commits, Computed, Engine, Hooks, MoveError, MoveSpec, Uncommitted};

/// The crate's own tables in Postgres (the history, idempotency keys), as
/// versioned migrations: run them with [`migrator`], or copy the files of
/// `conflict-runtime/migrations/postgres` into your own migrations.
#[must_use]
pub fn migrator() -> sqlx::migrate::Migrator {
    super::migrations::postgres()
}

/// What a type must be to key a row: any key Postgres and sqlx both know
/// (`i64`, `uuid::Uuid` with the `uuid` feature, `String`).
pub trait PgKey:
    for<'q> Encode<'q, Postgres>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + PgHasArrayType
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

impl<T> PgKey for T where
    T: for<'q> Encode<'q, Postgres>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + PgHasArrayType
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

/// What a type must be to live in a table: read through its own
/// `sqlx::FromRow`, written from its `serde::Serialize` (members named as
/// the columns).
pub trait PgRecord: Resource + Serialize + for<'r> FromRow<'r, PgRow> + Unpin {}

impl<R> PgRecord for R where R: Resource + Serialize + for<'r> FromRow<'r, PgRow> + Unpin {}

/// Resources of type `R` in a table of yours, keyed by `Id`, shared by
/// every instance that connects to the same database.
///
/// A move is one statement and one round trip on your table: a conditional
/// `UPDATE` that checks the state and version and writes the new ones, the
/// history row written by the same statement, and, when nothing moves, the
/// row as the statement found it, which says why (404, 409 or 412) and
/// writes nothing. Only when that row would have allowed the move (another
/// move committed in between) is the move tried again under a row lock,
/// which reads the latest version, so a refusal never names a state the
/// resource was not in after the request arrived.
///
/// ```no_run
/// # use conflict_runtime::store::{PgPool, PgStore, Table, Resource};
/// # #[derive(conflict_runtime::StateMachine, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// # #[serde(rename_all = "snake_case")]
/// # enum OrderStatus { #[state(initial, on(pay -> Paid))] Pending, #[state(terminal)] Paid }
/// #[derive(Clone, PartialEq, serde::Serialize)] // and `sqlx::FromRow`
/// struct Order {
///     id: i64,
///     status: OrderStatus, // a `text` column, or a Postgres enum of the wire names
///     item: String,
/// }
/// # impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Order {
/// #     fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
/// #         use sqlx::Row;
/// #         Ok(Order { id: row.try_get("id")?, status: row.try_get("status")?, item: row.try_get("item")? })
/// #     }
/// # }
/// # impl Resource for Order {
/// #     type State = OrderStatus;
/// #     fn state(&self) -> OrderStatus { self.status }
/// #     fn set_state(&mut self, status: OrderStatus) { self.status = status }
/// # }
///
/// # async fn run(pool: PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// // CREATE TABLE orders (id bigserial PRIMARY KEY, status text NOT NULL,
/// //                      version bigint NOT NULL DEFAULT 1, item text NOT NULL);
/// conflict_runtime::store::postgres::migrator().run(&pool).await?; // the history table
/// let orders: PgStore<Order, i64> = PgStore::connect(pool, Table::new("orders")).await?;
/// # Ok(()) }
/// ```
pub struct PgStore<R: Resource, Id = i64> {
    pool: PgPool,
    shape: Arc<Shape>,
    commits: Commits,
    computed: Computed<R>,
    machine_change: Option<Arc<MachineChange>>,
    types: PhantomData<fn() -> (R, Id)>,
}

impl<R: Resource, Id> Clone for PgStore<R, Id> {
    fn clone(&self) -> Self {
        PgStore {
            pool: self.pool.clone(),
            shape: Arc::clone(&self.shape),
            commits: self.commits.clone(),
            computed: self.computed.clone(),
            machine_change: self.machine_change.clone(),
            types: PhantomData,
        }
    }
}

impl<R: Resource, Id> std::fmt::Debug for PgStore<R, Id> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("table", &self.shape.names.table)
            .finish_non_exhaustive()
    }
}

/// The table as the statements need it: quoted names, types, and the
/// statements built once.
#[derive(Debug)]
struct Shape {
    kind: String,
    table: Table,
    names: Names,
    /// The deadlines the statements set.
    deadlines: Vec<DeadlineRow>,
    /// The states whose deadline the store's code sets, from the resource.
    computed: Vec<&'static str>,
    /// Sets, and clears, one resource's deadline read from it.
    deadline_at: Arc<str>,
    deadline_none: Arc<str>,
    id_column: String,
    /// The columns the row's state (as text) and version (as bigint) are
    /// read from.
    state_read: String,
    version_read: String,
    /// The columns a create or an edit writes (all but id, state and
    /// version, and generated ones), unquoted.
    columns: Vec<String>,
    get: Arc<str>,
    /// The move, by `Statement` and whether it edits.
    apply: [[Arc<str>; 2]; 4],
    apply_each: Arc<str>,
    history: Arc<str>,
    /// A page: by whether it starts after an id, and whether it is of one
    /// state.
    list: [[Arc<str>; 2]; 2],
}

/// The names in the statements, quoted: the table, its id, state and
/// version columns, the state column's type; the kind as a literal, and the
/// machine's deadlines (`VALUES` rows, and their states) if it has any.
#[derive(Debug)]
pub(super) struct Names {
    pub(super) table: String,
    pub(super) id: String,
    state: String,
    version: String,
    state_type: String,
    /// Whether statements answer the state as text and the version as
    /// bigint beside the row: only when the columns are of other types.
    /// Otherwise the row's own columns are read, and the narrower row
    /// costs Postgres less to build at every execution.
    cast: Cast,
    pub(super) id_type: String,
    pub(super) kind: String,
    deadlines: Option<(String, String)>,
    /// The machine's old state names and the current ones, as SQL literals.
    aliases: Vec<(String, String)>,
}

const HISTORY: &str = "INSERT INTO conflict_history
    (kind, id, version, from_state, to_state, action, actor, reason, metadata)";

/// The id and state columns' types, as `format_type` names them, and
/// which of state and version the statements cast.
#[derive(Debug, Clone)]
struct ColumnTypes {
    id: String,
    state: String,
    cast: Cast,
}

/// Which of the row's state and version every statement answers cast
/// beside it, as `conflict_state` (text) and `conflict_version` (bigint).
#[derive(Debug, Clone, Copy)]
struct Cast {
    state: bool,
    version: bool,
}

impl Cast {
    /// From the columns' types as `format_type` names them.
    fn of(state_type: &str, version_type: &str) -> Self {
        Cast {
            state: state_type != "text",
            version: version_type != "bigint",
        }
    }

    /// The columns to read the state and the version from.
    fn read_as(self, table: &Table) -> (&str, &str) {
        (
            if self.state {
                "conflict_state"
            } else {
                &table.state
            },
            if self.version {
                "conflict_version"
            } else {
                &table.version
            },
        )
    }
}

impl Names {
    fn types(&self) -> ColumnTypes {
        ColumnTypes {
            id: self.id_type.clone(),
            state: self.state_type.clone(),
            cast: self.cast,
        }
    }

    /// What every statement answers after the row (`{alias}.*`): its state
    /// as text and its version as bigint where the columns are of other
    /// types, each with a leading comma; nothing where they are not.
    fn returned(&self, alias: &str) -> String {
        let Names {
            state,
            version,
            cast,
            ..
        } = self;
        let mut returned = String::new();
        if cast.state {
            let _ = write!(returned, ", {alias}.{state}::text AS conflict_state");
        }
        if cast.version {
            let _ = write!(returned, ", {alias}.{version}::bigint AS conflict_version");
        }
        returned
    }

    /// The state name `expression` as the machine names it now: an old
    /// name a row was still stored under (an alias) becomes the current one,
    /// so the history records current names only.
    fn current_name(&self, expression: &str) -> String {
        if self.aliases.is_empty() {
            return expression.to_owned();
        }
        let mut case = format!("CASE {expression}");
        for (old, current) in &self.aliases {
            let _ = write!(case, " WHEN {old} THEN {current}");
        }
        let _ = write!(case, " ELSE {expression} END");
        case
    }

    /// What a commit does to the deadlines of the rows in `rows` (a CTE
    /// with the table's columns), in the same statement: a row that entered
    /// a state with a declared deadline gets it, due that long from now
    /// (replacing the one of the state it left); a row that entered a state
    /// whose deadline is read from the resource keeps its row for the
    /// store's code to set in the same transaction; any other row loses its
    /// deadline. Empty for a machine without deadlines.
    fn deadline_ctes(&self, rows: &str) -> String {
        let Some((values, states)) = &self.deadlines else {
            return String::new();
        };
        let Names {
            id,
            state,
            version,
            kind,
            ..
        } = self;
        let set = if values.is_empty() {
            String::new()
        } else {
            format!(
                ", deadline_set AS (
                INSERT INTO conflict_deadlines AS d (kind, id, version, action, due_at, next_at)
                SELECT {kind}, r.{id}::text, r.{version}, dl.action,
                       now() + dl.seconds * interval '1 second',
                       now() + dl.seconds * interval '1 second'
                  FROM {rows} r
                  JOIN (VALUES {values}) AS dl(state, action, seconds) ON dl.state = r.{state}::text
                ON CONFLICT (kind, id) DO UPDATE
                   SET version = excluded.version, action = excluded.action,
                       due_at = excluded.due_at, next_at = excluded.next_at,
                       attempts = 0, not_made = NULL
             )"
            )
        };
        format!(
            "{set}, deadline_cleared AS (
                DELETE FROM conflict_deadlines d USING {rows} r
                 WHERE d.kind = {kind} AND d.id = r.{id}::text
                   AND r.{state}::text NOT IN ({states})
             )"
        )
    }

    /// Sets the deadline of one resource, `$1` (of the id's type), as the
    /// store's code computed it: `$2` its version, `$3` the action, `$4`
    /// when, in microseconds since the Unix epoch.
    fn deadline_at(&self) -> String {
        let Names { id_type, kind, .. } = self;
        format!(
            "INSERT INTO conflict_deadlines AS d (kind, id, version, action, due_at, next_at)
             SELECT {kind}, ($1::{id_type})::text, $2, $3, at, at
               FROM (SELECT timestamptz 'epoch' + $4 * interval '1 microsecond' AS at) due
             ON CONFLICT (kind, id) DO UPDATE
                SET version = excluded.version, action = excluded.action,
                    due_at = excluded.due_at, next_at = excluded.next_at,
                    attempts = 0, not_made = NULL"
        )
    }

    /// Clears the deadline of one resource, `$1` (of the id's type).
    fn deadline_none(&self) -> String {
        let Names { id_type, kind, .. } = self;
        format!("DELETE FROM conflict_deadlines WHERE kind = {kind} AND id = ($1::{id_type})::text")
    }

    /// `SET` of an edit: the members its JSON (`$10`) holds, and the other
    /// columns kept.
    fn edit(columns: &[String]) -> String {
        let mut edit = String::new();
        for column in columns {
            let name = quoted(column);
            let key = column.replace('\'', "''");
            let _ = write!(
                edit,
                ", {name} = CASE WHEN $10::jsonb ? '{key}' THEN e.{name} ELSE t.{name} END"
            );
        }
        edit
    }

    /// The move of one row, and the history row, in one statement: the
    /// move's (from, to) pairs in `$2` and `$3` (two texts when it has one
    /// pair, two arrays otherwise), the versions it expects in
    /// `$4` (or NULL), the history's kind, action, actor, reason and
    /// metadata in `$5` to `$9`, an edit's JSON in `$10`.
    ///
    /// The history needs the state the row left. When no two of the move's
    /// pairs lead to one state (`open` -> `closed`, `closed` -> `open`), it
    /// is the pair of the state the row entered; otherwise (`cancel` from
    /// `pending` or `paid`) the row is joined to the pairs, and the pair it
    /// matched says. Either is exact under concurrency: the new state is
    /// computed from the row the update writes.
    ///
    /// Locked: the row is read at its latest version under a lock first,
    /// and the update decides on that; otherwise the update decides on the
    /// row it finds, and a refusal costs no write.
    fn apply(&self, shape: Statement, edit: Option<&str>) -> String {
        let Names {
            table,
            id,
            state,
            version,
            state_type,
            ..
        } = self;
        let (edit, edit_source) = match edit {
            Some(edit) => (
                edit,
                format!(", jsonb_populate_record(NULL::{table}, $10::jsonb) AS e"),
            ),
            None => ("", String::new()),
        };
        let (current, checked, refused) = if shape == Statement::Locked {
            (
                format!("current AS (SELECT t.* FROM {table} t WHERE t.{id} = $1 FOR UPDATE), "),
                "c",
                format!(
                    "SELECT false, c.*, NULL{} FROM current c WHERE",
                    self.returned("c")
                ),
            )
        } else {
            (
                String::new(),
                "t",
                format!(
                    "SELECT false, t.*{}{} FROM {table} t WHERE t.{id} = $1 AND",
                    // A one-pair move answers no from state: it is `$2`.
                    if shape == Statement::Single {
                        ""
                    } else {
                        ", NULL"
                    },
                    self.returned("t")
                ),
            )
        };
        let (to, from, source, matched) = if shape == Statement::Single {
            (
                "$3::text".to_owned(),
                "$2::text".to_owned(),
                String::new(),
                format!("t.{state}::text = $2::text"),
            )
        } else if shape == Statement::Inverted {
            (
                format!("($3::text[])[array_position($2::text[], t.{state}::text)]"),
                format!("($2::text[])[array_position($3::text[], t.{state}::text)]"),
                String::new(),
                format!("t.{state}::text = ANY($2::text[])"),
            )
        } else {
            let locked = if shape == Statement::Locked {
                "current c, "
            } else {
                ""
            };
            (
                "m.to_state".to_owned(),
                "m.from_state".to_owned(),
                format!(" FROM {locked}unnest($2::text[], $3::text[]) AS m(from_state, to_state)"),
                format!("{checked}.{state}::text = m.from_state"),
            )
        };
        let source = match (source.is_empty(), edit_source.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!(" FROM{}", &edit_source[1..]),
            _ => format!("{source}{edit_source}"),
        };
        format!(
            "WITH {current}moved AS (
                UPDATE {table} AS t
                   SET {state} = CAST({to} AS {state_type}), {version} = t.{version} + 1{edit}{source}
                 WHERE t.{id} = $1 AND {matched}
                   AND ($4::bigint[] IS NULL OR {checked}.{version} = ANY($4))
             RETURNING t.*{from_returned}
             ), logged AS (
                {HISTORY}
                SELECT $5, moved.{id}::text, moved.{version}, {from_state},
                       moved.{state}::text, $6, $7, $8, $9::jsonb
                  FROM moved
             ){deadlines}
             SELECT true AS conflict_moved, moved.*{moved} FROM moved
             UNION ALL
             {refused} NOT EXISTS (SELECT 1 FROM moved)",
            from_returned = if shape == Statement::Single {
                String::new()
            } else {
                format!(", {from} AS conflict_from")
            },
            from_state = self.current_name(if shape == Statement::Single {
                &from
            } else {
                "moved.conflict_from"
            }),
            moved = self.returned("moved"),
            deadlines = self.deadline_ctes("moved"),
        )
    }

    /// The same move of many rows (`$1`, each with its expected version or
    /// NULL in `$4`), and their history rows, in one statement.
    fn apply_each(&self) -> String {
        let Names {
            table,
            id,
            state,
            version,
            state_type,
            id_type,
            ..
        } = self;
        format!(
            "WITH moved AS (
                UPDATE {table} AS t
                   SET {state} = CAST(m.to_state AS {state_type}), {version} = t.{version} + 1
                  FROM unnest($2::text[], $3::text[]) AS m(from_state, to_state),
                       unnest($1::{id_type}[], $4::bigint[]) AS k(id, expected)
                 WHERE t.{id} = k.id AND t.{state}::text = m.from_state
                   AND (k.expected IS NULL OR t.{version} = k.expected)
             RETURNING t.*, m.from_state AS conflict_from
             ), logged AS (
                {HISTORY}
                SELECT $5, moved.{id}::text, moved.{version}, {from_state},
                       moved.{state}::text, $6, $7, $8, $9::jsonb
                  FROM moved
             ){deadlines}
             SELECT true AS conflict_moved, moved.*{moved} FROM moved
             UNION ALL
             SELECT false, t.*, NULL{found} FROM {table} t
              WHERE t.{id} = ANY($1::{id_type}[])
                AND NOT EXISTS (SELECT 1 FROM moved WHERE moved.{id} = t.{id})",
            from_state = self.current_name("moved.conflict_from"),
            moved = self.returned("moved"),
            found = self.returned("t"),
            deadlines = self.deadline_ctes("moved"),
        )
    }

    /// A page of rows in some states (`$1`, text[]), after an id (`$3`) if
    /// `after`. With one state the condition is an equality, so that an
    /// index on `(state, id)` serves the page in order (`= ANY` cannot).
    fn list(&self, after: bool, one_state: bool) -> String {
        let Names {
            table,
            id,
            state,
            state_type,
            ..
        } = self;
        let after = if after {
            format!(" AND t.{id} > $3")
        } else {
            String::new()
        };
        let states = if one_state {
            format!("t.{state} = CAST(($1::text[])[1] AS {state_type})")
        } else {
            format!("t.{state} = ANY(CAST($1::text[] AS {state_type}[]))")
        };
        format!(
            "SELECT t.*{} FROM {table} t
              WHERE {states}{after}
              ORDER BY t.{id} LIMIT $2",
            self.returned("t")
        )
    }

    /// The history of a row; no row: no such resource, one row of NULLs: no
    /// moves yet.
    fn history(&self) -> String {
        let Names { table, id, .. } = self;
        format!(
            "SELECT h.version, h.from_state, h.to_state, h.action,
                    (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros,
                    h.actor, h.reason, h.metadata
               FROM {table} r
               LEFT JOIN conflict_history h ON h.kind = $1 AND h.id = r.{id}::text
              WHERE r.{id} = $2
              ORDER BY h.version"
        )
    }

    /// `INSERT` of the members of a new resource's JSON (`$1`) that are
    /// columns, in state `$2`; under the id `$3` when `with_id`.
    fn insert(&self, members: &[&str], with_id: bool) -> String {
        let Names {
            table,
            id,
            state,
            version,
            state_type,
            ..
        } = self;
        let (mut columns, mut values) = (String::new(), String::new());
        if with_id {
            let _ = write!(columns, "{id}, ");
            values.push_str("$3, ");
        }
        for member in members {
            let name = quoted(member);
            let _ = write!(columns, "{name}, ");
            let _ = write!(values, "e.{name}, ");
        }
        let insert = format!(
            "INSERT INTO {table} AS t ({columns}{state}, {version})
             SELECT {values}CAST($2 AS {state_type}), 1
               FROM jsonb_populate_record(NULL::{table}, $1::jsonb) AS e"
        );
        let deadlines = self.deadline_ctes("inserted");
        if !with_id {
            // An id a client chose may be the sequence's next: skipped.
            if deadlines.is_empty() {
                return format!(
                    "{insert} ON CONFLICT ({id}) DO NOTHING RETURNING t.*{}",
                    self.returned("t")
                );
            }
            return format!(
                "WITH inserted AS ({insert} ON CONFLICT ({id}) DO NOTHING RETURNING t.*){deadlines}
                 SELECT inserted.*{} FROM inserted",
                self.returned("inserted")
            );
        }
        format!(
            "WITH inserted AS ({insert} ON CONFLICT ({id}) DO NOTHING RETURNING t.*){deadlines}
             SELECT true AS conflict_created, inserted.*{} FROM inserted
             UNION ALL
             SELECT false, t.*{} FROM {table} t
              WHERE t.{id} = $3 AND NOT EXISTS (SELECT 1 FROM inserted)",
            self.returned("inserted"),
            self.returned("t"),
        )
    }
}

impl Shape {
    /// The statements over `table` for the machine `S`.
    fn new<S: StateMachine>(
        table: &Table,
        kind: String,
        columns: Vec<String>,
        types: ColumnTypes,
        deadlines: Vec<DeadlineRow>,
        computed: Vec<&'static str>,
    ) -> Self {
        let ColumnTypes {
            id: id_type,
            state: state_type,
            cast,
        } = types;
        let (state_read, version_read) = cast.read_as(table);
        let names = Names {
            table: quoted(&table.name),
            id: quoted(&table.id),
            state: quoted(&table.state),
            version: quoted(&table.version),
            state_type,
            cast,
            id_type,
            kind: literal(&kind),
            deadlines: DeadlineRow::sql(&deadlines, &computed),
            aliases: S::ALIASES
                .iter()
                .map(|&(old, current)| (literal(old), literal(current.name())))
                .collect(),
        };
        let edit = Names::edit(&columns);
        Shape {
            get: format!(
                "SELECT t.*{} FROM {} t WHERE t.{} = $1",
                names.returned("t"),
                names.table,
                names.id
            )
            .into(),
            apply: [
                Statement::Single,
                Statement::Inverted,
                Statement::Joined,
                Statement::Locked,
            ]
            .map(|shape| {
                [
                    names.apply(shape, None).into(),
                    names.apply(shape, Some(&edit)).into(),
                ]
            }),
            apply_each: names.apply_each().into(),
            history: names.history().into(),
            list: [false, true]
                .map(|after| [false, true].map(|one_state| names.list(after, one_state).into())),
            kind,
            table: table.clone(),
            deadline_at: names.deadline_at().into(),
            deadline_none: names.deadline_none().into(),
            names,
            deadlines,
            computed,
            id_column: table.id.clone(),
            state_read: state_read.to_owned(),
            version_read: version_read.to_owned(),
            columns,
        }
    }
}

impl<R: PgRecord, Id: PgKey> PgStore<R, Id> {
    /// A store over `table` in the database of `pool`. Reads the table's
    /// columns once: the id, state and version columns must exist; every
    /// other column that is not generated is written from the resource's
    /// member of the same name.
    ///
    /// # Errors
    /// The database's error, or a column the table lacks.
    pub async fn connect(pool: PgPool, table: Table) -> Result<Self, StoreError<R::State>> {
        let catalog = sqlx::query(
            "SELECT a.attname::text AS name,
                    format_type(a.atttypid, a.atttypmod) AS type,
                    (a.attgenerated <> '' OR a.attidentity = 'a') AS generated
               FROM pg_attribute a
              WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum",
        )
        .bind(&table.name)
        .fetch_all(&pool)
        .await
        .map_err(backend)?;
        let mut columns = Vec::new();
        let (mut id_type, mut state_type, mut version_type) = (None, None, None);
        for row in &catalog {
            let name: String = row.try_get("name").map_err(backend)?;
            let column_type: String = row.try_get("type").map_err(backend)?;
            let generated: bool = row.try_get("generated").map_err(backend)?;
            if name == table.id {
                id_type = Some(column_type);
            } else if name == table.state {
                state_type = Some(column_type);
            } else if name == table.version {
                version_type = Some(column_type);
            } else if !generated {
                columns.push(name);
            }
        }
        let missing = |column: &str| {
            backend(MissingColumn {
                table: table.name.clone(),
                column: column.to_owned(),
            })
        };
        let id_type = id_type.ok_or_else(|| missing(&table.id))?;
        let state_type = state_type.ok_or_else(|| missing(&table.state))?;
        let version_type = version_type.ok_or_else(|| missing(&table.version))?;
        let cast = Cast::of(&state_type, &version_type);
        let kind = table.kind_or::<R::State>();
        let served: Option<(String, String)> =
            sqlx::query_as(AssertSqlSafe(names::sql::served("$1")))
                .bind(&kind)
                .fetch_optional(&pool)
                .await?;
        let served_as: Option<String> = if served.is_none() {
            sqlx::query_scalar(AssertSqlSafe(names::sql::served_as("$1", "$2")))
                .bind(&kind)
                .bind(R::State::fingerprint())
                .fetch_optional(&pool)
                .await?
        } else {
            None
        };
        let machine_change = MachineChange::since::<R::State>(served, served_as).map(Arc::new);
        sqlx::query(AssertSqlSafe(names::sql::serve("$1", "$2", "$3")))
            .bind(&kind)
            .bind(R::State::fingerprint())
            .bind(R::State::declaration().join("\n"))
            .execute(&pool)
            .await?;
        Ok(PgStore {
            commits: super::postgres_outbox::commits(&pool),
            pool,
            shape: Arc::new(Shape::new::<R::State>(
                &table,
                kind,
                columns,
                ColumnTypes {
                    id: id_type,
                    state: state_type,
                    cast,
                },
                DeadlineRow::declared::<R::State>(),
                Vec::new(),
            )),
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Sets `deadline` on the rows entering its state from now on, in
    /// place of the state's declared one ([`Deadline::of`]: a payment window
    /// read from configuration). Set it before the store is used: the clones
    /// made before keep the deadlines they had. Every instance on one
    /// database should set the same.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Deadline<R::State>) -> Self {
        let shape = &self.shape;
        self.shape = Arc::new(Shape::new::<R::State>(
            &shape.table,
            shape.kind.clone(),
            shape.columns.clone(),
            shape.names.types(),
            DeadlineRow::with(&shape.deadlines, &deadline),
            shape.computed.clone(),
        ));
        self
    }

    /// Sets the deadline of `state` from each row's own data: `action` is
    /// made at the time `at` reads from the resource as it enters `state`
    /// (an invoice's `due_at`; `None` sets no deadline), in place of the
    /// state's declared one. The move's statement and the deadline's row
    /// are then one transaction (the caller's, inside one): `BEGIN`, the
    /// deadline's statement and `COMMIT` are three more round trips for
    /// every move and creation of this store, where a declared deadline
    /// needs none. Set it before the store is used: the clones made before keep
    /// the deadlines they had. Every instance on one database should set
    /// the same.
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
        let shape = &self.shape;
        let mut computed = shape.computed.clone();
        computed.retain(|kept| *kept != state.name());
        computed.push(state.name());
        self.shape = Arc::new(Shape::new::<R::State>(
            &shape.table,
            shape.kind.clone(),
            shape.columns.clone(),
            shape.names.types(),
            DeadlineRow::without(&shape.deadlines, state.name()),
            computed,
        ));
        Ok(self)
    }

    /// Writes the deadline `moved` has from its own data, if its state's
    /// deadline is read from the resource, on `connection`: inside the
    /// transaction of the statement that moved or created it.
    async fn computed_entered(
        &self,
        connection: &mut PgConnection,
        moved: &Versioned<Id, R>,
    ) -> Result<(), StoreError<R::State>> {
        let Some(due) = self.computed.of(moved.value()) else {
            return Ok(());
        };
        let query = match due {
            Some((action, at)) => sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.deadline_at)))
                .bind(moved.id())
                .bind(i64::try_from(moved.version()).unwrap_or(i64::MAX))
                .bind(action.name())
                .bind(micros_of(at)),
            None => {
                sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.deadline_none))).bind(moved.id())
            }
        };
        query.execute(connection).await?;
        Ok(())
    }

    /// The deadlines the statements set, typed.
    pub(super) fn deadlines(&self) -> Vec<Deadline<R::State>> {
        self.shape
            .deadlines
            .iter()
            .filter_map(DeadlineRow::typed)
            .collect()
    }

    /// The quoted names of the table, for the statements of other modules.
    pub(super) fn names(&self) -> &Names {
        &self.shape.names
    }

    /// The deadlines read from the resources.
    pub(super) fn computed(&self) -> &Computed<R> {
        &self.computed
    }

    /// The kind the history and the outbox record the resources under.
    pub(super) fn kind(&self) -> &str {
        &self.shape.kind
    }

    /// What wakes dispatchers and streams, here and in other instances, at
    /// the commits made through this store.
    pub(super) fn commits(&self) -> &Commits {
        &self.commits
    }

    /// The store's view of a connection you hold, inside a transaction of
    /// yours: moves through [`Engine::perform_in`] commit or roll back with
    /// it.
    pub fn on<'c>(&self, connection: &'c mut PgConnection) -> PgTx<'c, R, Id> {
        PgTx {
            store: self.clone(),
            connection: Mutex::new(connection),
        }
    }

    fn read(&self, row: &PgRow) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let id: Id = row
            .try_get(self.shape.id_column.as_str())
            .map_err(backend)?;
        let value = R::from_row(row).map_err(undecoded)?;
        Ok(Versioned::new(id, self.version_of(row)?, value))
    }

    fn state_of(&self, row: &PgRow) -> Result<R::State, StoreError<R::State>> {
        let name: String = row
            .try_get(self.shape.state_read.as_str())
            .map_err(backend)?;
        stored_state(name)
    }

    fn version_of(&self, row: &PgRow) -> Result<u64, StoreError<R::State>> {
        let raw: i64 = row
            .try_get(self.shape.version_read.as_str())
            .map_err(backend)?;
        Ok(version(raw))
    }

    async fn get_on(
        &self,
        connection: &mut PgConnection,
        id: &Id,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.get)))
            .bind(id)
            .fetch_optional(connection)
            .await
            .map_err(backend)?
            .ok_or(StoreError::NotFound)?;
        self.read(&row)
    }

    async fn apply_on(
        &self,
        connection: &mut PgConnection,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let (resource, moved) = self.move_on(connection, id, change).await?;
        if moved {
            self.computed_entered(connection, &resource).await?;
        }
        Ok(resource)
    }

    /// The move's statement: the resource, and whether it moved.
    async fn move_on(
        &self,
        connection: &mut PgConnection,
        id: &Id,
        change: Change<R>,
    ) -> Result<(Versioned<Id, R>, bool), StoreError<R::State>> {
        let change = change.into_parts();
        let statement = Bound::of(&change)?;
        let shapes = &self.shape.apply;
        let kind = &self.shape.kind;
        let row = statement
            .run(shapes, false, kind, id, connection)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.try_get::<bool, _>("conflict_moved").map_err(backend)? {
            return Ok((self.read(&row)?, true));
        }
        // Nothing moved: the row as the statement found it says why, unless
        // it would have allowed the move, which another move committed in
        // between must have changed. Then decide again under a lock.
        let state = self.state_of(&row)?;
        let found = self.version_of(&row)?;
        match change.decide(found, state) {
            Ok(None) => return Ok((self.read(&row)?, false)),
            Err(refused) => return Err(refused),
            Ok(Some(_)) => {}
        }
        let row = statement
            .run(shapes, true, kind, id, connection)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.try_get::<bool, _>("conflict_moved").map_err(backend)? {
            return Ok((self.read(&row)?, true));
        }
        let state = self.state_of(&row)?;
        let locked = self.version_of(&row)?;
        match change.decide(locked, state)? {
            None => Ok((self.read(&row)?, false)),
            Some(_) => Err(backend(Inconsistent(state.name()))),
        }
    }
}

/// Which statement moves a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Statement {
    /// The move has one pair (`pay`: `pending` -> `paid`), bound as two
    /// texts rather than arrays: the statement one writes by hand.
    Single = 0,
    /// No two pairs of the move lead to one state: the state left is the
    /// pair's of the state entered.
    Inverted = 1,
    /// The row joined to the move's pairs.
    Joined = 2,
    /// The row locked and read at its latest version first.
    Locked = 3,
}

/// One move's parameters, bound the same way to every statement.
struct Bound<'c> {
    shape: Statement,
    from: Vec<&'static str>,
    to: Vec<&'static str>,
    versions: Option<Vec<i64>>,
    action: Option<&'static str>,
    note: &'c Note,
    edited: Option<serde_json::Value>,
}

impl<'c> Bound<'c> {
    fn of<R: Resource + Serialize>(
        change: &'c ChangeParts<R>,
    ) -> Result<Self, StoreError<R::State>> {
        let edited = change
            .edited
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(backend)?;
        for value in edited.iter().chain(&change.note.metadata) {
            storable(value)?;
        }
        storable_text(change.note.actor.as_deref())?;
        storable_text(change.note.reason.as_deref())?;
        let (from, to) = pairs(change.requested);
        let shape = if to.len() == 1 {
            Statement::Single
        } else {
            let mut entered = to.clone();
            entered.sort_unstable();
            entered.dedup();
            if entered.len() == to.len() {
                Statement::Inverted
            } else {
                Statement::Joined
            }
        };
        Ok(Bound {
            shape,
            from,
            to,
            versions: expected_versions(change.expected.as_ref()),
            action: change.action.map(Action::name),
            note: &change.note,
            edited,
        })
    }

    /// Runs the statement `shape` of `shape`s (the locked one, or the
    /// move's own).
    async fn run<Id: PgKey>(
        &self,
        shapes: &[[Arc<str>; 2]; 4],
        locked: bool,
        kind: &str,
        id: &Id,
        connection: &mut PgConnection,
    ) -> Result<Option<PgRow>, sqlx::Error> {
        let shape = if locked {
            Statement::Locked
        } else {
            self.shape
        };
        let sql = &shapes[shape as usize][usize::from(self.edited.is_some())];
        let query = sqlx::query(AssertSqlSafe(Arc::clone(sql))).bind(id);
        let query = match (shape, self.from.as_slice(), self.to.as_slice()) {
            (Statement::Single, [from], [to]) => query.bind(*from).bind(*to),
            _ => query.bind(&self.from).bind(&self.to),
        };
        let query = query
            .bind(self.versions.as_deref())
            .bind(kind)
            .bind(self.action)
            .bind(self.note.actor.as_deref())
            .bind(self.note.reason.as_deref())
            .bind(self.note.metadata.as_ref());
        // Only the statements that edit take the edited resource, `$10`.
        let query = match &self.edited {
            Some(edited) => query.bind(edited),
            None => query,
        };
        query.fetch_optional(connection).await
    }
}

fn expected_versions(expected: Option<&Expected>) -> Option<Vec<i64>> {
    match expected {
        None | Some(Expected::Any) => None,
        Some(Expected::OneOf(versions)) => Some(
            versions
                .iter()
                .filter_map(|&v| i64::try_from(v).ok())
                .collect(),
        ),
    }
}

pub(super) fn history_entry<S: StateMachine>(
    row: &PgRow,
) -> Result<Option<Entry<S>>, StoreError<S>> {
    let Some(raw_version) = row.try_get::<Option<i64>, _>("version").map_err(backend)? else {
        return Ok(None);
    };
    let from: String = row.try_get("from_state").map_err(backend)?;
    let to: String = row.try_get("to_state").map_err(backend)?;
    let action: Option<String> = row.try_get("action").map_err(backend)?;
    let micros: i64 = row.try_get("at_micros").map_err(backend)?;
    let action = match action {
        Some(name) => Some(stored_action(name)?),
        None => None,
    };
    let at = u64::try_from(micros)
        .ok()
        .and_then(|micros| SystemTime::UNIX_EPOCH.checked_add(Duration::from_micros(micros)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(Some(Entry {
        version: version(raw_version),
        from: stored_state(from)?,
        to: stored_state(to)?,
        action,
        at,
        note: Note {
            actor: row.try_get("actor").map_err(backend)?,
            reason: row.try_get("reason").map_err(backend)?,
            metadata: row.try_get("metadata").map_err(backend)?,
        },
    }))
}

impl<R: PgRecord, Id: PgKey> Verify<R> for PgStore<R, Id> {
    async fn verify(&self) -> Result<NameReport, StoreError<R::State>> {
        let Names { table, state, .. } = &self.shape.names;
        let rows = sqlx::query(AssertSqlSafe(names::sql::count(table, state, "$1")))
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

impl<R: PgRecord, Id: PgKey> PgStore<R, Id> {
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
        let Names {
            table,
            state,
            state_type,
            ..
        } = &self.shape.names;
        let renames =
            names::sql::renames::<R::State>(table, state, state_type, |n| format!("${n}"));
        let mut transaction = self.pool.begin().await?;
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

impl<R: PgRecord, Id: PgKey> Store<R> for PgStore<R, Id> {
    type Id = Id;

    async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut connection = self.pool.acquire().await?;
        self.get_on(&mut connection, id).await
    }

    async fn insert(&self, id: Id, value: R) -> Result<Inserted<Id, R>, StoreError<R::State>> {
        let json = serde_json::to_value(&value).map_err(backend)?;
        storable(&json)?;
        let sql = self
            .shape
            .names
            .insert(&written(&json, &self.shape.columns), true);
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(&json)
            .bind(value.state().name())
            .bind(&id);
        let (row, created) = if self.computed.is_empty() {
            let row = query.fetch_one(&self.pool).await?;
            let created: bool = row.try_get("conflict_created").map_err(backend)?;
            (row, created)
        } else {
            // The deadline read from the resource is a second statement.
            let mut transaction = self.pool.begin().await?;
            let row = query.fetch_one(&mut *transaction).await?;
            let created: bool = row.try_get("conflict_created").map_err(backend)?;
            if created {
                self.computed_entered(&mut transaction, &self.read(&row)?)
                    .await?;
            }
            transaction.commit().await?;
            (row, created)
        };
        let stored = self.read(&row)?;
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

    async fn apply(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let applied = if self.computed.is_empty() {
            let mut connection = self.pool.acquire().await?;
            self.apply_on(&mut connection, id, change).await
        } else {
            // The deadline read from the resource is a second statement.
            let mut transaction = self.pool.begin().await?;
            let applied = self.apply_on(&mut transaction, id, change).await?;
            transaction.commit().await?;
            Ok(applied)
        };
        if applied.is_ok() {
            self.commits.signal();
        }
        applied
    }

    async fn history(&self, id: &Id) -> Result<Vec<Entry<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.history)))
            .bind(&self.shape.kind)
            .bind(id)
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
        if let Some(results) = self.apply_together(&changes).await {
            if results.iter().any(Result::is_ok) {
                self.commits.signal();
            }
            return results;
        }
        let mut results = Vec::with_capacity(changes.len());
        for (id, change) in changes {
            results.push(Store::apply(self, &id, change).await);
        }
        results
    }
}

impl<R: PgRecord, Id: PgKey> PgStore<R, Id> {
    /// The changes as one statement, when they are the same move with the
    /// same note and at most one expected version each, and edit nothing;
    /// `None` otherwise. A change whose row would have allowed it but did
    /// not move (another move in between) is applied again on its own.
    async fn apply_together(&self, changes: &[(Id, Change<R>)]) -> Option<Vec<Applied<Id, R>>> {
        let parts: Vec<ChangeParts<R>> = changes
            .iter()
            .map(|(_, change)| change.clone().into_parts())
            .collect();
        let first = parts.first()?;
        // A deadline read from each resource is written by a statement of
        // its own, in each move's transaction.
        if !self.computed.is_empty() {
            return None;
        }
        let distinct: std::collections::HashSet<&Id> = changes.iter().map(|(id, _)| id).collect();
        if distinct.len() != changes.len() {
            return None;
        }
        let uniform = parts.iter().all(|part| {
            part.edited.is_none()
                && part.requested == first.requested
                && part.action == first.action
                && part.note == first.note
                && expected_versions(part.expected.as_ref()).is_none_or(|v| v.len() == 1)
        });
        if !uniform {
            return None;
        }
        let ids: Vec<Id> = changes.iter().map(|(id, _)| id.clone()).collect();
        let expected: Vec<Option<i64>> = parts
            .iter()
            .map(|part| expected_versions(part.expected.as_ref()).and_then(|v| v.first().copied()))
            .collect();
        let statement = match Bound::of(first) {
            Ok(statement) => statement,
            Err(error) => return Some(changes.iter().map(|_| Err(clone_error(&error))).collect()),
        };
        let rows = sqlx::query(AssertSqlSafe(Arc::clone(&self.shape.apply_each)))
            .bind(&ids)
            .bind(&statement.from)
            .bind(&statement.to)
            .bind(&expected)
            .bind(&self.shape.kind)
            .bind(statement.action)
            .bind(statement.note.actor.as_deref())
            .bind(statement.note.reason.as_deref())
            .bind(statement.note.metadata.as_ref())
            .fetch_all(&self.pool)
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                let error = std::sync::Arc::new(error);
                return Some(
                    changes
                        .iter()
                        .map(|_| Err(StoreError::Backend(Box::new(Shared(Arc::clone(&error))))))
                        .collect(),
                );
            }
        };
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let moved = row.try_get::<bool, _>("conflict_moved").unwrap_or(false);
            if let Ok(id) = row.try_get::<Id, _>(self.shape.id_column.as_str()) {
                found.insert(id, (moved, row));
            }
        }
        let mut results = Vec::with_capacity(changes.len());
        for ((id, change), part) in changes.iter().zip(&parts) {
            let result = match found.get(id) {
                None => Err(StoreError::NotFound),
                Some((true, row)) => self.read(row),
                Some((false, row)) => {
                    let decided = self
                        .state_of(row)
                        .and_then(|state| part.decide(self.version_of(row)?, state));
                    match decided {
                        Ok(None) => self.read(row),
                        Err(refused) => Err(refused),
                        // Moved by another in between: decide it alone.
                        Ok(Some(_)) => Store::apply(self, id, change.clone()).await,
                    }
                }
            };
            results.push(result);
        }
        Some(results)
    }
}

/// How many ids a create draws from the table's default before giving up.
const CREATE_ATTEMPTS: u32 = 16;

/// Every id a create drew was taken.
#[derive(Debug, thiserror::Error)]
#[error("the table's next {0} ids were all taken; its sequence is behind the ids clients chose")]
struct IdsTaken(u32);

/// A database error shared by every change of a failed statement.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Shared(Arc<sqlx::Error>);

fn clone_error<S: StateMachine>(error: &StoreError<S>) -> StoreError<S> {
    match error {
        StoreError::Unstorable(reason) => StoreError::Unstorable(reason),
        other => StoreError::Backend(other.to_string().into()),
    }
}

impl<R: PgRecord, Id: PgKey> Create<R> for PgStore<R, Id> {
    async fn create(&self, value: R) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let json = serde_json::to_value(&value).map_err(backend)?;
        storable(&json)?;
        let sql: Arc<str> = self
            .shape
            .names
            .insert(&written(&json, &self.shape.columns), false)
            .into();
        // Each attempt draws the next id from the table's default; one a
        // client took with `insert` is passed over, a bounded number of times.
        for _ in 0..CREATE_ATTEMPTS {
            let query = sqlx::query(AssertSqlSafe(Arc::clone(&sql)))
                .bind(&json)
                .bind(value.state().name());
            if self.computed.is_empty() {
                if let Some(row) = query.fetch_optional(&self.pool).await? {
                    return self.read(&row);
                }
                continue;
            }
            // The deadline read from the resource is a second statement.
            let mut transaction = self.pool.begin().await?;
            if let Some(row) = query.fetch_optional(&mut *transaction).await? {
                let created = self.read(&row)?;
                self.computed_entered(&mut transaction, &created).await?;
                transaction.commit().await?;
                return Ok(created);
            }
        }
        Err(backend(IdsTaken(CREATE_ATTEMPTS)))
    }
}

impl<R: PgRecord, Id: PgKey> List<R> for PgStore<R, Id> {
    async fn list(
        &self,
        states: &[R::State],
        after: Option<&Id>,
        limit: usize,
    ) -> Result<Page<Id, R>, StoreError<R::State>> {
        let names: Vec<&str> = states.iter().map(|s| s.name()).collect();
        // One more than asked: whether there is a next page.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let sql = &self.shape.list[usize::from(after.is_some())][usize::from(names.len() == 1)];
        let query = sqlx::query(AssertSqlSafe(Arc::clone(sql)))
            .bind(&names)
            .bind(fetch);
        let query = match after {
            None => query,
            Some(after) => query.bind(after),
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

/// A [`PgStore`]'s view of a connection inside a transaction of yours: the
/// moves the engine makes through it ([`Engine::perform_in`]) commit or roll
/// back with the transaction.
pub struct PgTx<'c, R: Resource, Id> {
    store: PgStore<R, Id>,
    connection: Mutex<&'c mut PgConnection>,
}

impl<R: PgRecord, Id: PgKey> PgTx<'_, R, Id> {
    /// The resource, as this transaction sees it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], or the database's error.
    pub async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut connection = self.connection.lock().await;
        self.store.get_on(&mut connection, id).await
    }
}

impl<R: PgRecord, Id: PgKey> Access<R> for PgTx<'_, R, Id> {
    type Id = Id;

    async fn get(&self, id: &Id) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        PgTx::get(self, id).await
    }

    async fn apply(
        &self,
        id: &Id,
        change: Change<R>,
    ) -> Result<Versioned<Id, R>, StoreError<R::State>> {
        let mut connection = self.connection.lock().await;
        self.store.apply_on(&mut connection, id, change).await
    }
}

impl<R: PgRecord, Id: PgKey> Engine<R, PgStore<R, Id>> {
    /// Performs a move inside a transaction of yours, on `connection`: the
    /// move and its history entry commit or roll back with what else the
    /// transaction writes (a `payments` row beside `pay`). The statement's
    /// guarantees hold inside it. The move's hooks wait for
    /// [`Uncommitted::after_commit`], which you call once the transaction
    /// has committed; a transaction rolled back runs none.
    ///
    /// ```no_run
    /// # use conflict_runtime::moves::{Anonymous, Engine, MoveSpec};
    /// # use conflict_runtime::store::PgStore;
    /// # async fn pay<R: conflict_runtime::store::postgres::PgRecord>(engine: Engine<R, PgStore<R>>, spec: MoveSpec<R::State, i64>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut transaction = engine.store().pool().begin().await?;
    /// let paid = engine.perform_in(&mut transaction, &Anonymous, spec).await?;
    /// sqlx::query("INSERT INTO payments (order_id, amount) VALUES ($1, $2)")
    ///     .bind(paid.moved().resource().id())
    ///     .bind(42)
    ///     .execute(&mut *transaction)
    ///     .await?;
    /// transaction.commit().await?;
    /// let paid = paid.after_commit().await; // the hooks run now
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`MoveError`] for the first check that fails; the transaction is
    /// yours to roll back or go on with.
    pub async fn perform_in(
        &self,
        connection: &mut PgConnection,
        caller: &dyn Caller,
        spec: MoveSpec<R::State, Id>,
    ) -> Result<Uncommitted<Id, R>, MoveError<R::State>> {
        let pending = std::sync::Mutex::new(None);
        let view = self.store().on(connection);
        let moved = self
            .run(&view, caller, spec, Hooks::Later(&pending))
            .await?;
        let pending = pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Uncommitted::new(
            moved,
            self.rules(),
            pending,
            Some(self.store().commits().clone()),
        ))
    }
}

/// Every (from, to) pair a move allows, by wire name: what the statement
/// checks the row against.
fn pairs<S: StateMachine>(requested: Move<S>) -> (Vec<&'static str>, Vec<&'static str>) {
    let target_of = |state: S| match requested {
        Move::Action(action) => state.target(action),
        // a move to where the resource is stays a no-op
        Move::To(target) if target == state => None,
        Move::To(target) => state.can_transition_to(target).then_some(target),
    };
    // A row still stored under an old name of a state moves as that state.
    let names = S::STATES
        .iter()
        .map(|&state| (state.name(), state))
        .chain(S::ALIASES.iter().copied());
    names
        .filter_map(|(name, state)| target_of(state).map(|target| (name, target.name())))
        .unzip()
}

/// The database refused a move that the table allows from the state it
/// locked: the statement and the table disagree, a bug rather than a client
/// error.
#[derive(Debug, thiserror::Error)]
#[error("the database did not apply a move that state `{0}` allows")]
struct Inconsistent(&'static str);
