//! `SqliteStore`'s outbox: the history is the outbox, a row's `position`
//! (its autoincremented key) its place: SQLite commits one write at a time,
//! so positions grow in commit order; handlers keep a cursor and their deliveries in tables of the
//! crate's own.

use std::time::{Duration, SystemTime};

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::sql::backend;
use super::sqlite::{SqliteKey, SqliteRecord, SqliteStore, history_entry};
use super::{Entry, StoreError};
use crate::moves::{Dead, Delivery, Event, Outbox, Settled, Wake, Wakeups};

const EVENTS: &str = "
    SELECT position, id AS event_id, version, from_state, to_state, action,
           at_micros, actor, reason, metadata
      FROM conflict_history
     WHERE kind = ?1 AND position > max(?2, coalesce((SELECT kept_after FROM conflict_outbox_trims WHERE kind = ?1), 0))
     ORDER BY position
     LIMIT ?3";

const EVENTS_OF: &str = "
    SELECT position, id AS event_id, version, from_state, to_state, action,
           at_micros, actor, reason, metadata
      FROM conflict_history
     WHERE kind = ?1 AND id = ?4 AND position > max(?2, coalesce((SELECT kept_after FROM conflict_outbox_trims WHERE kind = ?1), 0))
     ORDER BY position
     LIMIT ?3";

const EVENTS_AT: &str = "
    SELECT position, id AS event_id, version, from_state, to_state, action,
           at_micros, actor, reason, metadata
      FROM conflict_history
     WHERE kind = ?1 AND position IN (SELECT value FROM json_each(?2))";

fn micros(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

fn db(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

fn event<S: crate::machine::StateMachine>(
    kind: &str,
    row: &SqliteRow,
) -> Result<Option<Event<S>>, StoreError<S>> {
    let Some(entry) = history_entry(row)? else {
        return Ok(None);
    };
    let position: i64 = row.try_get("position").map_err(backend)?;
    Ok(Some(Event {
        position: u64::try_from(position).unwrap_or(0),
        kind: kind.to_owned(),
        id: row.try_get("event_id").map_err(backend)?,
        entry,
    }))
}

impl<R: SqliteRecord, Id: SqliteKey> SqliteStore<R, Id> {
    async fn events_at(
        &self,
        positions: &[i64],
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        let positions = serde_json::to_string(positions).map_err(backend)?;
        let rows = sqlx::query(EVENTS_AT)
            .bind(self.kind())
            .bind(positions)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .filter_map(|row| event(self.kind(), row).transpose())
            .collect()
    }
}

impl<R: SqliteRecord, Id: SqliteKey> Outbox<R> for SqliteStore<R, Id> {
    async fn events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(EVENTS)
            .bind(self.kind())
            .bind(db(after))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .filter_map(|row| event(self.kind(), row).transpose())
            .collect()
    }

    async fn events_of(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(EVENTS_OF)
            .bind(self.kind())
            .bind(db(after))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .filter_map(|row| event(self.kind(), row).transpose())
            .collect()
    }

    async fn latest(&self) -> Result<u64, StoreError<R::State>> {
        let latest: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM conflict_history")
            .fetch_one(self.pool())
            .await?;
        Ok(latest.map_or(0, |latest| u64::try_from(latest).unwrap_or(0)))
    }

    async fn kept_after(&self) -> Result<u64, StoreError<R::State>> {
        let kept: Option<i64> =
            sqlx::query_scalar("SELECT kept_after FROM conflict_outbox_trims WHERE kind = ?1")
                .bind(self.kind())
                .fetch_optional(self.pool())
                .await?;
        Ok(kept.map_or(0, |kept| u64::try_from(kept).unwrap_or(0)))
    }

    async fn trim(&self, age: Duration) -> Result<u64, StoreError<R::State>> {
        // The events stay in the history: trimming moves the point after
        // which readers may resume, over the oldest events up to the first
        // younger than `age`. Deliveries keep theirs.
        let before = SystemTime::now().checked_sub(age).map_or(0, micros);
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let old = sqlx::query(
            "WITH kept AS (
                 SELECT coalesce(max(kept_after), 0) AS after
                   FROM conflict_outbox_trims WHERE kind = ?1
             ),
             young AS (
                 SELECT min(h.position) AS first FROM conflict_history h, kept
                  WHERE h.kind = ?1 AND h.position > kept.after AND h.at_micros >= ?2
             )
             SELECT count(*) AS trimmed, max(h.position) AS last
               FROM conflict_history h, kept, young
              WHERE h.kind = ?1 AND h.position > kept.after
                AND (young.first IS NULL OR h.position < young.first)",
        )
        .bind(self.kind())
        .bind(before)
        .fetch_one(&mut *transaction)
        .await?;
        let trimmed: i64 = old.try_get("trimmed").map_err(backend)?;
        if let Some(last) = old.try_get::<Option<i64>, _>("last").map_err(backend)? {
            sqlx::query(
                "INSERT INTO conflict_outbox_trims (kind, kept_after) VALUES (?1, ?2)
                 ON CONFLICT (kind) DO UPDATE SET kept_after = max(kept_after, excluded.kept_after)",
            )
            .bind(self.kind())
            .bind(last)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(u64::try_from(trimmed).unwrap_or(0))
    }

    async fn follow(
        &self,
        handler: &str,
        wanted: &(dyn Fn(&Entry<R::State>) -> bool + Sync),
        limit: usize,
    ) -> Result<usize, StoreError<R::State>> {
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        // A handler new to the store starts at the latest event.
        sqlx::query(
            "INSERT INTO conflict_cursors (handler, kind, position)
             SELECT ?1, ?2, coalesce(max(position), 0) FROM conflict_history WHERE true
             ON CONFLICT (handler, kind) DO NOTHING",
        )
        .bind(handler)
        .bind(self.kind())
        .execute(&mut *transaction)
        .await?;
        let cursor: i64 = sqlx::query_scalar(
            "SELECT position FROM conflict_cursors WHERE handler = ?1 AND kind = ?2",
        )
        .bind(handler)
        .bind(self.kind())
        .fetch_one(&mut *transaction)
        .await?;
        let rows = sqlx::query(EVENTS)
            .bind(self.kind())
            .bind(cursor)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *transaction)
            .await?;
        let events: Vec<Event<R::State>> = rows
            .iter()
            .filter_map(|row| event(self.kind(), row).transpose())
            .collect::<Result<_, _>>()?;
        let now = micros(SystemTime::now());
        for event in events.iter().filter(|event| wanted(&event.entry)) {
            sqlx::query(
                "INSERT INTO conflict_deliveries (handler, kind, position, due_micros)
                 VALUES (?1, ?4, ?2, ?3) ON CONFLICT DO NOTHING",
            )
            .bind(handler)
            .bind(db(event.position))
            .bind(now)
            .bind(self.kind())
            .execute(&mut *transaction)
            .await?;
        }
        if let Some(last) = events.last() {
            sqlx::query(
                "UPDATE conflict_cursors SET position = ?3 WHERE handler = ?1 AND kind = ?2",
            )
            .bind(handler)
            .bind(self.kind())
            .bind(db(last.position))
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(events.len())
    }

    async fn claim(
        &self,
        handlers: &[&str],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Delivery<R::State>>, StoreError<R::State>> {
        let now = micros(SystemTime::now());
        let until = micros(SystemTime::now() + lease);
        let handlers = serde_json::to_string(handlers).map_err(backend)?;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "UPDATE conflict_deliveries SET attempts = attempts + 1, due_micros = ?4
              WHERE (handler, position) IN (
                    SELECT handler, position FROM conflict_deliveries
                     WHERE kind = ?5 AND handler IN (SELECT value FROM json_each(?1))
                       AND dead_micros IS NULL AND due_micros <= ?2
                     ORDER BY position LIMIT ?3)
          RETURNING handler, position, attempts",
        )
        .bind(handlers)
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(until)
        .bind(self.kind())
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let mut claimed: Vec<(String, i64, i64)> = rows
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>((
                    row.try_get("handler")?,
                    row.try_get("position")?,
                    row.try_get("attempts")?,
                ))
            })
            .collect::<Result<_, _>>()?;
        claimed.sort_by_key(|(_, position, _)| *position);
        let positions: Vec<i64> = claimed.iter().map(|(_, position, _)| *position).collect();
        let events = self.events_at(&positions).await?;
        Ok(claimed
            .into_iter()
            .filter_map(|(handler, position, attempt)| {
                let event = events
                    .iter()
                    .find(|event| db(event.position) == position)?
                    .clone();
                Some(Delivery {
                    handler,
                    event,
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                })
            })
            .collect())
    }

    async fn settle(
        &self,
        settled: Vec<(Delivery<R::State>, Settled)>,
    ) -> Result<(), StoreError<R::State>> {
        // One transaction: one commit for the whole pass.
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let now = micros(SystemTime::now());
        for (delivery, settled) in settled {
            let key = (delivery.handler.as_str(), db(delivery.event.position));
            let query = match settled {
                Settled::Done => sqlx::query(
                    "DELETE FROM conflict_deliveries WHERE handler = ?1 AND position = ?2",
                )
                .bind(key.0)
                .bind(key.1),
                Settled::Retry { at, error } => sqlx::query(
                    "UPDATE conflict_deliveries SET due_micros = ?3, error = ?4
                      WHERE handler = ?1 AND position = ?2",
                )
                .bind(key.0)
                .bind(key.1)
                .bind(micros(at))
                .bind(error),
                Settled::Dead { error } => sqlx::query(
                    "UPDATE conflict_deliveries SET dead_micros = ?3, error = ?4
                      WHERE handler = ?1 AND position = ?2",
                )
                .bind(key.0)
                .bind(key.1)
                .bind(now)
                .bind(error),
                Settled::Released => sqlx::query(
                    "UPDATE conflict_deliveries SET due_micros = ?3, attempts = max(attempts - 1, 0)
                      WHERE handler = ?1 AND position = ?2",
                )
                .bind(key.0)
                .bind(key.1)
                .bind(now),
            };
            query.execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn dead(
        &self,
        handler: Option<&str>,
    ) -> Result<Vec<Dead<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(
            "SELECT handler, position, attempts, error FROM conflict_deliveries
              WHERE kind = ?2 AND dead_micros IS NOT NULL AND (?1 IS NULL OR handler = ?1)
              ORDER BY position",
        )
        .bind(handler)
        .bind(self.kind())
        .fetch_all(self.pool())
        .await?;
        let positions: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get("position"))
            .collect::<Result<_, _>>()?;
        let events = self.events_at(&positions).await?;
        let mut dead = Vec::with_capacity(rows.len());
        for row in &rows {
            let position: i64 = row.try_get("position")?;
            let Some(event) = events.iter().find(|event| db(event.position) == position) else {
                continue;
            };
            let attempts: i64 = row.try_get("attempts")?;
            dead.push(Dead {
                handler: row.try_get("handler")?,
                event: event.clone(),
                attempts: u32::try_from(attempts).unwrap_or(0),
                error: row
                    .try_get::<Option<String>, _>("error")?
                    .unwrap_or_default(),
            });
        }
        Ok(dead)
    }

    async fn revive(&self, handler: &str, position: u64) -> Result<bool, StoreError<R::State>> {
        let revived = sqlx::query(
            "UPDATE conflict_deliveries SET dead_micros = NULL, attempts = 0, due_micros = ?3
              WHERE handler = ?1 AND position = ?2 AND dead_micros IS NOT NULL",
        )
        .bind(handler)
        .bind(db(position))
        .bind(micros(SystemTime::now()))
        .execute(self.pool())
        .await?;
        Ok(revived.rows_affected() == 1)
    }
}

impl<R: SqliteRecord, Id: SqliteKey> Wake for SqliteStore<R, Id> {
    async fn wakeups(&self) -> Wakeups {
        self.committed().wakeups()
    }
}
