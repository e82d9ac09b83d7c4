//! Part 5 of the benchmarks: moves per second on Postgres, through
//! `PgStore::apply` (one statement) against the classic transaction
//! (`SELECT ... FOR UPDATE`, decide in Rust, `UPDATE`, history `INSERT`,
//! `COMMIT`), at several numbers of concurrent clients.
//!
//! `pg-moves SECONDS CLIENTS...` with `DATABASE_URL` set; prints one
//! `pg\t<mode>\t<clients>\t<moves per second>` line per run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use conflict_runtime::store::{Change, Create, Move, PgPool, PgStore, Store, StoreError};
use conflict_runtime::{Action, StateMachine};
use sqlx::Row;

use conflict_benches::{DOORS, Door, DoorState, DoorStateAction};

/// A move the classic way: four round trips in a transaction.
async fn by_transaction(
    pool: &PgPool,
    id: u64,
    action: DoorStateAction,
) -> Result<bool, sqlx::Error> {
    let key = i64::try_from(id).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "SELECT state, version FROM conflict_resources WHERE kind = 'door' AND id = $1 FOR UPDATE",
    )
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    let state: String = row.try_get("state")?;
    let version: i64 = row.try_get("version")?;
    let Some(next) = DoorState::from_name(&state).and_then(|s| s.target(action)) else {
        tx.rollback().await?;
        return Ok(false);
    };
    sqlx::query("UPDATE conflict_resources SET previous_state = state, state = $2, version = version + 1 WHERE kind = 'door' AND id = $1")
        .bind(key)
        .bind(next.name())
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO conflict_history (kind, id, version, from_state, to_state, action) VALUES ('door', $1, $2, $3, $4, $5)")
        .bind(key)
        .bind(version + 1)
        .bind(&state)
        .bind(next.name())
        .bind(action.name())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

async fn run(
    mode: &'static str,
    pool: &PgPool,
    store: &PgStore<Door>,
    clients: usize,
    seconds: u64,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (pool, store, done) = (pool.clone(), store.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ (client as u64 + 1);
                while Instant::now() < deadline {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let id = 1 + seed % DOORS;
                    let action = DoorStateAction::ALL[usize::try_from(seed >> 32).unwrap_or(0) % 4];
                    let ok = match mode {
                        "one statement" => {
                            match store.apply(&id, Change::new(Move::Action(action))).await {
                                Ok(_) | Err(StoreError::Transition(_)) => true,
                                Err(_) => false,
                            }
                        }
                        _ => by_transaction(&pool, id, action).await.is_ok(),
                    };
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    #[allow(clippy::cast_precision_loss, reason = "a rate for a report")]
    let rate = done.load(Ordering::Relaxed) as f64 / seconds as f64;
    rate
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args
        .next()
        .ok_or("usage: pg-moves SECONDS CLIENTS...")?
        .parse()?;
    let clients: Vec<usize> = args.map(|c| c.parse()).collect::<Result<_, _>>()?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let schema = format!("conflict_bench_{}", std::process::id());
    let admin = PgPool::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await?;
    let max = clients.iter().copied().max().unwrap_or(1);
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(u32::try_from(max).unwrap_or(32))
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await?;
    PgStore::<Door>::migrate(&pool).await?;
    let store = PgStore::<Door>::new(pool.clone());
    for _ in 0..DOORS {
        store
            .create(|id| Door {
                id,
                state: DoorState::Closed,
            })
            .await?;
    }
    for &n in &clients {
        for mode in ["one statement", "select for update + update"] {
            let rate = run(mode, &pool, &store, n, seconds).await;
            println!("pg\t{mode}\t{n}\t{rate:.0}");
        }
    }
    pool.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await?;
    Ok(())
}
