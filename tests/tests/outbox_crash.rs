//! Effects survive a crash: a process is killed (SIGKILL) after its moves
//! committed, with one handler under way and one not yet started; a new
//! process runs both, with the same keys, each once.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::Backend;

fn outbox_crash(mode: &str, url: &str, schema: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outbox-crash"))
        .args([mode, url, schema])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start outbox-crash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_run_after_a_kill_with_the_same_keys() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let Backend::Postgres { url, schema } = backend.clone() else {
        unreachable!("a Postgres backend");
    };
    let pool = backend.pool().await;
    sqlx::raw_sql(
        "CREATE TABLE crash_log (key text NOT NULL, what text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&pool)
    .await
    .expect("crash_log");

    // The moves commit; the first handler starts; the process dies.
    let mut mover = outbox_crash("move", &url, &schema);
    let lines = BufReader::new(mover.stdout.take().expect("stdout"));
    let mut keys = Vec::new();
    for line in lines.lines() {
        let line = line.expect("a line");
        if line == "ready" {
            break;
        }
        keys.push(
            line.strip_prefix("committed ")
                .expect("committed KEY")
                .to_owned(),
        );
    }
    mover.kill().expect("SIGKILL");
    mover.wait().expect("reaped");
    assert_eq!(keys.len(), 2);
    let log = || async {
        sqlx::query_as::<_, (String, String)>("SELECT key, what FROM crash_log ORDER BY at")
            .fetch_all(&pool)
            .await
            .expect("crash_log")
    };
    assert_eq!(log().await, [(keys[0].clone(), "started".to_owned())]);

    // A new process takes over the delivery under way once its lease ends,
    // and runs the one that never started.
    let mut dispatcher = outbox_crash("dispatch", &url, &schema);
    let mut done = Vec::new();
    for _ in 0..600 {
        done = log()
            .await
            .into_iter()
            .filter(|(_, what)| what == "done")
            .map(|(key, _)| key)
            .collect();
        if done.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a second delivery of either to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    dispatcher.kill().expect("stop");
    dispatcher.wait().expect("reaped");
    let mut handled: Vec<String> = log()
        .await
        .into_iter()
        .filter(|(_, what)| what == "done")
        .map(|(key, _)| key)
        .collect();
    handled.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(
        handled, expected,
        "each handled once, with its key ({done:?})"
    );
    backend.finish().await;
}
