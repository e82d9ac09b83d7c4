//! `cargo run --example shipping [-- --database-url URL]`: a job that ships
//! orders from commands on standard input, one per line, through the same
//! engine, rules, history and hooks as the `orders` service, with no HTTP.
//!
//! ```text
//! ship 1 1Z999AA10123456784
//! cancel 2 {"reason": "lost in transit"}
//! ```
//!
//! With `--database-url` (or `DATABASE_URL`) it moves the orders the
//! service keeps in Postgres or SQLite; without it, it works on three paid orders of
//! its own, in memory, so that it runs with no setup:
//! `printf 'ship 1 1Z999\nship 1 1Z999\nrefund 2\n' | cargo run --example shipping`.

use conflict_examples::orders::{Order, OrderStatus, rules};
use conflict_examples::shipping::{Outcome, run};
use conflict_examples::storage::{migrate_postgres, migrate_sqlite, orders_table};
use conflict_runtime::moves::Engine;
use conflict_runtime::store::{MemoryStore, PgPool, PgStore, SqlitePool, SqliteStore, Store};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => {
                database_url = Some(args.next().ok_or("--database-url needs a URL")?);
            }
            "-h" | "--help" => {
                println!("usage: shipping [--database-url URL] < commands");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    if let Some(url) = database_url {
        if url.starts_with("sqlite:") {
            let pool = SqlitePool::connect(&url).await?;
            migrate_sqlite(&pool).await?;
            let orders = SqliteStore::connect(pool, orders_table()).await?;
            return consume(Engine::new(orders, rules())).await;
        }
        let pool = PgPool::connect(&url).await?;
        migrate_postgres(&pool).await?;
        let orders = PgStore::connect(pool, orders_table()).await?;
        return consume(Engine::new(orders, rules())).await;
    }
    let orders = MemoryStore::new();
    for item in ["lamp", "chair", "desk"] {
        let order = orders.create(|&id| Order {
            id,
            status: OrderStatus::Paid,
            item: item.to_owned(),
            quantity: 1,
            tracking_number: None,
            payment: None,
        });
        eprintln!("order {}: {item}, paid (in memory)", order.id());
    }
    consume(Engine::new(orders, rules())).await
}

/// Feeds standard input to the job through a channel, as a queue would,
/// and prints what became of each command.
async fn consume<St: Store<Order, Id = i64>>(
    engine: Engine<Order, St>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (lines, received) = mpsc::channel(64);
    let (outcomes, mut reported) = mpsc::channel::<Outcome>(64);
    let job = tokio::spawn(run(engine, received, outcomes));
    let reader = tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            if lines.send(line).await.is_err() {
                break;
            }
        }
    });
    while let Some(outcome) = reported.recv().await {
        println!("{outcome}");
    }
    reader.await?;
    job.await?;
    Ok(())
}
