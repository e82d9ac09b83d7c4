//! `PgStore`'s deadlines: rows of `conflict_deadlines`, written by the move
//! statement itself (see `Names::deadline_ctes`), claimed by schedulers with
//! `FOR UPDATE SKIP LOCKED` under a lease.

use std::time::{Duration, SystemTime};

use sqlx::{AssertSqlSafe, Row};

use super::StoreError;
use super::postgres::{PgKey, PgRecord, PgStore};
use super::sql::{at_micros, backend, micros_of, stored_action};
use crate::deadline::Deadline;
use crate::moves::{Deadlines, Due, DueSettled, Pending};

impl<R: PgRecord, Id: PgKey> Deadlines<R> for PgStore<R, Id> {
    fn schedule(&self) -> Vec<Deadline<R::State>> {
        self.deadlines()
    }

    fn reads_due_times(&self) -> bool {
        !self.computed().is_empty()
    }

    async fn pending(&self, id: &Id) -> Result<Option<Pending<R::State>>, StoreError<R::State>> {
        let names = self.names();
        let (table, column, kind) = (&names.table, &names.id, &names.kind);
        let sql = format!(
            "SELECT d.action, (extract(epoch FROM d.due_at) * 1000000)::bigint AS due_micros,
                    d.not_made
               FROM {table} t
               LEFT JOIN conflict_deadlines d ON d.kind = {kind} AND d.id = t.{column}::text
              WHERE t.{column} = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        let Some(action) = row
            .try_get::<Option<String>, _>("action")
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let due: i64 = row.try_get("due_micros").map_err(backend)?;
        Ok(Some(Pending {
            action: stored_action::<R::State>(action)?,
            at: at_micros(due),
            not_made: row.try_get("not_made").map_err(backend)?,
        }))
    }

    async fn claim_due(
        &self,
        now: SystemTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Due<R::State, Id>>, StoreError<R::State>> {
        let names = self.names();
        let (table, column, id_type, kind) = (&names.table, &names.id, &names.id_type, &names.kind);
        // The claim pushes `next_at` to the end of the lease: a scheduler
        // that dies holding it leaves it to another then.
        let sql = format!(
            "WITH ready AS (
                SELECT kind, id FROM conflict_deadlines
                 WHERE kind = {kind} AND next_at <= to_timestamp($1::bigint / 1000000.0)
                 ORDER BY next_at
                 LIMIT $2
                   FOR UPDATE SKIP LOCKED
             ), claimed AS (
                UPDATE conflict_deadlines d
                   SET next_at = to_timestamp(($1::bigint + $3::bigint) / 1000000.0),
                       attempts = d.attempts + 1
                  FROM ready
                 WHERE d.kind = ready.kind AND d.id = ready.id
             RETURNING d.id, d.version, d.action, d.attempts,
                       (extract(epoch FROM d.due_at) * 1000000)::bigint AS due_micros
             )
             SELECT t.{column} AS conflict_id, claimed.*
               FROM claimed JOIN {table} t ON t.{column} = CAST(claimed.id AS {id_type})
              ORDER BY due_micros"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(micros_of(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let action: String = row.try_get("action").map_err(backend)?;
                let attempts: i32 = row.try_get("attempts").map_err(backend)?;
                Ok(Due {
                    id: row.try_get("conflict_id").map_err(backend)?,
                    version: super::sql::version(row.try_get("version").map_err(backend)?),
                    action: stored_action::<R::State>(action)?,
                    at: at_micros(row.try_get("due_micros").map_err(backend)?),
                    attempt: u32::try_from(attempts).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn settle_due(
        &self,
        due: &Due<R::State, Id>,
        settled: DueSettled,
    ) -> Result<(), StoreError<R::State>> {
        let names = self.names();
        let (table, column, kind) = (&names.table, &names.id, &names.kind);
        // Only the deadline claimed: a move since may have set another.
        let (change, later) = match settled {
            DueSettled::Done => ("DELETE FROM conflict_deadlines d USING", None),
            DueSettled::Later { at, why } => (
                "UPDATE conflict_deadlines d
                    SET next_at = to_timestamp($3::bigint / 1000000.0), not_made = $4
                   FROM",
                Some((micros_of(at), why)),
            ),
        };
        let sql = format!(
            "{change} {table} t
              WHERE t.{column} = $1 AND d.kind = {kind} AND d.id = t.{column}::text
                AND d.version = $2"
        );
        let query = sqlx::query(AssertSqlSafe(sql))
            .bind(&due.id)
            .bind(i64::try_from(due.version).unwrap_or(i64::MAX));
        let query = match later {
            Some((at, why)) => query.bind(at).bind(why),
            None => query,
        };
        query.execute(self.pool()).await?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<SystemTime>, StoreError<R::State>> {
        let kind = &self.names().kind;
        let sql = format!(
            "SELECT (extract(epoch FROM min(next_at)) * 1000000)::bigint AS next_micros
               FROM conflict_deadlines WHERE kind = {kind}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(self.pool())
            .await?;
        let next: Option<i64> = row.try_get("next_micros").map_err(backend)?;
        Ok(next.map(at_micros))
    }
}
