//! Where the `orders` service keeps its orders: in memory (no setup), in
//! SQLite (`sqlite://orders.db`, kept across restarts) or in Postgres
//! (shared by every instance), each in an `orders` table of typed columns
//! beside a `payments` table that `pay` writes in the move's transaction.

use std::collections::HashMap;
use std::future::Future;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use conflict_runtime::http::{HOOK_FAILED, KeyedRequest, PgKeys};
use conflict_runtime::moves::{
    Caller, Deadlines, Engine, Event, HookError, MoveError, MoveSpec, Moved, Outbox, Wake,
};
use conflict_runtime::store::{
    Create, List, MemoryStore, PgPool, PgStore, SqlitePool, SqliteStore, Store, StoreError,
    StoredName, Table, Verify,
};
use sqlx::AssertSqlSafe;

use crate::orders::{Order, OrderStatus, Payment, PaymentMethod};

/// A store of orders: moves, creates, lists, `pay` with its payment, the
/// outbox, and the customer's notifications.
pub trait Orders:
    Store<Order, Id = i64>
    + Create<Order>
    + List<Order>
    + Outbox<Order>
    + Deadlines<Order>
    + Verify<Order>
    + Wake
{
    /// Performs a move and answers it (the order, its payment, its `ETag`).
    /// Where the store has transactions, `pay` records its payment in the
    /// move's transaction, and a keyed request's answer is kept there too
    /// where the keys are in the same database (Postgres).
    fn perform(
        engine: &Engine<Order, Self>,
        caller: &dyn Caller,
        spec: MoveSpec<OrderStatus, i64>,
        keyed: Option<KeyedRequest>,
    ) -> impl Future<Output = Result<Response, MoveError<OrderStatus>>> + Send;

    /// The payments kept apart from the orders (in their own table), of
    /// the orders among `ids` that were paid. In memory the payment is kept
    /// on the order itself, and this is empty.
    fn payments(
        &self,
        ids: &[i64],
    ) -> impl Future<Output = Result<HashMap<i64, Payment>, StoreError<OrderStatus>>> + Send;

    /// Tells the customer their order shipped: once per event, however
    /// often it is delivered (the event's key says which).
    fn notify(
        &self,
        shipped: &Event<OrderStatus>,
    ) -> impl Future<Output = Result<(), HookError>> + Send;

    /// Rewrites the old names the machine reads to current ones (or, with
    /// `dry_run`, counts them); the SQL stores' `migrate_names`. Memory
    /// keeps none.
    fn migrate_names(
        &self,
        dry_run: bool,
    ) -> impl Future<Output = Result<Vec<StoredName>, StoreError<OrderStatus>>> + Send;
}

/// What the customer is told when `shipped` is delivered.
fn shipped_message(shipped: &Event<OrderStatus>) -> String {
    let tracking = shipped
        .entry
        .note
        .metadata
        .as_ref()
        .and_then(|input| input.get("tracking_number")?.as_str());
    match tracking {
        Some(tracking) => format!("order {} shipped, tracking number {tracking}", shipped.id),
        None => format!("order {} shipped", shipped.id),
    }
}

/// In memory the payment is kept on the order, by `pay`'s input, and the
/// answers of keyed requests by the layer.
impl Orders for MemoryStore<Order, i64> {
    async fn perform(
        engine: &Engine<Order, Self>,
        caller: &dyn Caller,
        spec: MoveSpec<OrderStatus, i64>,
        _: Option<KeyedRequest>,
    ) -> Result<Response, MoveError<OrderStatus>> {
        Ok(engine.perform(caller, spec).await?.into_response())
    }

    async fn payments(&self, _: &[i64]) -> Result<HashMap<i64, Payment>, StoreError<OrderStatus>> {
        Ok(HashMap::new())
    }

    /// In memory, the notification is a log line.
    async fn notify(&self, shipped: &Event<OrderStatus>) -> Result<(), HookError> {
        tracing::info!(key = %shipped.key(), "{}", shipped_message(shipped));
        Ok(())
    }

    async fn migrate_names(&self, _: bool) -> Result<Vec<StoredName>, StoreError<OrderStatus>> {
        Ok(Vec::new())
    }
}

fn backend(error: sqlx::Error) -> MoveError<OrderStatus> {
    MoveError::Backend(Box::new(error))
}

/// Whether `moved` committed a payment: only `pay` enters `paid`.
fn entered_paid(moved: &Moved<i64, Order>) -> bool {
    moved.is_committed() && moved.resource().value().status == OrderStatus::Paid
}

/// The answer to a move, the order completed with its payment row: 200,
/// the order, its `ETag`.
fn answer(moved: &Moved<i64, Order>, mut payments: HashMap<i64, Payment>) -> Response {
    let id = *moved.resource().id();
    moved
        .resource()
        .clone()
        .map(|mut order| {
            order.payment = payments.remove(&id);
            order
        })
        .into_response()
}

/// `answer`, naming the after-commit hooks of `moved` that failed, known
/// only once it committed.
fn with_failed_hooks(mut answer: Response, moved: &Moved<i64, Order>) -> Response {
    let failed = moved.failed_hooks().join(", ");
    if let Ok(names) = HeaderValue::from_str(&failed)
        && !failed.is_empty()
    {
        answer.headers_mut().insert(HOOK_FAILED, names);
    }
    answer
}

/// The method `pay`'s input asked for, as the history recorded it.
fn method_of(moved: &Moved<i64, Order>) -> PaymentMethod {
    moved
        .note()
        .and_then(|note| note.metadata.as_ref()?.get("method")?.as_str())
        .and_then(PaymentMethod::from_name)
        .unwrap_or_default()
}

/// Payment rows by order.
fn payments<Row>(rows: &[Row]) -> Result<HashMap<i64, Payment>, StoreError<OrderStatus>>
where
    Row: sqlx::Row,
    for<'r> i64: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    for<'r> String: sqlx::Decode<'r, Row::Database> + sqlx::Type<Row::Database>,
    &'static str: sqlx::ColumnIndex<Row>,
{
    let mut payments = HashMap::with_capacity(rows.len());
    for row in rows {
        let method: String = row.try_get("method")?;
        if let Some(method) = PaymentMethod::from_name(&method) {
            let paid_at: String = row.try_get("paid_at")?;
            payments.insert(row.try_get("order_id")?, Payment { method, paid_at });
        }
    }
    Ok(payments)
}

impl Orders for PgStore<Order, i64> {
    async fn perform(
        engine: &Engine<Order, Self>,
        caller: &dyn Caller,
        spec: MoveSpec<OrderStatus, i64>,
        keyed: Option<KeyedRequest>,
    ) -> Result<Response, MoveError<OrderStatus>> {
        let mut transaction = engine.store().pool().begin().await.map_err(backend)?;
        let moved = engine.perform_in(&mut transaction, caller, spec).await?;
        let id = *moved.moved().resource().id();
        if entered_paid(moved.moved()) {
            sqlx::query("INSERT INTO payments (order_id, method) VALUES ($1, $2)")
                .bind(id)
                .bind(method_of(moved.moved()).name())
                .execute(&mut *transaction)
                .await
                .map_err(backend)?;
        }
        let rows = sqlx::query(
            "SELECT order_id, method,
                    to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS paid_at
               FROM payments WHERE order_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *transaction)
        .await
        .map_err(backend)?;
        let mut answer = answer(moved.moved(), payments(&rows)?);
        if let Some(keyed) = keyed.filter(|_| moved.moved().is_committed()) {
            answer = PgKeys::keep_in(&mut transaction, &keyed, answer)
                .await
                .map_err(MoveError::Backend)?;
        }
        transaction.commit().await.map_err(backend)?;
        Ok(with_failed_hooks(answer, &moved.after_commit().await))
    }

    async fn payments(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Payment>, StoreError<OrderStatus>> {
        let rows = sqlx::query(
            "SELECT order_id, method,
                    to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS paid_at
               FROM payments WHERE order_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(self.pool())
        .await?;
        payments(&rows)
    }

    async fn notify(&self, shipped: &Event<OrderStatus>) -> Result<(), HookError> {
        let order: i64 = shipped.id.parse()?;
        sqlx::query(
            "INSERT INTO notifications (event_key, order_id, message) VALUES ($1, $2, $3)
             ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(shipped.key())
        .bind(order)
        .bind(shipped_message(shipped))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn migrate_names(
        &self,
        dry_run: bool,
    ) -> Result<Vec<StoredName>, StoreError<OrderStatus>> {
        Self::migrate_names(self, dry_run).await
    }
}

/// Keys are in memory beside SQLite (one process): the layer keeps the
/// answers.
impl Orders for SqliteStore<Order, i64> {
    async fn perform(
        engine: &Engine<Order, Self>,
        caller: &dyn Caller,
        spec: MoveSpec<OrderStatus, i64>,
        _: Option<KeyedRequest>,
    ) -> Result<Response, MoveError<OrderStatus>> {
        let mut transaction = engine
            .store()
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let moved = engine.perform_in(&mut transaction, caller, spec).await?;
        let id = *moved.moved().resource().id();
        if entered_paid(moved.moved()) {
            sqlx::query("INSERT INTO payments (order_id, method) VALUES (?1, ?2)")
                .bind(id)
                .bind(method_of(moved.moved()).name())
                .execute(&mut *transaction)
                .await
                .map_err(backend)?;
        }
        let rows =
            sqlx::query("SELECT order_id, method, paid_at FROM payments WHERE order_id = ?1")
                .bind(id)
                .fetch_all(&mut *transaction)
                .await
                .map_err(backend)?;
        let answer = answer(moved.moved(), payments(&rows)?);
        transaction.commit().await.map_err(backend)?;
        Ok(with_failed_hooks(answer, &moved.after_commit().await))
    }

    async fn payments(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Payment>, StoreError<OrderStatus>> {
        let ids =
            serde_json::to_string(ids).map_err(|error| StoreError::Backend(Box::new(error)))?;
        let rows = sqlx::query(
            "SELECT order_id, method, paid_at FROM payments
              WHERE order_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(ids)
        .fetch_all(self.pool())
        .await?;
        payments(&rows)
    }

    async fn notify(&self, shipped: &Event<OrderStatus>) -> Result<(), HookError> {
        let order: i64 = shipped.id.parse()?;
        sqlx::query(
            "INSERT INTO notifications (event_key, order_id, message) VALUES (?1, ?2, ?3)
             ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(shipped.key())
        .bind(order)
        .bind(shipped_message(shipped))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn migrate_names(
        &self,
        dry_run: bool,
    ) -> Result<Vec<StoredName>, StoreError<OrderStatus>> {
        Self::migrate_names(self, dry_run).await
    }
}

/// The example's tables, and the crate's, in Postgres.
///
/// # Errors
/// The database's error.
pub async fn migrate_postgres(pool: &PgPool) -> Result<(), sqlx::Error> {
    conflict_runtime::store::postgres::migrator()
        .run(pool)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(include_str!(
        "../migrations/postgres/0001_orders.sql"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

/// The example's tables, and the crate's, in SQLite.
///
/// # Errors
/// The database's error.
pub async fn migrate_sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    conflict_runtime::store::sqlite::migrator()
        .run(pool)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(include_str!(
        "../migrations/sqlite/0001_orders.sql"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

/// The orders table, as the stores see it.
#[must_use]
pub fn orders_table() -> Table {
    Table::new("orders")
}
