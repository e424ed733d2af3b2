//! The NATS KV online store against a real nats-server: racing writers never let an older event
//! win, and a replica with too small a budget still answers every key (the KV answers what it
//! does not hold), follows writes, and follows them again after the server is killed.
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cairn_bus::Bus;
use cairn_domain::ServiceKind;
use cairn_feature_store::online::{NatsOnlineStore, OnlineRow, OnlineStore, TableId, Value};
use cairn_telemetry::Metrics;
use cairn_testkit::NatsServer;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};
use tokio_util::sync::CancellationToken;

async fn store(server: &NatsServer, budget: usize) -> (NatsOnlineStore, CancellationToken) {
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::config(&server.url(), None, dir.path(), &[]);
    let bus = Bus::connect(&config.nats, ServiceKind::FeatureStore, Metrics::new("test")).await.unwrap();
    let shutdown = CancellationToken::new();
    (NatsOnlineStore::new(bus, budget, shutdown.clone()), shutdown)
}

fn row(event: i64, created: i64, value: i64) -> OnlineRow {
    OnlineRow {
        event_micros: event,
        created_micros: created,
        values: vec![Value::Int(value), Value::Str(format!("v{value}"))],
    }
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_never_let_an_older_event_win() {
    let server = NatsServer::start().await;
    let (first, _a) = store(&server, 1 << 20).await;
    let (second, _b) = store(&server, 1 << 20).await;
    // Random (event, created) times for 50 keys, written by two processes at once in random order.
    let mut runner = TestRunner::new(Config { cases: 1, ..Config::default() });
    let writes =
        proptest::collection::vec((0..50u8, 0..6i64, 0..3i64), 400).new_tree(&mut runner).unwrap().current();
    let table = TableId::new("race", 1);
    let (left, right) = writes.split_at(writes.len() / 2);
    let batch = |part: &[(u8, i64, i64)], offset: i64| -> Vec<(String, OnlineRow)> {
        part.iter()
            .enumerate()
            .map(|(i, (key, event, created))| (format!("k{key}"), row(*event, *created, offset + i as i64)))
            .collect()
    };
    let (one, two) =
        tokio::join!(first.write(&table, batch(left, 0)), second.write(&table, batch(right, 1000)));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert!(one.written + two.written >= 50 && one.kept_newer + two.kept_newer > 0);

    // The reference: per key, the largest (event, created); a tie keeps the first one stored, so
    // compare times and accept any value written with those times.
    let mut newest: HashMap<String, (i64, i64)> = HashMap::new();
    for (key, event, created) in &writes {
        let entry = newest.entry(format!("k{key}")).or_insert((*event, *created));
        *entry = (*entry).max((*event, *created));
    }
    let keys: Vec<String> = newest.keys().cloned().collect();
    let stored = first.read(&table, &keys).await.unwrap();
    for (key, stored) in keys.iter().zip(stored) {
        let stored = stored.unwrap();
        assert_eq!((stored.event_micros, stored.created_micros), newest[key], "{key}");
    }
    // Writing a row as old as the stored one changes nothing.
    let again =
        first.write(&table, vec![(keys[0].clone(), row(newest[&keys[0]].0, newest[&keys[0]].1, -1))]).await;
    assert_eq!(again.unwrap().written, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_replica_answers_every_key_and_follows_writes_across_a_server_kill() {
    let mut server = NatsServer::start().await;
    let (writer, _w) = store(&server, 1 << 20).await;
    // Room for about a hundred of the thousand rows.
    let (reader, _r) = store(&server, 16 * 1024).await;
    let table = TableId::new("small", 3);
    let rows: Vec<(String, OnlineRow)> = (0..1000).map(|i| (format!("{i}"), row(i, 0, i))).collect();
    assert_eq!(writer.write(&table, rows).await.unwrap().written, 1000);

    until("the replica to catch up", || async { reader.replica_ready(&table).await.unwrap() }).await;
    let mut keys: Vec<String> = (0..1000).map(|i| format!("{i}")).collect();
    keys.push("absent".into());
    let read = reader.read(&table, &keys).await.unwrap();
    for (i, found) in read.iter().take(1000).enumerate() {
        assert_eq!(found.as_ref().unwrap().values[0], Value::Int(i as i64), "key {i}");
    }
    assert!(read[1000].is_none());

    // Newer values reach the reader, held or not; then again after a kill -9 of nats-server.
    let update = |value: i64| {
        (0..1000)
            .step_by(37)
            .map(move |i| (format!("{i}"), row(10_000 - value, 0, value)))
            .collect::<Vec<_>>()
    };
    let updated: Vec<String> = update(0).into_iter().map(|(key, _)| key).collect();
    let sees = |value: i64| {
        let (reader, table, updated) = (&reader, &table, &updated);
        move || async move {
            let read = reader.read(table, updated).await;
            read.is_ok_and(|read| {
                read.iter().all(|row| row.as_ref().is_some_and(|row| row.values[0] == Value::Int(value)))
            })
        }
    };
    writer.write(&table, update(-5)).await.unwrap();
    until("the first update", sees(-5)).await;
    server.restart().await;
    until("the writer to reconnect", || async { writer.write(&table, update(-6)).await.is_ok() }).await;
    until("the update after the restart", sees(-6)).await;
}
