//! Part 6 of the benchmarks: the outbox on Postgres.
//!
//! `outbox SECONDS EVENTS CLIENTS...` with `DATABASE_URL` naming a Postgres
//! it may create tables in (a schema of its own, dropped at the end), and
//! NATS JetStream at `NATS_URL` (default `nats://127.0.0.1:4222`; that
//! figure is left out when nothing answers). Prints one tab-separated line
//! per figure:
//!
//! - `outbox\tno reader|dispatching\tCLIENTS\tMOVES/S`: part 5's legal
//!   moves through `PgStore::apply`, with nothing reading the outbox, and
//!   with a dispatcher delivering every event to a handler that does
//!   nothing, meanwhile;
//! - `delivered\tDISPATCHERS\tEVENTS\tEVENTS/S`: EVENTS events committed
//!   beforehand, delivered to a handler that does nothing by one dispatcher,
//!   and by two (two pools: two instances);
//! - `latency\tMOVES/S\tP50 MS\tP99 MS\tSAMPLES`: moves at a steady rate,
//!   and the time from each move's commit (its history row's `at`) to the
//!   start of its handler, as the handler sees it;
//! - `jetstream\tEVENTS\tEVENTS/S`: EVENTS events committed beforehand,
//!   relayed to a JetStream stream, each acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use conflict_benches::{DoorState, DoorStateAction, Latch};
use conflict_runtime::moves::{Dispatcher, Event, Running};
use conflict_runtime::relay::JetStream;
use conflict_runtime::store::{Change, Create, Move, PgPool, PgStore, Store, Table};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Failure = Box<dyn std::error::Error + Send + Sync>;

const DOORS: usize = 1000;

fn toggle(state: DoorState) -> DoorStateAction {
    if state == DoorState::Open {
        DoorStateAction::Close
    } else {
        DoorStateAction::Open
    }
}

/// Moves a door to its other state; `false` when it could not.
async fn toggle_door(store: &PgStore<Latch, i64>, door: i64) -> bool {
    let Ok(now) = store.get(&door).await else {
        return false;
    };
    let action = toggle(now.value().state);
    let change = Change::new(Move::Action(action)).via(action);
    store.apply(&door, change).await.is_ok()
}

/// `clients` tasks for `seconds`, each toggling its own doors in turn (the
/// state each door is in is known to the task); answers moves per second.
async fn drive(store: &PgStore<Latch, i64>, clients: usize, seconds: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (done, store) = (Arc::clone(&done), store.clone());
            tokio::spawn(async move {
                let mine: Vec<i64> = (1..=DOORS)
                    .filter(|door| door % clients == client)
                    .filter_map(|door| i64::try_from(door).ok())
                    .collect();
                let mut states = vec![DoorState::Closed; mine.len()];
                let mut turn = 0_usize;
                while Instant::now() < deadline {
                    let slot = turn % mine.len();
                    let action = toggle(states[slot]);
                    let change = Change::new(Move::Action(action)).via(action);
                    if let Ok(moved) = store.apply(&mine[slot], change).await {
                        states[slot] = moved.value().state;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    turn += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    #[allow(clippy::cast_precision_loss, reason = "a rate for a report")]
    let rate = done.load(Ordering::Relaxed) as f64 / seconds as f64;
    rate
}

/// A dispatcher of every event to a handler that counts it.
fn counting(
    store: PgStore<Latch, i64>,
    name: &'static str,
    count: &Arc<AtomicU64>,
) -> Dispatcher<Latch, PgStore<Latch, i64>> {
    let count = Arc::clone(count);
    Dispatcher::new(store)
        .every(name, move |_: Event<DoorState>| {
            count.fetch_add(1, Ordering::Relaxed);
            async { Ok(()) }
        })
        .idle(Duration::from_millis(200))
}

/// Commits `events` moves from 8 tasks, as fast as they go.
async fn commit(store: &PgStore<Latch, i64>, events: u64) {
    let left = Arc::new(AtomicU64::new(events));
    let tasks: Vec<_> = (0..8_i64)
        .map(|task| {
            let (left, store) = (Arc::clone(&left), store.clone());
            tokio::spawn(async move {
                let mut door = task + 1;
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    while !toggle_door(&store, door).await {}
                    door = (door + 8 - 1) % i64::try_from(DOORS).unwrap_or(1000) + 1;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// Waits until `count` reaches `events`; answers the seconds since `start`.
async fn until(count: &AtomicU64, events: u64, start: Instant) -> f64 {
    while count.load(Ordering::Relaxed) < events {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed().as_secs_f64()
}

async fn pool(url: &str, schema: &str, size: u32) -> Result<PgPool, Failure> {
    let options: PgConnectOptions = url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .connect_with(options.options([("search_path", schema)]))
        .await?)
}

#[allow(clippy::too_many_lines, reason = "one figure after another, in order")]
async fn run(
    url: &str,
    schema: &str,
    seconds: u64,
    events: u64,
    counts: &[usize],
) -> Result<(), Failure> {
    let size = u32::try_from(*counts.iter().max().unwrap_or(&8)).unwrap_or(32) + 4;
    let first = pool(url, schema, size).await?;
    conflict_runtime::store::postgres::migrator()
        .run(&first)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE bench_doors (
            id bigserial PRIMARY KEY, name text NOT NULL,
            state text NOT NULL, version bigint NOT NULL DEFAULT 1);",
    )
    .execute(&first)
    .await?;
    let table = Table::new("bench_doors").state("state");
    let store: PgStore<Latch, i64> = PgStore::connect(first.clone(), table.clone()).await?;
    for _ in 0..DOORS {
        store.create(Latch::closed()).await?;
    }
    let second: PgStore<Latch, i64> = PgStore::connect(pool(url, schema, 8).await?, table).await?;

    // Moves with nothing reading the outbox, and with a dispatcher reading.
    for &clients in counts {
        for mode in ["no reader", "dispatching"] {
            sqlx::query("UPDATE bench_doors SET state = 'closed'")
                .execute(&first)
                .await?;
            let count = Arc::new(AtomicU64::new(0));
            let running = if mode == "dispatching" {
                let name = if clients == 1 { "reader_1" } else { "reader_n" };
                Some(counting(second.clone(), name, &count).start().await?)
            } else {
                None
            };
            let rate = drive(&store, clients, seconds).await;
            if let Some(running) = running {
                running.shutdown().await;
            }
            println!("outbox\t{mode}\t{clients}\t{rate:.0}");
        }
    }

    // Delivery: the events wait in the outbox, then one or two dispatchers
    // deliver them.
    sqlx::query("UPDATE bench_doors SET state = 'closed'")
        .execute(&first)
        .await?;
    for dispatchers in [1_u64, 2] {
        let name = if dispatchers == 1 {
            "deliver_1"
        } else {
            "deliver_2"
        };
        let count = Arc::new(AtomicU64::new(0));
        let one = counting(store.clone(), name, &count);
        let other = counting(second.clone(), name, &count);
        one.run_once().await?;
        commit(&store, events).await;
        let start = Instant::now();
        let mut running: Vec<Running> = vec![one.start().await?];
        if dispatchers == 2 {
            running.push(other.start().await?);
        }
        let took = until(&count, events, start).await;
        for dispatcher in running {
            dispatcher.shutdown().await;
        }
        #[allow(clippy::cast_precision_loss, reason = "a rate for a report")]
        let rate = events as f64 / took;
        println!("delivered\t{dispatchers}\t{events}\t{rate:.0}");
    }

    // Latency from commit to handler, at a steady rate.
    let rate = 200_u64;
    let latencies: Arc<std::sync::Mutex<Vec<Duration>>> = Arc::default();
    let seen = Arc::clone(&latencies);
    let running = Dispatcher::new(second.clone())
        .every("latency", move |event: Event<DoorState>| {
            let waited = SystemTime::now()
                .duration_since(event.entry.at)
                .unwrap_or_default();
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(waited);
            async { Ok(()) }
        })
        .start()
        .await?;
    let samples = rate * seconds;
    let mut tick =
        tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate).unwrap_or(200));
    for door in 0..samples {
        tick.tick().await;
        let door = i64::try_from(door % DOORS as u64).unwrap_or(0) + 1;
        toggle_door(&store, door).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.shutdown().await;
    let mut waited = latencies
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    waited.sort_unstable();
    let at = |quantile: f64| {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "an index into the samples"
        )]
        let index = ((waited.len().saturating_sub(1)) as f64 * quantile).round() as usize;
        waited.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "latency\t{rate}\t{:.2}\t{:.2}\t{}",
        at(0.5),
        at(0.99),
        waited.len()
    );

    // JetStream: the events wait in the outbox, then one relay publishes them.
    let nats = std::env::var("NATS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    match async_nats::connect(nats.as_str()).await {
        Ok(client) => {
            let context = async_nats::jetstream::new(client);
            let name = schema.to_uppercase();
            let mut stream = context
                .create_stream(async_nats::jetstream::stream::Config {
                    name: name.clone(),
                    subjects: vec![format!("{schema}.>")],
                    ..Default::default()
                })
                .await?;
            // One publish at a time, then sixteen at once (`concurrency`).
            for at_once in [1_usize, 16] {
                let relay = Dispatcher::new(store.clone())
                    .relay("jetstream", JetStream::new(context.clone(), schema))
                    .concurrency(at_once);
                relay.run_once().await?;
                let before = stream.info().await?.state.messages;
                commit(&store, events).await;
                let start = Instant::now();
                let running = relay.start().await?;
                while stream.info().await?.state.messages < before + events {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let took = start.elapsed().as_secs_f64();
                running.shutdown().await;
                #[allow(clippy::cast_precision_loss, reason = "a rate for a report")]
                let published = events as f64 / took;
                println!("jetstream\t{at_once}\t{events}\t{published:.0}");
            }
            context.delete_stream(&name).await?;
        }
        Err(error) => eprintln!("no NATS at {nats} ({error}): the JetStream figure is left out"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().ok_or("SECONDS")?.parse()?;
    let events: u64 = args.next().ok_or("EVENTS")?.parse()?;
    let counts: Vec<usize> = args.map(|n| n.parse()).collect::<Result<_, _>>()?;
    let url = std::env::var("DATABASE_URL")?;
    let schema = format!("conflict_outbox_bench_{}", std::process::id());
    let admin = PgPool::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await?;
    let outcome = run(&url, &schema, seconds, events, &counts).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await?;
    outcome
}
