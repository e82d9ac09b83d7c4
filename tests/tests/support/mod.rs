//! What the integration tests share: the stores they run against and a real
//! server on a loopback port.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use conflict_examples::orders::{MemoryOrders, Options, router_with};
use conflict_examples::storage::{migrate_postgres, migrate_sqlite, orders_table};
use conflict_runtime::http::{MemoryKeys, PgKeys};
use conflict_runtime::store::{PgPool, PgStore, SqlitePool, SqliteStore, Table};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

/// Where resources live during a test.
#[derive(Clone, Debug)]
pub enum Backend {
    /// `MemoryStore` and `MemoryKeys`, new for each server.
    Memory,
    /// Tables in a schema of the test's own, shared by every server of the
    /// test: several instances on one database.
    Postgres { url: String, schema: String },
    /// Tables in a database file of the test's own.
    Sqlite { path: PathBuf },
}

/// The Postgres the tests use: `DATABASE_URL`, or the machine's own.
pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    )
}

/// The tables of the tests' own resources, beside the example's.
const PG_TABLES: &str = "
    CREATE TABLE rooms (
        id        bigserial PRIMARY KEY,
        name      text   NOT NULL,
        door      text   NOT NULL,
        closes_at bigint,
        version   bigint NOT NULL DEFAULT 1
    );
    CREATE TABLE parcels (
        id      bigserial PRIMARY KEY,
        label   text   NOT NULL,
        status  text   NOT NULL,
        version bigint NOT NULL DEFAULT 1
    );
    -- Rooms again, with a state and a version column of other types than
    -- text and bigint: the statements answer both cast beside the row.
    CREATE TABLE lodges (
        id        bigserial PRIMARY KEY,
        name      text        NOT NULL,
        door      varchar(16) NOT NULL,
        closes_at bigint,
        version   integer     NOT NULL DEFAULT 1
    );
    CREATE TYPE door_state AS ENUM ('closed', 'open', 'locked');
    CREATE TABLE vaults (
        id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name    text       NOT NULL,
        door    door_state NOT NULL,
        version bigint     NOT NULL DEFAULT 1
    );";

const SQLITE_TABLES: &str = "
    CREATE TABLE rooms (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        name      TEXT    NOT NULL,
        door      TEXT    NOT NULL,
        closes_at INTEGER,
        version   INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE parcels (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        label   TEXT    NOT NULL,
        status  TEXT    NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    );";

impl Backend {
    /// A fresh schema in the database named by `DATABASE_URL`, or in the
    /// machine's own Postgres (`postgres://postgres@127.0.0.1:5432/test`)
    /// when the variable is unset; `None`, with a notice, only when nothing
    /// answers there.
    pub async fn postgres() -> Option<Backend> {
        let url = postgres_url();
        let admin = match PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await
        {
            Ok(admin) => admin,
            Err(error) => {
                eprintln!(
                    "notice: SKIPPED the Postgres run of this test: nothing answers at {url} ({error})"
                );
                return None;
            }
        };
        let schema = unique("conflict_test");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let backend = Backend::Postgres { url, schema };
        let pool = backend.pool().await;
        migrate_postgres(&pool).await.expect("migrate");
        sqlx::raw_sql(PG_TABLES)
            .execute(&pool)
            .await
            .expect("the tests' tables");
        Some(backend)
    }

    /// A fresh SQLite database in a file of the test's own.
    pub async fn sqlite() -> Backend {
        let path = std::env::temp_dir().join(format!("{}.db", unique("conflict_test")));
        let backend = Backend::Sqlite { path };
        let pool = backend.sqlite_pool().await;
        migrate_sqlite(&pool).await.expect("migrate");
        sqlx::raw_sql(SQLITE_TABLES)
            .execute(&pool)
            .await
            .expect("the tests' tables");
        backend
    }

    /// A pool of its own (one instance's connections), in the test's schema.
    pub async fn pool(&self) -> PgPool {
        let Backend::Postgres { url, schema } = self else {
            panic!("only Postgres has a Postgres pool");
        };
        let options: PgConnectOptions = url.parse().expect("a valid DATABASE_URL");
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await
            .expect("connect")
    }

    /// A pool of its own on the test's database file.
    pub async fn sqlite_pool(&self) -> SqlitePool {
        let Backend::Sqlite { path } = self else {
            panic!("only SQLite has a SQLite pool");
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("connect")
    }

    /// Starts an `orders` server on a loopback port: a new instance.
    pub async fn serve(&self, options: Options) -> Server {
        let app = match self {
            Backend::Memory => router_with(MemoryOrders::new(), MemoryKeys::default(), options),
            Backend::Postgres { .. } => {
                let pool = self.pool().await;
                let orders = PgStore::connect(pool.clone(), orders_table())
                    .await
                    .expect("the orders table");
                router_with(orders, PgKeys::new(pool), options)
            }
            Backend::Sqlite { .. } => {
                let orders = SqliteStore::connect(self.sqlite_pool().await, orders_table())
                    .await
                    .expect("the orders table");
                router_with(orders, MemoryKeys::default(), options)
            }
        };
        Server::start(app).await
    }

    /// The rooms of a Postgres backend.
    pub async fn pg_rooms(&self) -> PgStore<Room, i64> {
        PgStore::connect(self.pool().await, rooms_table())
            .await
            .expect("the rooms table")
    }

    /// The rooms of a Postgres backend in the `lodges` table: a `varchar`
    /// state and an `integer` version.
    pub async fn pg_lodges(&self) -> PgStore<Room, i64> {
        PgStore::connect(self.pool().await, Table::new("lodges").state("door"))
            .await
            .expect("the lodges table")
    }

    /// The rooms of a SQLite backend.
    pub async fn sqlite_rooms(&self) -> SqliteStore<Room, i64> {
        SqliteStore::connect(self.sqlite_pool().await, rooms_table())
            .await
            .expect("the rooms table")
    }

    /// Drops the test's schema or file.
    pub async fn finish(self) {
        match self {
            Backend::Postgres { url, schema } => {
                let admin = PgPool::connect(&url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&admin)
                    .await
                    .expect("drop schema");
            }
            Backend::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Backend::Memory => {}
        }
    }
}

/// A server on a loopback port and a client for it.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
}

impl Server {
    pub async fn start(app: axum::Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Runs each listed `async fn(Backend)` once in memory, once on Postgres
/// (skipped with a notice when no Postgres answers) and once on SQLite.
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::support::Backend::Memory).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(backend) = $crate::support::Backend::postgres().await else {
                        return;
                    };
                    super::$test(backend.clone()).await;
                    backend.finish().await;
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let backend = $crate::support::Backend::sqlite().await;
                    super::$test(backend.clone()).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

#[allow(unused_imports, reason = "each test binary uses a part")]
pub use conflict_tests::rooms::{Door, DoorAction, Room, room, rooms_table};

/// Runs each listed `async fn(St, St)` on two instances of one store of
/// rooms: one `MemoryStore` twice, two pools on one Postgres schema
/// (skipped with a notice when no Postgres answers), two pools on one
/// SQLite file.
#[macro_export]
macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let store = ::conflict_runtime::store::MemoryStore::<
                        ::conflict_tests::rooms::Room,
                        i64,
                    >::new();
                    super::$test(store.clone(), store).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(backend) = $crate::support::Backend::postgres().await else {
                        return;
                    };
                    // Two instances: two pools on one database.
                    super::$test(backend.pg_rooms().await, backend.pg_rooms().await).await;
                    backend.finish().await;
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let backend = $crate::support::Backend::sqlite().await;
                    super::$test(backend.sqlite_rooms().await, backend.sqlite_rooms().await).await;
                    backend.finish().await;
                }
            )*
        }
    };
}

/// The events after `after` once `count` of them can be read (at most a
/// minute): on Postgres an event takes its place in the order only when
/// every transaction older than its own has ended, and the tests running
/// beside this one hold some.
pub async fn events_after<R, St>(
    store: &St,
    after: u64,
    count: usize,
) -> Vec<conflict_runtime::moves::Event<R::State>>
where
    R: conflict_runtime::store::Resource,
    St: conflict_runtime::moves::Outbox<R>,
{
    for _ in 0..6000 {
        let events = store.events(after, 1000).await.unwrap();
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{count} events after {after}: not within a minute");
}
