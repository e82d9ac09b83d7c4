//! The outbox relayed to the machine's NATS JetStream: a relay killed
//! between a publish and its acknowledgement is restarted, publishes the
//! event again with the same `Nats-Msg-Id`, and the stream keeps each event
//! once.

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use serde_json::Value;
use support::Backend;

/// The NATS the tests use: `NATS_URL`, or the machine's own.
fn nats_url() -> String {
    std::env::var("NATS_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned())
}

fn outbox_crash(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outbox-crash"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start outbox-crash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_before_the_acknowledgement_publishes_each_event_once() {
    let nats = nats_url();
    let client = match async_nats::connect(nats.as_str()).await {
        Ok(client) => client,
        Err(error) => {
            eprintln!(
                "notice: SKIPPED the JetStream relay test: nothing answers at {nats} ({error})"
            );
            return;
        }
    };
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let Backend::Postgres { url, schema } = backend.clone() else {
        unreachable!("a Postgres backend");
    };
    let context = jetstream::new(client);
    let prefix = format!("{schema}.rooms");
    let name = schema.to_uppercase();
    let mut stream = context
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![format!("{prefix}.>")],
            duplicate_window: Duration::from_mins(2),
            ..stream::Config::default()
        })
        .await
        .expect("a stream of the test's own");

    // Three doors open; the first publish reaches the server, the process
    // dies before its acknowledgement.
    let mut mover = outbox_crash(&["publish", &nats, &prefix, &url, &schema]);
    let lines = BufReader::new(mover.stdout.take().expect("stdout"));
    let mut committed = BTreeSet::new();
    let mut published = None;
    for line in lines.lines() {
        let line = line.expect("a line");
        if let Some(key) = line.strip_prefix("committed ") {
            committed.insert(key.to_owned());
        } else if let Some(key) = line.strip_prefix("published ") {
            published = Some(key.to_owned());
        }
        if published.is_some() && committed.len() == 3 {
            break;
        }
    }
    mover.kill().expect("SIGKILL");
    mover.wait().expect("reaped");
    let published = published.expect("a publish");
    assert!(committed.contains(&published));
    // The server has the message: the restarted relay's publish is a repeat.
    let mut stored = 0;
    for _ in 0..100 {
        stored = stream.info().await.unwrap().state.messages;
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, 1);

    // The relay, restarted, publishes all three (the first again, once its
    // lease ends); the stream drops the repeat.
    let mut relay = outbox_crash(&["relay", &nats, &prefix, &url, &schema]);
    let mut delivered = false;
    for _ in 0..300 {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM conflict_deliveries")
            .fetch_one(&backend.pool().await)
            .await
            .unwrap();
        if pending == 0 && stream.info().await.unwrap().state.messages >= 3 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    relay.kill().expect("stop");
    relay.wait().expect("reaped");
    assert!(delivered, "the relay delivered every event");

    let state = stream.info().await.unwrap().state.clone();
    assert_eq!(state.messages, 3, "each event once");
    let mut keys = BTreeSet::new();
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let key = message.headers.get("Nats-Msg-Id").unwrap().to_string();
        assert_eq!(message.subject.as_str(), format!("{prefix}.open"));
        assert_eq!(
            message.headers.get("Conflict-Action").unwrap().as_str(),
            "open"
        );
        let event: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["schema"], "conflict.event.v1");
        assert_eq!(event["key"], key);
        assert_eq!(event["to"], "open");
        assert!(keys.insert(key), "a key published twice");
    }
    assert_eq!(keys, committed);
    context.delete_stream(&name).await.unwrap();
    backend.finish().await;
}
