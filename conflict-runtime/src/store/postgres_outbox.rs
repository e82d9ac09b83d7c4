//! `PgStore`'s outbox: the history is the outbox. A row gets its place in
//! the global order (`position`) once the transaction that wrote it is over,
//! so that no row can later appear before one a reader has seen; handlers
//! keep a cursor and their deliveries in tables of the crate's own, shared by
//! every instance (`FOR UPDATE SKIP LOCKED`), woken in process and, across
//! instances, by `LISTEN`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnection, PgListener, PgPool, PgRow};
use sqlx::{Acquire, ConnectOptions, Row};
use tokio::sync::watch;

use super::Entry;
use super::StoreError;
use super::postgres::{PgKey, PgRecord, PgStore, history_entry};
use super::sql::backend;
use crate::moves::{Commits, Dead, Delivery, Event, Outbox, Settled, Waiter, Wake, Wakeups};

/// The channel every move notifies as it commits.
pub(crate) const CHANNEL: &str = "conflict_outbox";

/// Gives a place in the global order to every history row whose transaction
/// is over: its id is below the oldest transaction still running, so no row
/// can appear later before it. Run by one placer at a time (the caller holds
/// an advisory lock), in a statement whose snapshot follows the lock.
const PLACE: &str = "
    WITH top AS (SELECT coalesce(max(position), 0) AS top FROM conflict_history),
    ready AS (
        SELECT kind, id, version,
               row_number() OVER (ORDER BY xid, at, kind, id, version) AS n
          FROM conflict_history
         WHERE position IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
    )
    UPDATE conflict_history h SET position = top.top + ready.n
      FROM ready, top
     WHERE h.kind = ready.kind AND h.id = ready.id AND h.version = ready.version";

/// The lock a placer holds: one per schema (tests and tenants with a schema
/// each place apart), within the crate's class of advisory locks.
const PLACER: i32 = 0x00C0_FF1C;

/// Places what can be placed, unless another placer is at it.
async fn place(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let waiting: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM conflict_history WHERE position IS NULL)")
            .fetch_one(pool)
            .await?;
    if !waiting {
        return Ok(());
    }
    let mut transaction = pool.begin().await?;
    let held: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))")
            .bind(PLACER)
            .fetch_one(&mut *transaction)
            .await?;
    if held {
        sqlx::query(PLACE).execute(&mut *transaction).await?;
    }
    transaction.commit().await
}

const EVENTS: &str = "
    SELECT h.position, h.id AS event_id, h.version, h.from_state, h.to_state, h.action,
           (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros,
           h.actor, h.reason, h.metadata
      FROM conflict_history h
     WHERE h.kind = $1 AND h.position > greatest($2, (SELECT coalesce(max(kept_after), 0) FROM conflict_outbox_trims WHERE kind = $1))
     ORDER BY h.position
     LIMIT $3";

const EVENTS_OF: &str = "
    SELECT h.position, h.id AS event_id, h.version, h.from_state, h.to_state, h.action,
           (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros,
           h.actor, h.reason, h.metadata
      FROM conflict_history h
     WHERE h.kind = $1 AND h.id = $4 AND h.position > greatest($2, (SELECT coalesce(max(kept_after), 0) FROM conflict_outbox_trims WHERE kind = $1))
     ORDER BY h.position
     LIMIT $3";

/// Settles a pass's deliveries in one statement: the done ones deleted,
/// the others rescheduled, parked dead or released (their attempt uncounted).
const SETTLE: &str = "
    WITH settled AS (
        SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[])
            AS s(handler, position, outcome, wait, error)
    ),
    done AS (
        DELETE FROM conflict_deliveries d USING settled s
         WHERE s.outcome = 'done' AND d.handler = s.handler AND d.position = s.position
    )
    UPDATE conflict_deliveries d
       SET due_at = CASE s.outcome
                        WHEN 'retry' THEN now() + s.wait * interval '1 microsecond'
                        WHEN 'released' THEN now()
                        ELSE d.due_at
                    END,
           dead_at = CASE WHEN s.outcome = 'dead' THEN now() ELSE d.dead_at END,
           attempts = CASE WHEN s.outcome = 'released' THEN greatest(d.attempts - 1, 0)
                           ELSE d.attempts END,
           error = coalesce(s.error, d.error)
      FROM settled s
     WHERE s.outcome <> 'done' AND d.handler = s.handler AND d.position = s.position";

/// How many events one trimming statement goes over.
const TRIM_BATCH: i64 = 10_000;

/// Moves a kind's resume point over its oldest events, up to the first one
/// younger than `$2` microseconds, at most `$3` of them; answers how many.
const TRIM: &str = "
    WITH kept AS (
        SELECT coalesce(max(kept_after), 0) AS after FROM conflict_outbox_trims WHERE kind = $1
    ),
    batch AS (
        SELECT h.position, h.at FROM conflict_history h, kept
         WHERE h.kind = $1 AND h.position > kept.after
         ORDER BY h.position
         LIMIT $3
    ),
    young AS (
        SELECT min(position) AS first FROM batch
         WHERE at >= now() - $2 * interval '1 microsecond'
    ),
    old AS (
        SELECT count(*) AS trimmed, max(position) AS last FROM batch, young
         WHERE young.first IS NULL OR batch.position < young.first
    ),
    kept_now AS (
        INSERT INTO conflict_outbox_trims (kind, kept_after)
        SELECT $1, old.last FROM old WHERE old.last IS NOT NULL
        ON CONFLICT (kind) DO UPDATE
           SET kept_after = greatest(conflict_outbox_trims.kept_after, EXCLUDED.kept_after)
    )
    SELECT trimmed FROM old";

const EVENTS_AT: &str = "
    SELECT h.position, h.id AS event_id, h.version, h.from_state, h.to_state, h.action,
           (extract(epoch FROM h.at) * 1000000)::bigint AS at_micros,
           h.actor, h.reason, h.metadata
      FROM conflict_history h
     WHERE h.kind = $1 AND h.position = ANY($2)";

fn event<S: crate::machine::StateMachine>(
    kind: &str,
    row: &PgRow,
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

/// A span as whole microseconds, Postgres's `interval` precision.
fn micros(span: Duration) -> i64 {
    i64::try_from(span.as_micros()).unwrap_or(i64::MAX)
}

fn db(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

impl<R: PgRecord, Id: PgKey> PgStore<R, Id> {
    /// Places what can be placed, then reads `sql`'s events.
    async fn placed_events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        place(self.pool()).await?;
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .filter_map(|row| event(self.kind(), row).transpose())
            .collect()
    }

    async fn events_at(
        &self,
        positions: &[i64],
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
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

impl<R: PgRecord, Id: PgKey> Outbox<R> for PgStore<R, Id> {
    async fn events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.placed_events(
            sqlx::query(EVENTS)
                .bind(self.kind())
                .bind(db(after))
                .bind(limit),
        )
        .await
    }

    async fn events_of(
        &self,
        id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event<R::State>>, StoreError<R::State>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.placed_events(
            sqlx::query(EVENTS_OF)
                .bind(self.kind())
                .bind(db(after))
                .bind(limit)
                .bind(id),
        )
        .await
    }

    async fn latest(&self) -> Result<u64, StoreError<R::State>> {
        place(self.pool()).await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM conflict_history")
            .fetch_one(self.pool())
            .await?;
        Ok(latest.map_or(0, |latest| u64::try_from(latest).unwrap_or(0)))
    }

    async fn kept_after(&self) -> Result<u64, StoreError<R::State>> {
        let kept: Option<i64> =
            sqlx::query_scalar("SELECT kept_after FROM conflict_outbox_trims WHERE kind = $1")
                .bind(self.kind())
                .fetch_optional(self.pool())
                .await?;
        Ok(kept.map_or(0, |kept| u64::try_from(kept).unwrap_or(0)))
    }

    async fn trim(&self, age: Duration) -> Result<u64, StoreError<R::State>> {
        // The events stay in the history: trimming moves the point after
        // which readers may resume, over the oldest events up to the first
        // younger than `age`, a batch at a time. Deliveries keep theirs.
        let mut trimmed = 0;
        loop {
            let batch = sqlx::query(TRIM)
                .bind(self.kind())
                .bind(micros(age))
                .bind(TRIM_BATCH)
                .fetch_one(self.pool())
                .await?;
            let count: i64 = batch.try_get("trimmed").map_err(backend)?;
            trimmed += u64::try_from(count).unwrap_or(0);
            if count < TRIM_BATCH {
                return Ok(trimmed);
            }
        }
    }

    async fn follow(
        &self,
        handler: &str,
        wanted: &(dyn Fn(&Entry<R::State>) -> bool + Sync),
        limit: usize,
    ) -> Result<usize, StoreError<R::State>> {
        place(self.pool()).await?;
        let mut connection = self.pool().acquire().await?;
        let mut transaction = connection.begin().await?;
        // A handler new to the store starts at the latest event.
        sqlx::query(
            "INSERT INTO conflict_cursors (handler, kind, position)
             SELECT $1, $2, coalesce(max(position), 0) FROM conflict_history
             ON CONFLICT (handler, kind) DO NOTHING",
        )
        .bind(handler)
        .bind(self.kind())
        .execute(&mut *transaction)
        .await?;
        // One follower of a handler at a time; the others leave it.
        let cursor: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM conflict_cursors WHERE handler = $1 AND kind = $2
               FOR UPDATE SKIP LOCKED",
        )
        .bind(handler)
        .bind(self.kind())
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(cursor) = cursor else {
            return Ok(0);
        };
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
        let wanted: Vec<i64> = events
            .iter()
            .filter(|event| wanted(&event.entry))
            .map(|event| db(event.position))
            .collect();
        sqlx::query(
            "INSERT INTO conflict_deliveries (handler, kind, position)
             SELECT $1, $2, unnest($3::bigint[]) ON CONFLICT DO NOTHING",
        )
        .bind(handler)
        .bind(self.kind())
        .bind(&wanted)
        .execute(&mut *transaction)
        .await?;
        if let Some(last) = events.last() {
            sqlx::query(
                "UPDATE conflict_cursors SET position = $3 WHERE handler = $1 AND kind = $2",
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
        let rows = sqlx::query(
            "UPDATE conflict_deliveries d
                SET attempts = d.attempts + 1, due_at = now() + $3 * interval '1 microsecond'
               FROM (SELECT handler, position FROM conflict_deliveries
                      WHERE kind = $4 AND handler = ANY($1) AND dead_at IS NULL AND due_at <= now()
                      ORDER BY position
                      LIMIT $2
                        FOR UPDATE SKIP LOCKED) due
              WHERE d.handler = due.handler AND d.position = due.position
          RETURNING d.handler, d.position, d.attempts",
        )
        .bind(handlers)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(micros(lease))
        .bind(self.kind())
        .fetch_all(self.pool())
        .await?;
        let mut claimed: Vec<(String, i64, i32)> = rows
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
        let mut handlers = Vec::with_capacity(settled.len());
        let mut positions = Vec::with_capacity(settled.len());
        let mut outcomes = Vec::with_capacity(settled.len());
        let mut waits = Vec::with_capacity(settled.len());
        let mut errors: Vec<Option<String>> = Vec::with_capacity(settled.len());
        for (delivery, settled) in settled {
            handlers.push(delivery.handler);
            positions.push(db(delivery.event.position));
            let (outcome, wait, error) = match settled {
                Settled::Done => ("done", 0, None),
                Settled::Retry { at, error } => (
                    "retry",
                    micros(at.duration_since(SystemTime::now()).unwrap_or_default()),
                    Some(error),
                ),
                Settled::Dead { error } => ("dead", 0, Some(error)),
                Settled::Released => ("released", 0, None),
            };
            outcomes.push(outcome);
            waits.push(wait);
            errors.push(error);
        }
        sqlx::query(SETTLE)
            .bind(&handlers)
            .bind(&positions)
            .bind(&outcomes)
            .bind(&waits)
            .bind(&errors)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn dead(
        &self,
        handler: Option<&str>,
    ) -> Result<Vec<Dead<R::State>>, StoreError<R::State>> {
        let rows = sqlx::query(
            "SELECT d.handler, d.position, d.attempts, d.error FROM conflict_deliveries d
              WHERE d.kind = $2 AND d.dead_at IS NOT NULL AND ($1::text IS NULL OR d.handler = $1)
              ORDER BY d.position",
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
            let attempts: i32 = row.try_get("attempts")?;
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
            "UPDATE conflict_deliveries SET dead_at = NULL, attempts = 0, due_at = now()
              WHERE handler = $1 AND position = $2 AND dead_at IS NOT NULL",
        )
        .bind(handler)
        .bind(db(position))
        .execute(self.pool())
        .await?;
        Ok(revived.rows_affected() == 1)
    }
}

/// The commits of a `PgStore`: this process's dispatchers and streams are
/// woken at once, other instances' by a `NOTIFY` sent apart from the moves.
///
/// Not from inside the move's statement: a transaction that notifies takes
/// a lock at its commit that serializes every such commit with its WAL
/// flush, which halved moves per second at 8 clients. One task per store
/// sends the `NOTIFY`s instead, one for however many commits came while it
/// sent the last, at most one per [`NOTIFY_EVERY`], on a connection of its
/// own: one from the pool would cost the pool's check before each (a
/// second round trip) and hand the moves a different connection each time.
pub(super) fn commits(pool: &PgPool) -> Commits {
    let notifier = Arc::new(Notifier {
        pool: pool.clone(),
        pending: AtomicBool::new(false),
        wake: Arc::new(tokio::sync::Notify::new()),
        started: OnceLock::new(),
    });
    Commits::telling(move || notifier.notify())
}

/// At most one `NOTIFY` per store this often: other instances hear of a
/// commit this much later at worst.
const NOTIFY_EVERY: Duration = Duration::from_millis(5);

struct Notifier {
    pool: PgPool,
    pending: AtomicBool,
    wake: Arc<tokio::sync::Notify>,
    started: OnceLock<()>,
}

impl Notifier {
    fn notify(self: &Arc<Self>) {
        if self.pending.swap(true, Ordering::AcqRel) {
            // One is on its way already, and says as much.
            return;
        }
        if self.started.set(()).is_ok()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (notifier, wake) = (Arc::downgrade(self), Arc::clone(&self.wake));
            runtime.spawn(async move {
                let mut connection: Option<PgConnection> = None;
                loop {
                    wake.notified().await;
                    let Some(notifier) = notifier.upgrade() else {
                        return;
                    };
                    while notifier.pending.swap(false, Ordering::AcqRel) {
                        if let Err(error) = notifier.send(&mut connection).await {
                            // The other instances find the events when they look again;
                            // the next commit connects anew.
                            connection = None;
                            tracing::warn!(%error, "could not NOTIFY other instances of a commit");
                        }
                        // The commits of the next few milliseconds share one NOTIFY.
                        tokio::time::sleep(NOTIFY_EVERY).await;
                    }
                }
            });
        }
        self.wake.notify_one();
    }

    /// One `NOTIFY`, on `connection`, connected first if it is not.
    async fn send(&self, connection: &mut Option<PgConnection>) -> Result<(), sqlx::Error> {
        let connected = match connection {
            Some(connected) => connected,
            None => connection.insert(self.pool.connect_options().connect().await?),
        };
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(connected)
            .await?;
        Ok(())
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        // The task wakes, finds the store gone, and closes its connection.
        self.wake.notify_one();
    }
}

/// Wakes on the commits of this process and, by `LISTEN`, of every other
/// instance; soon again while committed events still wait for their place.
struct Listening {
    listener: Option<PgListener>,
    local: watch::Receiver<u64>,
    pool: sqlx::PgPool,
}

impl Waiter for Listening {
    fn next(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let unplaced: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM conflict_history WHERE position IS NULL)",
            )
            .fetch_one(&self.pool)
            .await
            .unwrap_or(false);
            if unplaced {
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
            let listened = async {
                match &mut self.listener {
                    Some(listener) => {
                        if listener.recv().await.is_err() {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = listened => {}
                changed = self.local.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        })
    }
}

impl<R: PgRecord, Id: PgKey> Wake for PgStore<R, Id> {
    async fn wakeups(&self) -> Wakeups {
        let local = self.commits().receiver();
        let mut listener = PgListener::connect_with(self.pool()).await.ok();
        if let Some(connected) = &mut listener
            && connected.listen(CHANNEL).await.is_err()
        {
            listener = None;
        }
        Wakeups::new(Listening {
            listener,
            local,
            pool: self.pool().clone(),
        })
    }
}
