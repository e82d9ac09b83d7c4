//! `cargo run --example orders [-- --addr HOST:PORT] [--database-url URL]`:
//! the orders service on 127.0.0.1:3000 unless `--addr` or `ORDERS_ADDR`
//! says otherwise; in memory, or in SQLite (`sqlite://orders.db`) or
//! Postgres (`postgres://...`) tables.

use std::net::SocketAddr;

use std::time::Duration;

use conflict_examples::orders::{
    MemoryOrders, Options, OrderStatus, OrderStatusAction, deadlines, durable, router_with,
};
use conflict_examples::storage::{Orders, migrate_postgres, migrate_sqlite, orders_table};
use conflict_runtime::deadline::Deadline;
use conflict_runtime::http::Problem;
use conflict_runtime::http::{IdempotencyStore, MemoryKeys, PgKeys};
use conflict_runtime::store::{PgPool, PgStore, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

const USAGE: &str = "usage: orders [--addr HOST:PORT] [--database-url URL] [--require-if-match]
              [--payment-window DURATION] [--verify | --migrate-names [--dry-run]]

  --addr HOST:PORT      where to listen (default 127.0.0.1:3000, or ORDERS_ADDR)
  --database-url URL    keep orders in SQLite (sqlite://orders.db) or Postgres
                        (postgres://...), or DATABASE_URL; default: in memory
  --require-if-match    refuse moves without If-Match (428)
  --payment-window D    how long an order may stay unpaid before it expires
                        (default 30m; e.g. 10s for a demo, 2h)
  --log-requests        log a line per request (or RUST_LOG=info,tower_http=debug)
  --print-machine       print the order machine as text and exit
  --verify              list the stored states and actions the machine does not
                        declare, and the old names it reads, then exit (1 when
                        some are unknown): run it before deploying a changed machine
  --migrate-names       rewrite the old names the machine reads to current ones,
                        in one transaction, then exit
  --dry-run             with --migrate-names: count, rewrite nothing";

/// What the binary does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serve,
    Verify,
    MigrateNames { dry_run: bool },
}

struct Arguments {
    mode: Mode,
    addr: SocketAddr,
    database_url: Option<String>,
    options: Options,
    log_requests: bool,
    payment_window: Deadline<OrderStatus>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Arguments {
        mode,
        addr,
        database_url,
        options,
        log_requests,
        payment_window,
    } = arguments()?;
    // What a production service logs: start-up, warnings and errors, hook
    // failures. A line per request is opt-in: `--log-requests`, or
    // `RUST_LOG=info,tower_http=debug`.
    let default_filter = if log_requests {
        "info,tower_http=debug"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .init();
    match database_url {
        Some(url) if url.starts_with("sqlite:") => {
            // WAL: readers do not wait for the writer; created if missing.
            let connect = url
                .parse::<SqliteConnectOptions>()?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new().connect_with(connect).await?;
            migrate_sqlite(&pool).await?;
            tracing::info!("orders kept in SQLite at {url}");
            let orders = SqliteStore::connect(pool, orders_table())
                .await?
                .with_deadline(payment_window);
            run(mode, addr, orders, MemoryKeys::default(), options).await
        }
        Some(url) => {
            let pool = PgPool::connect(&url).await?;
            migrate_postgres(&pool).await?;
            tracing::info!("orders kept in Postgres");
            let orders = PgStore::connect(pool.clone(), orders_table())
                .await?
                .with_deadline(payment_window);
            run(mode, addr, orders, PgKeys::new(pool), options).await
        }
        None => {
            let orders = MemoryOrders::new().with_deadline(payment_window);
            run(mode, addr, orders, MemoryKeys::default(), options).await
        }
    }
}

/// Serves, or checks or rewrites the stored names and exits.
async fn run<St: Orders>(
    mode: Mode,
    addr: SocketAddr,
    orders: St,
    keys: impl IdempotencyStore,
    options: Options,
) -> Result<(), Box<dyn std::error::Error>> {
    match mode {
        Mode::Serve => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            serve(listener, orders, keys, options).await
        }
        Mode::Verify => {
            let report = orders.verify().await?;
            print!("{report}");
            if report.is_clean() {
                Ok(())
            } else {
                Err("the store holds names the order machine does not declare".into())
            }
        }
        Mode::MigrateNames { dry_run } => {
            let rewritten = orders.migrate_names(dry_run).await?;
            let verb = if dry_run { "would rewrite" } else { "rewrote" };
            for stored in &rewritten {
                println!(
                    "{verb} the {} \"{}\" as \"{}\" in {} rows",
                    stored.place,
                    stored.name,
                    stored.read_as.unwrap_or_default(),
                    stored.count,
                );
            }
            if rewritten.is_empty() {
                println!("no old names to rewrite");
            }
            Ok(())
        }
    }
}

/// Starts the durable handlers and the deadlines' scheduler, then serves
/// until Ctrl-C or SIGTERM; then stops taking requests, finishes the ones
/// under way, and lets the durable handlers and the scheduler finish or
/// release what they hold.
async fn serve<St: Orders>(
    listener: tokio::net::TcpListener,
    orders: St,
    keys: impl IdempotencyStore,
    options: Options,
) -> Result<(), Box<dyn std::error::Error>> {
    let handlers = durable(orders.clone()).start().await?;
    let scheduler = deadlines(orders.clone()).start();
    let app = router_with(orders, keys, options)
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(Problem::internal())
        }));
    tracing::info!("orders listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await?;
    handlers.shutdown().await;
    scheduler.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM (what a container runtime sends).
async fn stopped() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("stopping: finishing the requests and deliveries under way");
}

fn arguments() -> Result<Arguments, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("ORDERS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let mut database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let mut options = Options::default();
    let mut log_requests = false;
    let mut payment_window = Duration::from_mins(30);
    let (mut verify, mut migrate_names, mut dry_run) = (false, false, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--verify" => verify = true,
            "--migrate-names" => migrate_names = true,
            "--dry-run" => dry_run = true,
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "--require-if-match" => options.require_if_match = true,
            "--log-requests" => log_requests = true,
            "--payment-window" => {
                let window = args.next().ok_or("--payment-window needs a duration")?;
                payment_window = humantime::parse_duration(&window)
                    .map_err(|e| format!("--payment-window `{window}`: {e}"))?;
            }
            "--print-machine" => {
                print!("{}", conflict_runtime::diagram::text::<OrderStatus>());
                std::process::exit(0);
            }
            "--database-url" => {
                database_url = Some(args.next().ok_or("--database-url needs a URL")?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let addr = addr.parse().map_err(|e| format!("--addr `{addr}`: {e}"))?;
    let mode = match (verify, migrate_names, dry_run) {
        (false, false, false) => Mode::Serve,
        (true, false, false) => Mode::Verify,
        (false, true, dry_run) => Mode::MigrateNames { dry_run },
        (_, false, true) => return Err(format!("--dry-run goes with --migrate-names\n{USAGE}")),
        (true, true, _) => return Err(format!("--verify or --migrate-names, not both\n{USAGE}")),
    };
    let payment_window = Deadline::of(
        OrderStatus::Pending,
        OrderStatusAction::Expire,
        payment_window,
    )
    .map_err(|e| format!("--payment-window: {e}"))?;
    Ok(Arguments {
        mode,
        addr,
        database_url,
        options,
        log_requests,
        payment_window,
    })
}
