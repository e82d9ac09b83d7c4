//! The process `tests/outbox_crash.rs` kills: rooms in a Postgres schema,
//! a durable handler that notes what it does in `crash_log`.
//!
//! `outbox-crash move URL SCHEMA` opens two doors and prints each event's
//! key: the handler of the first starts and never ends, the second waits
//! behind it; then it prints `ready` and waits to be killed.
//! `outbox-crash dispatch URL SCHEMA` runs the handler to completion on
//! whatever is due, until killed.
//!
//! `outbox-crash publish NATS PREFIX URL SCHEMA` opens three doors and
//! relays them to JetStream under `PREFIX`, but its first publish is never
//! acknowledged: it prints `published KEY` once the server has the message,
//! and waits to be killed. `outbox-crash relay NATS PREFIX URL SCHEMA`
//! relays whatever is due, until killed.

use std::io::Write;
use std::time::Duration;

use async_nats::Client;
use conflict_runtime::StateMachine;
use conflict_runtime::moves::{Dispatcher, Event};
use conflict_runtime::relay::JetStream;
use conflict_runtime::store::{Change, Create, Move, PgPool, PgStore, Store};
use conflict_tests::rooms::{Door, DoorAction, Room, room, rooms_table};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Both runs hold a delivery this long: the second takes over the first's
/// once it ends.
const LEASE: Duration = Duration::from_secs(2);

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn note(pool: &PgPool, key: &str, what: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO crash_log (key, what) VALUES ($1, $2)")
        .bind(key)
        .bind(what)
        .execute(pool)
        .await
        .map(drop)
}

async fn open_a_door(store: &PgStore<Room, i64>, name: &str) -> Result<String, Failure> {
    let id = *store.create(room(name)).await?.id();
    let opened = store
        .apply(&id, Change::new(Move::Action(DoorAction::Open)))
        .await?;
    let key = format!("{}:{id}:{}", Door::RESOURCE, opened.version());
    println!("committed {key}");
    std::io::stdout().flush()?;
    Ok(key)
}

async fn moves(pool: PgPool, store: PgStore<Room, i64>) -> Result<(), Failure> {
    let noted = pool.clone();
    let _running = Dispatcher::new(store.clone())
        .on_enter(Door::Open, "notify", move |event: Event<Door>| {
            let pool = noted.clone();
            async move {
                note(&pool, &event.key(), "started").await?;
                std::future::pending::<()>().await;
                Ok(())
            }
        })
        .lease(LEASE)
        .start()
        .await?;
    let first = open_a_door(&store, "first").await?;
    // The first handler is under way: the second waits behind it.
    loop {
        let started: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM crash_log WHERE key = $1 AND what = 'started')",
        )
        .bind(&first)
        .fetch_one(&pool)
        .await?;
        if started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    open_a_door(&store, "second").await?;
    println!("ready");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}

async fn dispatch(pool: PgPool, store: PgStore<Room, i64>) -> Result<(), Failure> {
    let _running = Dispatcher::new(store)
        .on_enter(Door::Open, "notify", move |event: Event<Door>| {
            let pool = pool.clone();
            async move {
                note(&pool, &event.key(), "done").await?;
                Ok(())
            }
        })
        .lease(LEASE)
        .idle(Duration::from_millis(100))
        .start()
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// Opens three doors, relaying the first to JetStream up to the moment
/// before its acknowledgement.
async fn publish(
    store: PgStore<Room, i64>,
    relay: JetStream,
    client: Client,
) -> Result<(), Failure> {
    let _running = Dispatcher::new(store.clone())
        .every("jetstream", move |event: Event<Door>| {
            let (relay, client) = (relay.clone(), client.clone());
            async move {
                let unacknowledged = relay.send(&event).await?;
                client.flush().await?;
                println!("published {}", event.key());
                std::io::stdout().flush()?;
                std::future::pending::<()>().await;
                drop(unacknowledged);
                Ok(())
            }
        })
        .lease(LEASE)
        .start()
        .await?;
    for name in ["first", "second", "third"] {
        open_a_door(&store, name).await?;
    }
    std::future::pending::<()>().await;
    Ok(())
}

async fn relay(store: PgStore<Room, i64>, relay: JetStream) -> Result<(), Failure> {
    let _running = Dispatcher::new(store)
        .relay("jetstream", relay)
        .lease(LEASE)
        .idle(Duration::from_millis(100))
        .start()
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}

async fn connect(url: &str, schema: &str) -> Result<(PgPool, PgStore<Room, i64>), Failure> {
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options.options([("search_path", schema)]))
        .await?;
    let store = PgStore::connect(pool.clone(), rooms_table()).await?;
    Ok((pool, store))
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let [_, mode @ ("publish" | "relay"), nats, prefix, url, schema] = args.as_slice() {
        let (_, store) = connect(url, schema).await?;
        let client = async_nats::connect(*nats).await?;
        let to = JetStream::new(async_nats::jetstream::new(client.clone()), *prefix);
        return match *mode {
            "publish" => publish(store, to, client).await,
            _ => relay(store, to).await,
        };
    }
    let [_, mode, url, schema] = args.as_slice() else {
        return Err(
            "usage: outbox-crash move|dispatch URL SCHEMA, or publish|relay NATS PREFIX URL SCHEMA"
                .into(),
        );
    };
    let (pool, store) = connect(url, schema).await?;
    match *mode {
        "move" => moves(pool, store).await,
        "dispatch" => dispatch(pool, store).await,
        _ => Err(format!("unknown mode {mode}").into()),
    }
}
