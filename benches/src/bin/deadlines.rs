//! Part 7 of the benchmarks: deadlines on Postgres.
//!
//! `deadlines DUE RATE SECONDS IDLE_SECONDS` with `DATABASE_URL` naming a
//! Postgres it may create tables in (a schema of its own, dropped at the
//! end). Doors close by themselves a while after they open (a deadline set
//! at runtime). Prints one tab-separated line per figure:
//!
//! - `fired\tSCHEDULERS\tDEADLINES\tPER_S`: DUE doors opened beforehand,
//!   all due at once (a clock moved past them), made by one scheduler, then
//!   (DUE more) by two schedulers in two pools (two instances);
//! - `lag\tRATE\tP50_MS\tP99_MS\tSAMPLES`: doors opened at RATE per second
//!   for SECONDS, each due a second later, made by a running scheduler on
//!   the system clock: the time from each deadline's due time to the
//!   history row of its move;
//! - `idle\tSECONDS\tQUERIES_PER_S`: a running scheduler with nothing due,
//!   for `IDLE_SECONDS`: the transactions the database committed meanwhile,
//!   less those of as long a window without it, per second.

use std::time::{Duration, Instant};

use conflict_benches::{DoorState, DoorStateAction, Latch};
use conflict_runtime::deadline::Deadline;
use conflict_runtime::moves::{Engine, ManualClock, Rules, Scheduler};
use conflict_runtime::store::{Change, Create, Move, PgPool, PgStore, Store, Table};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn pool(url: &str, schema: &str, size: u32) -> Result<PgPool, Failure> {
    let options: PgConnectOptions = url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .connect_with(options.options([("search_path", schema)]))
        .await?)
}

/// Creates `count` doors and opens each: `count` deadlines pending.
async fn open_doors(store: &PgStore<Latch, i64>, count: usize) -> Result<(), Failure> {
    let open = Change::new(Move::Action(DoorStateAction::Open));
    for _ in 0..count {
        let door = store.create(Latch::closed()).await?;
        store.apply(door.id(), open.clone()).await?;
    }
    Ok(())
}

fn scheduler(store: &PgStore<Latch, i64>) -> Scheduler<Latch, PgStore<Latch, i64>> {
    Scheduler::new(Engine::new(store.clone(), Rules::new()))
}

/// The database's committed transactions so far.
async fn commits(admin: &PgPool) -> Result<i64, Failure> {
    Ok(sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(admin)
    .await?)
}

/// The transactions the database commits in the next `seconds`.
async fn counted(admin: &PgPool, seconds: u64) -> Result<i64, Failure> {
    let before = commits(admin).await?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(commits(admin).await? - before)
}

#[allow(clippy::cast_precision_loss, reason = "rates for a report")]
async fn run(
    url: &str,
    schema: &str,
    due: usize,
    rate: u32,
    seconds: u64,
    idle: u64,
) -> Result<(), Failure> {
    let first = pool(url, schema, 8).await?;
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
    // Open doors close a second after they open.
    let closes = Deadline::of(
        DoorState::Open,
        DoorStateAction::Close,
        Duration::from_secs(1),
    )?;
    let store: PgStore<Latch, i64> = PgStore::connect(first.clone(), table.clone())
        .await?
        .with_deadline(closes);
    let second: PgStore<Latch, i64> = PgStore::connect(pool(url, schema, 8).await?, table)
        .await?
        .with_deadline(closes);

    // All due at once, made by one scheduler and then by two.
    for schedulers in [1_usize, 2] {
        open_doors(&store, due).await?;
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(2));
        let start = Instant::now();
        let runs: Vec<_> = [&store, &second][..schedulers]
            .iter()
            .map(|store| {
                let scheduler = scheduler(store).clock(clock.clone());
                tokio::spawn(async move { scheduler.run_due().await })
            })
            .collect();
        let mut made = 0;
        for run in runs {
            made += run.await??;
        }
        let took = start.elapsed().as_secs_f64();
        if made != due {
            return Err(format!("{schedulers} scheduler(s) made {made} of {due}").into());
        }
        println!("fired\t{schedulers}\t{due}\t{:.0}", due as f64 / took);
    }

    // Lag: doors opened at a steady rate, each due a second later.
    sqlx::query("TRUNCATE conflict_history, conflict_deadlines")
        .execute(&first)
        .await?;
    let running = scheduler(&store).start();
    let every = Duration::from_secs(1) / rate;
    let mut tick = tokio::time::interval(every);
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        tick.tick().await;
        open_doors(&store, 1).await?;
    }
    // The last ones come due a second after the last opening.
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.shutdown().await;
    let mut lags: Vec<f64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM (c.at - (o.at + interval '1 second'))) * 1000)::float8
           FROM conflict_history c
           JOIN conflict_history o ON o.kind = c.kind AND o.id = c.id AND o.version = c.version - 1
          WHERE c.actor = 'deadline'",
    )
    .fetch_all(&first)
    .await?;
    lags.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "an index into the sorted samples"
    )]
    let at = |quantile: f64| {
        let index = ((lags.len().saturating_sub(1)) as f64 * quantile).round() as usize;
        lags.get(index).copied().unwrap_or(0.0)
    };
    println!(
        "lag\t{rate}\t{:.1}\t{:.1}\t{}",
        at(0.5),
        at(0.99),
        lags.len()
    );

    // Idle: nothing due, the scheduler running; its deadlines here are a
    // second long, so it looks once a second. The database counts
    // transactions late (a backend reports after 10 s idle at worst): wait
    // for the counts of the work above to land, count a window without the
    // scheduler, then one with it, and take the difference.
    let admin = PgPool::connect(url).await?;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let quiet = counted(&admin, idle).await?;
    let running = scheduler(&store).start();
    let busy = counted(&admin, idle).await?;
    running.shutdown().await;
    let queries = (busy - quiet).max(0) as f64 / idle as f64;
    println!("idle\t{idle}\t{queries:.2}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let due: usize = args.next().ok_or("DUE")?.parse()?;
    let rate: u32 = args.next().ok_or("RATE")?.parse()?;
    let seconds: u64 = args.next().ok_or("SECONDS")?.parse()?;
    let idle: u64 = args.next().ok_or("IDLE_SECONDS")?.parse()?;
    let url = std::env::var("DATABASE_URL")?;
    let schema = format!("conflict_deadlines_bench_{}", std::process::id());
    let admin = PgPool::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await?;
    let outcome = run(&url, &schema, due, rate.max(1), seconds, idle.max(1)).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await?;
    outcome
}
