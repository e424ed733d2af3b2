//! Bus publish throughput: Cairn's typed, durable `Bus::publish` (envelope headers, protobuf,
//! trace context, ack awaited) against async-nats publishing the same bytes to JetStream with
//! the ack awaited; and `Bus::publish_many` against async-nats with the same number of acks in
//! flight (the bus's limit on this machine).
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::time::{Duration, Instant};

use cairn_bus::Bus;
use cairn_domain::ServiceKind;
use cairn_events::v1::DatasetCreated;
use cairn_telemetry::Metrics;
use cairn_testkit::NatsServer;
use prost::Message as _;

const EVENTS: usize = 20_000;
const WINDOW: usize = 256;

fn event(i: usize) -> DatasetCreated {
    DatasetCreated {
        dataset: format!("dataset_{i}"),
        schema_json:
            r#"{"columns":[{"name":"ts","type":"timestamp","nullable":false}],"event_timestamp":"ts"}"#.into(),
        created_at_unix_micros: 1_700_000_000_000_000 + i as i64,
    }
}

async fn purge(bus: &Bus) {
    bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap().purge().await.unwrap();
}

fn rate(elapsed: Duration) -> f64 {
    EVENTS as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let server = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::config(&server.url(), None, dir.path(), &[]);
    let bus = Bus::connect(&config.nats, ServiceKind::Ingestion, Metrics::new("bench")).await.unwrap();
    bus.ensure_topology().await.unwrap();
    let jetstream = bus.jetstream().clone();
    let payloads: Vec<bytes::Bytes> = (0..EVENTS).map(|i| event(i).encode_to_vec().into()).collect();

    // Warm-up, not measured.
    for i in 0..500 {
        bus.publish(&event(i)).await.unwrap();
    }

    purge(&bus).await;
    let started = Instant::now();
    for payload in &payloads {
        jetstream.publish("cairn.datasets.created", payload.clone()).await.unwrap().await.unwrap();
    }
    let raw_sequential = rate(started.elapsed());

    purge(&bus).await;
    let started = Instant::now();
    for i in 0..EVENTS {
        bus.publish(&event(i)).await.unwrap();
    }
    let cairn_sequential = rate(started.elapsed());

    purge(&bus).await;
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::with_capacity(WINDOW);
    for payload in &payloads {
        if pending.len() == WINDOW {
            let ack: async_nats::jetstream::context::PublishAckFuture = pending.pop_front().unwrap();
            ack.await.unwrap();
        }
        pending.push_back(jetstream.publish("cairn.datasets.created", payload.clone()).await.unwrap());
    }
    for ack in pending {
        ack.await.unwrap();
    }
    let raw_pipelined = rate(started.elapsed());

    // The same envelope headers Cairn sends, built beforehand: the server's share of the cost.
    let headers: Vec<async_nats::HeaderMap> = (0..EVENTS)
        .map(|_| {
            let mut map = async_nats::HeaderMap::new();
            map.insert("Nats-Msg-Id", cairn_domain::EventId::new().to_string().as_str());
            map.insert("Cairn-Event-Type", "cairn.events.v1.DatasetCreated");
            map.insert("Cairn-Source", "ingestion");
            map.insert("Cairn-Time", cairn_domain::Timestamp::now().to_string().as_str());
            map.insert("Content-Type", "application/protobuf");
            map
        })
        .collect();
    purge(&bus).await;
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::with_capacity(WINDOW);
    for (payload, headers) in payloads.iter().zip(headers) {
        if pending.len() == WINDOW {
            let ack: async_nats::jetstream::context::PublishAckFuture = pending.pop_front().unwrap();
            ack.await.unwrap();
        }
        pending.push_back(
            jetstream.publish_with_headers("cairn.datasets.created", headers, payload.clone()).await.unwrap(),
        );
    }
    for ack in pending {
        ack.await.unwrap();
    }
    let raw_with_headers = rate(started.elapsed());

    purge(&bus).await;
    let events: Vec<cairn_bus::RawEvent> = (0..EVENTS).map(|i| cairn_bus::RawEvent::new(&event(i))).collect();
    let started = Instant::now();
    bus.publish_many(&events).await.unwrap();
    let cairn_pipelined = rate(started.elapsed());

    println!("bus publish, {EVENTS} events of {} bytes, nats-server on loopback", payloads[0].len());
    println!("{:<46} {:>12}  {:>8}", "", "events/s", "ratio");
    println!("{:<46} {:>12.0}  {:>8}", "async-nats JetStream publish, ack awaited", raw_sequential, "1.00");
    println!(
        "{:<46} {:>12.0}  {:>8.2}",
        "Cairn Bus::publish, ack awaited",
        cairn_sequential,
        cairn_sequential / raw_sequential
    );
    println!(
        "{:<46} {:>12.0}  {:>8.2}",
        format!("async-nats JetStream publish, {WINDOW} in flight"),
        raw_pipelined,
        raw_pipelined / raw_sequential
    );
    println!(
        "{:<46} {:>12.0}  {:>8.2}",
        format!("  same, with Cairn's envelope headers"),
        raw_with_headers,
        raw_with_headers / raw_sequential
    );
    println!(
        "{:<46} {:>12.0}  {:>8.2}",
        format!("Cairn Bus::publish_many, {WINDOW} in flight"),
        cairn_pipelined,
        cairn_pipelined / raw_sequential
    );
    println!(
        "Cairn pipelined / raw pipelined: {:.2} (against raw with the same headers: {:.2})",
        cairn_pipelined / raw_pipelined,
        cairn_pipelined / raw_with_headers
    );
}
