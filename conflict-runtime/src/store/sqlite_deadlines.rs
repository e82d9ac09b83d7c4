//! `SqliteStore`'s deadlines: rows of `conflict_deadlines`, written in the
//! move's transaction (`SqliteStore::entered`). SQLite runs one writer at a
//! time, so a claim (one `UPDATE ... RETURNING`) is never shared.

use std::time::{Duration, SystemTime};

use sqlx::{AssertSqlSafe, Row};

use super::StoreError;
use super::sql::{at_micros, backend, micros_of, stored_action, version};
use super::sqlite::{SqliteKey, SqliteRecord, SqliteStore};
use crate::deadline::Deadline;
use crate::moves::{Deadlines, Due, DueSettled, Pending};

impl<R: SqliteRecord, Id: SqliteKey> Deadlines<R> for SqliteStore<R, Id> {
    fn schedule(&self) -> Vec<Deadline<R::State>> {
        self.deadlines()
    }

    fn reads_due_times(&self) -> bool {
        !self.computed().is_empty()
    }

    async fn pending(&self, id: &Id) -> Result<Option<Pending<R::State>>, StoreError<R::State>> {
        let (table, column) = self.table();
        let sql = format!(
            "SELECT d.action, d.due_micros, d.not_made
               FROM {table} r
               LEFT JOIN conflict_deadlines d ON d.kind = ?1 AND d.id = ?3
              WHERE r.{column} = ?2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(self.kind())
            .bind(id)
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(action) = row
            .try_get::<Option<String>, _>("action")
            .map_err(backend)?
        else {
            return Ok(None);
        };
        Ok(Some(Pending {
            action: stored_action::<R::State>(action)?,
            at: at_micros(row.try_get("due_micros").map_err(backend)?),
            not_made: row.try_get("not_made").map_err(backend)?,
        }))
    }

    async fn claim_due(
        &self,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Due<R::State, Id>>, StoreError<R::State>> {
        // The claim pushes `next_micros` to the end of the lease: a
        // scheduler that dies holding it leaves it to another then.
        let rows = sqlx::query(
            "UPDATE conflict_deadlines
                SET next_micros = ?3, attempts = attempts + 1
              WHERE kind = ?1 AND id IN (
                    SELECT id FROM conflict_deadlines
                     WHERE kind = ?1 AND next_micros <= ?2
                     ORDER BY next_micros LIMIT ?4)
             RETURNING resource, version, action, attempts, due_micros",
        )
        .bind(self.kind())
        .bind(micros_of(now))
        .bind(micros_of(now + lease))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                let action: String = row.try_get("action").map_err(backend)?;
                let attempts: i64 = row.try_get("attempts").map_err(backend)?;
                Ok(Due {
                    id: row.try_get("resource").map_err(backend)?,
                    version: version(row.try_get("version").map_err(backend)?),
                    action: stored_action::<R::State>(action)?,
                    at: at_micros(row.try_get("due_micros").map_err(backend)?),
                    attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect::<Result<Vec<_>, StoreError<R::State>>>()?;
        claimed.sort_by_key(|due| due.at);
        Ok(claimed)
    }

    async fn settle_due(
        &self,
        due: &Due<R::State, Id>,
        settled: DueSettled,
    ) -> Result<(), StoreError<R::State>> {
        // Only the deadline claimed: a move since may have set another.
        let (sql, later) = match settled {
            DueSettled::Done => (
                "DELETE FROM conflict_deadlines WHERE kind = ?1 AND id = ?2 AND version = ?3",
                None,
            ),
            DueSettled::Later { at, why } => (
                "UPDATE conflict_deadlines SET next_micros = ?4, not_made = ?5
                  WHERE kind = ?1 AND id = ?2 AND version = ?3",
                Some((micros_of(at), why)),
            ),
        };
        let query = sqlx::query(sql)
            .bind(self.kind())
            .bind(due.id.to_string())
            .bind(i64::try_from(due.version).unwrap_or(i64::MAX));
        let query = match later {
            Some((at, why)) => query.bind(at).bind(why),
            None => query,
        };
        query.execute(self.pool()).await?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, StoreError<R::State>> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT min(next_micros) FROM conflict_deadlines WHERE kind = ?1")
                .bind(self.kind())
                .fetch_one(self.pool())
                .await?;
        Ok(next.map(at_micros))
    }
}
