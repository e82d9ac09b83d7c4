//! The names a store holds, checked against the machine before a deploy:
//! states and actions the machine no longer declares, and old names it still
//! reads through an alias (which the SQL stores can rewrite in one
//! transaction).

use core::fmt;
use std::future::Future;

use super::{Resource, Store, StoreError};
use crate::machine::{Action, StateMachine};

/// Where a store keeps a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Place {
    /// The state of a resource.
    State,
    /// A state the history records (a move's `from` or `to`).
    HistoryState,
    /// An action the history records.
    HistoryAction,
    /// The action of a pending deadline.
    DeadlineAction,
}

impl Place {
    /// `state` or `action`.
    #[must_use]
    pub fn what(self) -> &'static str {
        match self {
            Place::State | Place::HistoryState => "state",
            Place::HistoryAction | Place::DeadlineAction => "action",
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::State => "resource state",
            Place::HistoryState => "history state",
            Place::HistoryAction => "history action",
            Place::DeadlineAction => "deadline action",
        })
    }
}

/// One stored name and how many rows hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredName {
    /// Where it is kept.
    pub place: Place,
    /// The name as stored.
    pub name: String,
    /// How many rows (for history states: how many `from` and `to` fields).
    pub count: u64,
    /// The name it is read as, for an old name the machine still reads;
    /// `None` for a name it does not know.
    pub read_as: Option<&'static str>,
}

/// What [`Verify::verify`] found for one kind of resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameReport {
    /// The kind the store keeps the resources under.
    pub kind: String,
    /// Names the machine does not declare, nor read as another: reading
    /// those rows answers a problem naming the stored value.
    pub unknown: Vec<StoredName>,
    /// Old names the machine reads through an alias or a removed state's
    /// mapping: they work, and the SQL stores' `migrate_names` rewrites
    /// them.
    pub renamed: Vec<StoredName>,
}

impl NameReport {
    /// Sorts what the store counted into unknown and old names for `S`.
    pub(crate) fn of<S: StateMachine>(kind: &str, counted: Vec<(Place, String, u64)>) -> Self {
        let mut report = NameReport {
            kind: kind.to_owned(),
            unknown: Vec::new(),
            renamed: Vec::new(),
        };
        for (place, name, count) in counted {
            let (current, read_as) = match place {
                Place::State | Place::HistoryState => (
                    S::NAMES.contains(&name.as_str()),
                    S::from_name(&name).map(StateMachine::name),
                ),
                Place::HistoryAction | Place::DeadlineAction => (
                    <S::Action as Action>::NAMES.contains(&name.as_str()),
                    <S::Action as Action>::from_name(&name).map(Action::name),
                ),
            };
            if current {
                continue;
            }
            let stored = StoredName {
                place,
                name,
                count,
                read_as,
            };
            if read_as.is_some() {
                report.renamed.push(stored);
            } else {
                report.unknown.push(stored);
            }
        }
        report
    }

    /// Whether every stored name is one the machine reads.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty()
    }
}

/// One line per finding, with its fix.
impl fmt::Display for NameReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = &self.kind;
        if self.unknown.is_empty() && self.renamed.is_empty() {
            return writeln!(f, "{kind}: every stored name is one the machine declares");
        }
        for stored in &self.unknown {
            let StoredName {
                place, name, count, ..
            } = stored;
            let fix = match place {
                Place::State | Place::HistoryState => format!(
                    "declare it again, read it as another state with #[state(alias = \"{name}\")] on that state or #[state_machine(removed({name} -> State))], or migrate the rows"
                ),
                Place::HistoryAction | Place::DeadlineAction => format!(
                    "declare it again, or read it as another action with #[state_machine(action_alias(action = \"{name}\"))]"
                ),
            };
            writeln!(
                f,
                "{kind}: the {place} \"{name}\" ({}), which the machine does not declare: {fix}",
                rows(*count)
            )?;
        }
        for stored in &self.renamed {
            let StoredName {
                place,
                name,
                count,
                read_as,
            } = stored;
            writeln!(
                f,
                "{kind}: the {place} \"{name}\" ({}), an old name read as \"{}\": the SQL stores' migrate_names rewrites it",
                rows(*count),
                read_as.unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// `1 row`, `2 rows`.
fn rows(count: u64) -> String {
    if count == 1 {
        "1 row".to_owned()
    } else {
        format!("{count} rows")
    }
}

/// A store that can list the names it holds, to check a machine's change
/// before a deploy (the example's `--verify`).
pub trait Verify<R: Resource>: Store<R> {
    /// Counts every distinct state and action the store holds for its kind
    /// (resources, history, deadlines) and sorts out those the machine does
    /// not declare.
    fn verify(&self) -> impl Future<Output = Result<NameReport, StoreError<R::State>>> + Send;
}

/// How the machine a SQL store was connected with differs from the one it
/// last served its kind with (recorded in `conflict_machines`): logged at
/// connect, and kept for [`PgStore::machine_change`] and
/// [`SqliteStore::machine_change`].
///
/// [`PgStore::machine_change`]: crate::store::PgStore::machine_change
/// [`SqliteStore::machine_change`]: crate::store::SqliteStore::machine_change
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineChange {
    /// The fingerprint last served.
    pub was: String,
    /// The running machine's ([`StateMachine::fingerprint`]).
    pub now: String,
    /// Facts of [`StateMachine::declaration`] the running machine adds.
    pub added: Vec<String>,
    /// Facts the machine last served had, and the running one has not.
    pub removed: Vec<String>,
    /// The kind this very machine was last served under, when it is new
    /// under its kind: the enum (or its `resource`) was renamed, and the
    /// history, events and deadlines kept under the old kind are not read
    /// until the kind is kept (`#[state_machine(resource = "...")]` or
    /// `Table::kind`).
    pub kind_was: Option<String>,
}

#[cfg(any(feature = "postgres", feature = "sqlite"))]
impl MachineChange {
    /// The change from the `served` record, `(fingerprint, declaration)`,
    /// to `S`, or, when none was served under this kind, from the kind
    /// `served_as` that served the same machine; `None` when nothing
    /// changed, or on the first start.
    pub(crate) fn since<S: StateMachine>(
        served: Option<(String, String)>,
        served_as: Option<String>,
    ) -> Option<Self> {
        let now = S::fingerprint();
        let Some((was, declaration)) = served else {
            let kind_was = served_as?;
            tracing::warn!(
                kind = S::RESOURCE,
                kind_was,
                "this machine was served under the kind `{kind_was}` and never under this one: its history, events and deadlines stay under `{kind_was}`; keep the kind with #[state_machine(resource = \"{kind_was}\")] or Table::kind"
            );
            return Some(MachineChange {
                was: now.clone(),
                now,
                added: Vec::new(),
                removed: Vec::new(),
                kind_was: Some(kind_was),
            });
        };
        if was == now {
            return None;
        }
        let before: Vec<&str> = declaration.lines().collect();
        let after = S::declaration();
        let change = MachineChange {
            added: after
                .iter()
                .filter(|line| !before.contains(&line.as_str()))
                .cloned()
                .collect(),
            removed: before
                .iter()
                .filter(|line| !after.iter().any(|kept| kept == *line))
                .map(|line| (*line).to_owned())
                .collect(),
            was,
            now,
            kind_was: None,
        };
        tracing::warn!(
            kind = S::RESOURCE,
            was = change.was,
            now = change.now,
            added = ?change.added,
            removed = ?change.removed,
            "the machine changed since this kind was last served; `verify` lists stored names it does not declare"
        );
        Some(change)
    }
}

/// The SQL stores' statements over names, with their parameters spelled
/// `$1` (Postgres) or `?1` (SQLite).
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) mod sql {
    use super::Place;
    use crate::machine::{Action, StateMachine};

    /// Counts the names of kind `{p1}` in `table` (its state column
    /// `state`), the history and the deadlines: rows of (place, name, n).
    pub(crate) fn count(table: &str, state: &str, p1: &str) -> String {
        format!(
            "SELECT 'state' AS place, CAST({state} AS TEXT) AS name, count(*) AS n
               FROM {table} GROUP BY CAST({state} AS TEXT)
             UNION ALL
             SELECT 'history_state', name, count(*) FROM (
                 SELECT from_state AS name FROM conflict_history WHERE kind = {p1}
                 UNION ALL
                 SELECT to_state FROM conflict_history WHERE kind = {p1}
             ) h GROUP BY name
             UNION ALL
             SELECT 'history_action', action, count(*) FROM conflict_history
              WHERE kind = {p1} AND action IS NOT NULL GROUP BY action
             UNION ALL
             SELECT 'deadline_action', action, count(*) FROM conflict_deadlines
              WHERE kind = {p1} GROUP BY action"
        )
    }

    /// A row of [`count`]: (place, name, n).
    pub(crate) fn counted<'r, R>(row: &'r R) -> Result<Option<(Place, String, u64)>, sqlx::Error>
    where
        R: sqlx::Row,
        &'static str: sqlx::ColumnIndex<R>,
        String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let place: String = row.try_get("place")?;
        let place = match place.as_str() {
            "state" => Place::State,
            "history_state" => Place::HistoryState,
            "history_action" => Place::HistoryAction,
            "deadline_action" => Place::DeadlineAction,
            _ => return Ok(None),
        };
        let count: i64 = row.try_get("n")?;
        Ok(Some((
            place,
            row.try_get("name")?,
            u64::try_from(count).unwrap_or(0),
        )))
    }

    /// One rename: where, the old name, the current one, and the statement
    /// that rewrites it, given the kind as parameter 1, the old name as 2
    /// and the current one as 3 (`p(n)` spells parameter `n`); in the
    /// resources' table, which holds one kind, the old name as 1 and the
    /// current one as 2.
    pub(crate) struct Rename {
        pub(crate) place: Place,
        pub(crate) old: &'static str,
        pub(crate) current: &'static str,
        pub(crate) sql: String,
    }

    /// Every rewrite of an old name `S` reads: the resources' state column
    /// (of type `state_type`), both states of the history, its actions and
    /// the deadlines' actions.
    pub(crate) fn renames<S: StateMachine>(
        table: &str,
        state: &str,
        state_type: &str,
        p: impl Fn(u8) -> String,
    ) -> Vec<Rename> {
        let (p1, p2, p3) = (p(1), p(2), p(3));
        let mut renames = Vec::new();
        for &(old, to) in S::ALIASES {
            let current = to.name();
            let statements = [
                (
                    Place::State,
                    // The table holds one kind: no kind parameter.
                    format!(
                        "UPDATE {table} SET {state} = CAST({p2} AS {state_type})
                          WHERE CAST({state} AS TEXT) = {p1}"
                    ),
                ),
                (
                    Place::HistoryState,
                    format!(
                        "UPDATE conflict_history SET from_state = {p3} WHERE kind = {p1} AND from_state = {p2}"
                    ),
                ),
                (
                    Place::HistoryState,
                    format!(
                        "UPDATE conflict_history SET to_state = {p3} WHERE kind = {p1} AND to_state = {p2}"
                    ),
                ),
            ];
            renames.extend(statements.into_iter().map(|(place, sql)| Rename {
                place,
                old,
                current,
                sql,
            }));
        }
        for &(old, to) in <S::Action as Action>::ALIASES {
            let current = to.name();
            let statements = [
                (
                    Place::HistoryAction,
                    format!(
                        "UPDATE conflict_history SET action = {p3} WHERE kind = {p1} AND action = {p2}"
                    ),
                ),
                (
                    Place::DeadlineAction,
                    format!(
                        "UPDATE conflict_deadlines SET action = {p3} WHERE kind = {p1} AND action = {p2}"
                    ),
                ),
            ];
            renames.extend(statements.into_iter().map(|(place, sql)| Rename {
                place,
                old,
                current,
                sql,
            }));
        }
        renames
    }

    /// Reads the machine `{p1}` was last served with, `(fingerprint,
    /// declaration)`.
    pub(crate) fn served(p1: &str) -> String {
        format!("SELECT fingerprint, declaration FROM conflict_machines WHERE kind = {p1}")
    }

    /// Reads another kind the machine of fingerprint `{p2}` was served
    /// under, than `{p1}`.
    pub(crate) fn served_as(p1: &str, p2: &str) -> String {
        format!(
            "SELECT kind FROM conflict_machines WHERE fingerprint = {p2} AND kind <> {p1}
              ORDER BY kind LIMIT 1"
        )
    }

    /// Records the machine `{p1}` is served with now.
    pub(crate) fn serve(p1: &str, p2: &str, p3: &str) -> String {
        format!(
            "INSERT INTO conflict_machines (kind, fingerprint, declaration) VALUES ({p1}, {p2}, {p3})
             ON CONFLICT (kind) DO UPDATE
                SET fingerprint = excluded.fingerprint, declaration = excluded.declaration"
        )
    }

    /// The rewrites done, merged by place and old name.
    pub(crate) fn done(renamed: Vec<(&Rename, u64)>) -> Vec<super::StoredName> {
        let mut done: Vec<super::StoredName> = Vec::new();
        for (rename, count) in renamed {
            if count == 0 {
                continue;
            }
            match done
                .iter_mut()
                .find(|stored| stored.place == rename.place && stored.name == rename.old)
            {
                Some(stored) => stored.count += count,
                None => done.push(super::StoredName {
                    place: rename.place,
                    name: rename.old.to_owned(),
                    count,
                    read_as: Some(rename.current),
                }),
            }
        }
        done
    }
}
