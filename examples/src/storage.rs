//! Where the `orders` service keeps its orders: in memory (no setup), in
//! SQLite (`sqlite://orders.db`, kept across restarts) or in Postgres
//! (shared by every instance), each in an `orders` table of typed columns
//! beside a `payments` table that `pay` writes in the move's transaction.

use std::collections::HashMap;
use std::future::Future;

use conflict_runtime::moves::{Engine, Event, HookError, MoveError, MoveSpec, Moved, Outbox, Wake};
use conflict_runtime::store::{
    Create, List, MemoryStore, PgPool, PgStore, SqlitePool, SqliteStore, Store, StoreError, Table,
};
use sqlx::{AssertSqlSafe, Row};

use crate::orders::{DemoUser, Order, OrderStatus, Payment, PaymentMethod};

/// A store of orders: moves, creates, lists, `pay` with its payment, the
/// outbox, and the customer's notifications.
pub trait Orders:
    Store<Order, Id = i64> + Create<Order> + List<Order> + Outbox<Order> + Wake
{
    /// Performs `pay` (asked by action or by target), and records the
    /// payment in the same transaction where the store has transactions.
    fn pay(
        engine: &Engine<Order, Self>,
        caller: &DemoUser,
        spec: MoveSpec<OrderStatus, i64>,
    ) -> impl Future<Output = Result<Moved<i64, Order>, MoveError<OrderStatus>>> + Send;

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

/// In memory the payment is kept on the order, by `pay`'s input.
impl Orders for MemoryStore<Order, i64> {
    async fn pay(
        engine: &Engine<Order, Self>,
        caller: &DemoUser,
        spec: MoveSpec<OrderStatus, i64>,
    ) -> Result<Moved<i64, Order>, MoveError<OrderStatus>> {
        engine.perform(caller, spec).await
    }

    async fn payments(&self, _: &[i64]) -> Result<HashMap<i64, Payment>, StoreError<OrderStatus>> {
        Ok(HashMap::new())
    }

    /// In memory, the notification is a log line.
    async fn notify(&self, shipped: &Event<OrderStatus>) -> Result<(), HookError> {
        tracing::info!(key = %shipped.key(), "{}", shipped_message(shipped));
        Ok(())
    }
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
    async fn pay(
        engine: &Engine<Order, Self>,
        caller: &DemoUser,
        spec: MoveSpec<OrderStatus, i64>,
    ) -> Result<Moved<i64, Order>, MoveError<OrderStatus>> {
        let backend = |error: sqlx::Error| MoveError::Backend(Box::new(error));
        let mut transaction = engine.store().pool().begin().await.map_err(backend)?;
        let paid = engine.perform_in(&mut transaction, caller, spec).await?;
        if !paid.moved().is_committed() {
            return Ok(paid.after_commit().await);
        }
        let method = method_of(paid.moved());
        let row = sqlx::query(
            "INSERT INTO payments (order_id, method) VALUES ($1, $2)
             RETURNING to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS paid_at",
        )
        .bind(paid.moved().resource().id())
        .bind(method.name())
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend)?;
        let paid_at: String = row.try_get("paid_at").map_err(backend)?;
        transaction.commit().await.map_err(backend)?;
        Ok(paid
            .after_commit()
            .await
            .complete(|order| order.payment = Some(Payment { method, paid_at })))
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
}

impl Orders for SqliteStore<Order, i64> {
    async fn pay(
        engine: &Engine<Order, Self>,
        caller: &DemoUser,
        spec: MoveSpec<OrderStatus, i64>,
    ) -> Result<Moved<i64, Order>, MoveError<OrderStatus>> {
        let backend = |error: sqlx::Error| MoveError::Backend(Box::new(error));
        let mut transaction = engine
            .store()
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let paid = engine.perform_in(&mut transaction, caller, spec).await?;
        if !paid.moved().is_committed() {
            return Ok(paid.after_commit().await);
        }
        let method = method_of(paid.moved());
        let row = sqlx::query(
            "INSERT INTO payments (order_id, method) VALUES (?1, ?2) RETURNING paid_at",
        )
        .bind(paid.moved().resource().id())
        .bind(method.name())
        .fetch_one(&mut *transaction)
        .await
        .map_err(backend)?;
        let paid_at: String = row.try_get("paid_at").map_err(backend)?;
        transaction.commit().await.map_err(backend)?;
        Ok(paid
            .after_commit()
            .await
            .complete(|order| order.payment = Some(Payment { method, paid_at })))
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
