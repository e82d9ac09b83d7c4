//! What the integration tests share: the stores they run against and a real
//! server on a loopback port.
#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]

use std::sync::atomic::{AtomicUsize, Ordering};

use conflict_examples::orders::{Options, Orders, router_with};
use conflict_runtime::StateMachine;
use conflict_runtime::http::{MemoryKeys, PgKeys};
use conflict_runtime::store::Resource;
use conflict_runtime::store::{PgPool, PgStore};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The Postgres the tests use: `DATABASE_URL`, or the machine's own.
pub fn postgres_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Where resources live during a test.
#[derive(Clone, Debug)]
pub enum Backend {
    /// `MemoryStore` and `MemoryKeys`, new for each server.
    Memory,
    /// `PgStore` and `PgKeys` in a schema of the test's own, shared by every
    /// server of the test: several instances on one database.
    Postgres { url: String, schema: String },
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

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
        let schema = format!(
            "conflict_test_{}_{}_{}",
            std::process::id(),
            SCHEMAS.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let backend = Backend::Postgres { url, schema };
        PgStore::<()>::migrate(&backend.pool().await)
            .await
            .expect("migrate");
        Some(backend)
    }

    /// A pool of its own (one instance's connections), in the test's schema.
    pub async fn pool(&self) -> PgPool {
        let Backend::Postgres { url, schema } = self else {
            panic!("the memory backend has no pool");
        };
        let options: PgConnectOptions = url.parse().expect("a valid DATABASE_URL");
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await
            .expect("connect")
    }

    /// Starts an `orders` server on a loopback port: a new instance.
    pub async fn serve(&self, options: Options) -> Server {
        let app = match self {
            Backend::Memory => router_with(Orders::new(), MemoryKeys::default(), options),
            Backend::Postgres { .. } => {
                let pool = self.pool().await;
                router_with(PgStore::new(pool.clone()), PgKeys::new(pool), options)
            }
        };
        Server::start(app).await
    }

    /// Drops the test's schema.
    pub async fn finish(self) {
        if let Backend::Postgres { url, schema } = self {
            let admin = PgPool::connect(&url).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .expect("drop schema");
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

/// Runs each listed `async fn(Backend)` once in memory and once on Postgres
/// (skipped with a notice when no Postgres answers).
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
    };
}

/// A small cyclic machine for store tests: many moves commit.
#[derive(StateMachine, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Door {
    #[state(initial, on(open -> Open, lock -> Locked))]
    Closed,
    #[state(on(close -> Closed))]
    Open,
    #[state(on(unlock -> Closed))]
    Locked,
}

/// A resource with a [`Door`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub name: String,
    pub door: Door,
}

impl Resource for Room {
    type State = Door;

    fn state(&self) -> Door {
        self.door
    }

    fn set_state(&mut self, door: Door) {
        self.door = door;
    }
}

/// A room with a closed door.
pub fn room(name: &str) -> Room {
    Room {
        name: name.to_owned(),
        door: Door::Closed,
    }
}
