//! Idempotency keys in Postgres: a retry that lands on another instance
//! still replays the first answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgPool};

use super::idempotency::{
    AnswerKept, Begin, Fingerprint, IdempotencyStore, KeyStoreError, KeyedRequest, ScopedKey,
    StoredResponse, stored,
};

/// Keys in the `conflict_idempotency` table (created by `PgStore::migrate`).
#[derive(Clone)]
pub struct PgKeys {
    pool: PgPool,
    ttl: Duration,
    lease: Duration,
    claims: Arc<AtomicU64>,
}

/// How often a claim also deletes expired keys, so the table stays bounded.
const PURGE_EVERY: u64 = 1000;

impl PgKeys {
    /// Keys kept 24 hours; a request holds its key at most 60 seconds.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        PgKeys {
            pool,
            ttl: Duration::from_hours(24),
            lease: Duration::from_mins(1),
            claims: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How long keys are kept.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unanswered request holds its key.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Keeps `answer` as the answer to `keyed` inside the transaction on
    /// `connection`, the move's own: the answer commits with the move, or
    /// neither does, and no crash can leave a committed move without its
    /// answer. Answers the response to send on; the layer does not keep it
    /// again.
    ///
    /// A replay of it does not carry what is known only after the commit
    /// (`Conflict-Hook-Failed`).
    ///
    /// # Errors
    /// The answer's body could not be read, or the database's error: the
    /// transaction should then be rolled back.
    pub async fn keep_in(
        connection: &mut PgConnection,
        keyed: &KeyedRequest,
        answer: Response,
    ) -> Result<Response, KeyStoreError> {
        let (kept, mut answer) = stored(answer).await?;
        complete(connection, &keyed.key, keyed.fingerprint, &kept).await?;
        answer.extensions_mut().insert(AnswerKept);
        Ok(answer)
    }

    /// Deletes expired keys.
    ///
    /// # Errors
    /// The database's error.
    pub async fn purge_expired(&self) -> Result<u64, sqlx::Error> {
        let result =
            sqlx::query("DELETE FROM conflict_idempotency WHERE claimed_at < now() - $1::interval")
                .bind(self.ttl)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected())
    }

    async fn claim(&self, key: &ScopedKey, fingerprint: Fingerprint) -> Result<Begin, sqlx::Error> {
        if self.claims.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge_expired().await?;
        }
        // Claim the key, or take over one that expired or was abandoned.
        let claimed = sqlx::query(
            "INSERT INTO conflict_idempotency (scope, key, fingerprint, claimed_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (scope, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, claimed_at = now(),
                    status = NULL, headers = NULL, body = NULL
              WHERE conflict_idempotency.claimed_at < now() - $4::interval
                 OR (conflict_idempotency.status IS NULL
                     AND conflict_idempotency.claimed_at < now() - $5::interval)
             RETURNING 1",
        )
        .bind(&key.scope)
        .bind(&key.key)
        .bind(&fingerprint.0[..])
        .bind(self.ttl)
        .bind(self.lease)
        .fetch_optional(&self.pool)
        .await?;
        if claimed.is_some() {
            return Ok(Begin::Proceed);
        }
        let Some(row) = sqlx::query(
            "SELECT fingerprint, status, headers, body FROM conflict_idempotency WHERE scope = $1 AND key = $2",
        )
        .bind(&key.scope)
        .bind(&key.key)
        .fetch_optional(&self.pool)
        .await?
        else {
            // Purged between the two statements: the key is free again.
            return Box::pin(self.claim(key, fingerprint)).await;
        };
        let stored: Vec<u8> = row.try_get("fingerprint")?;
        if stored != fingerprint.0 {
            return Ok(Begin::Mismatch);
        }
        let Some(status) = row.try_get::<Option<i16>, _>("status")? else {
            return Ok(Begin::InFlight);
        };
        let headers: Option<serde_json::Value> = row.try_get("headers")?;
        let body: Option<Vec<u8>> = row.try_get("body")?;
        Ok(Begin::Replay(StoredResponse {
            status: u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            headers: headers.as_ref().map(headers_from_json).unwrap_or_default(),
            body: body.unwrap_or_default().into(),
        }))
    }
}

fn headers_to_json(headers: &HeaderMap) -> serde_json::Value {
    headers
        .iter()
        .filter_map(|(name, value)| Some(serde_json::json!([name.as_str(), value.to_str().ok()?])))
        .collect()
}

fn headers_from_json(json: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for pair in json.as_array().into_iter().flatten() {
        let (Some(name), Some(value)) = (
            pair.get(0).and_then(|v| v.as_str()),
            pair.get(1).and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    headers
}

/// Records the answer of the request that holds `key`.
async fn complete(
    connection: &mut PgConnection,
    key: &ScopedKey,
    fingerprint: Fingerprint,
    response: &StoredResponse,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conflict_idempotency SET status = $4, headers = $5, body = $6
          WHERE scope = $1 AND key = $2 AND fingerprint = $3",
    )
    .bind(&key.scope)
    .bind(&key.key)
    .bind(&fingerprint.0[..])
    .bind(i16::try_from(response.status.as_u16()).unwrap_or(200))
    .bind(headers_to_json(&response.headers))
    .bind(&response.body[..])
    .execute(connection)
    .await
    .map(drop)
}

impl IdempotencyStore for PgKeys {
    async fn begin(&self, key: &ScopedKey, fingerprint: Fingerprint) -> Begin {
        self.claim(key, fingerprint).await.unwrap_or_else(|error| {
            tracing::error!(%error, "idempotency key store failed");
            Begin::Unavailable
        })
    }

    async fn complete(
        &self,
        key: &ScopedKey,
        fingerprint: Fingerprint,
        response: StoredResponse,
    ) -> Result<(), KeyStoreError> {
        let mut connection = self.pool.acquire().await?;
        complete(&mut connection, key, fingerprint, &response).await?;
        Ok(())
    }

    async fn release(&self, key: &ScopedKey) -> Result<(), KeyStoreError> {
        sqlx::query(
            "DELETE FROM conflict_idempotency WHERE scope = $1 AND key = $2 AND status IS NULL",
        )
        .bind(&key.scope)
        .bind(&key.key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
