//! Streamed records: durably accepted, written once to the offline store through NATS crashes
//! and service restarts, versioned by snapshots.

use std::time::Duration;

use cairn_api::NewDataset;
use cairn_domain::ServiceKind;

use crate::{Platform, Store, eventually};

fn dataset() -> NewDataset {
    serde_json::from_value(serde_json::json!({
        "name": "clicks",
        "schema": {
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "value", "type": "float64", "rules": {"min": 0}}
            ],
            "event_timestamp": "ts"
        }
    }))
    .unwrap()
}

const SETTINGS: &[(&str, &str)] =
    &[("CAIRN__INGESTION__STREAM_FLUSH_MILLIS", "200"), ("CAIRN__INGESTION__SNAPSHOT_INTERVAL_SECS", "0")];

fn chunk(c: usize, size: usize) -> String {
    (c * size..(c + 1) * size)
        .map(|i| {
            format!("{{\"id\": {i}, \"ts\": \"2026-03-0{}T12:00:00Z\", \"value\": {}}}\n", 1 + i % 5, i % 100)
        })
        .collect()
}

/// Posts one chunk until it is accepted: a producer retrying through outages, same key each time.
async fn post_until_accepted(platform: &Platform, c: usize, size: usize) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    loop {
        let url = format!("{}/v1/datasets/clicks/records", platform.service(ServiceKind::Ingestion).url());
        let response = http
            .post(url)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", format!("chunk-{c}"))
            .body(chunk(c, size))
            .send()
            .await;
        if response.is_ok_and(|r| r.status().as_u16() == 202) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn records_land_exactly_once(store: Store) {
    const CHUNKS: usize = 30;
    const SIZE: usize = 1000;
    let mut platform = Platform::start_with(store, &[ServiceKind::Ingestion], SETTINGS).await;
    platform.client(ServiceKind::Ingestion).create_dataset(&dataset()).await.unwrap();

    for c in 0..CHUNKS {
        if c == 10 {
            platform.nats.kill9();
            let restart = platform.nats.restart();
            restart.await;
        }
        if c == 20 {
            platform.restart(ServiceKind::Ingestion).await;
        }
        post_until_accepted(&platform, c, SIZE).await;
        if c == 5 {
            // A retried request (same key) stores nothing new.
            post_until_accepted(&platform, 3, SIZE).await;
        }
    }

    let client = platform.client(ServiceKind::Ingestion);
    let total = (CHUNKS * SIZE) as u64;
    let version = eventually("every record in a version", || async {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/datasets/clicks/snapshots", client.base_url()))
            .send()
            .await
            .ok()?;
        let _ = response.status();
        let versions = client.versions("clicks").await.ok()?;
        versions.last().filter(|v| v.rows >= total).cloned()
    })
    .await;
    assert_eq!(version.rows, total, "{store:?}: none lost, none twice");
    let profile: cairn_api::ProfileSummary =
        client.get(&format!("/v1/datasets/clicks/versions/{}/profile", version.version)).await.unwrap();
    assert_eq!(profile.rows, total, "the snapshot's profile covers every streamed record");
    let manifest = client.version("clicks", version.version).await.unwrap();
    let root = platform.config.offline_root();
    let paths: Vec<String> =
        manifest.files.iter().map(|f| format!("'{}'", root.join(&f.path).display())).collect();
    let rows = crate::batches::duckdb(&format!(
        "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM read_parquet([{}])",
        paths.join(", ")
    ));
    assert_eq!(rows[0], serde_json::json!([total, total, 0, total - 1]));
    platform.stop().await;
}

#[tokio::test]
async fn records_land_exactly_once_on_sqlite() {
    records_land_exactly_once(Store::Sqlite).await;
}

#[tokio::test]
async fn records_land_exactly_once_on_postgres() {
    records_land_exactly_once(Store::Postgres).await;
}

#[tokio::test]
async fn bad_streamed_records_are_quarantined_and_bad_requests_refused() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], SETTINGS).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();
    let records = serde_json::json!([
        {"id": 1, "ts": "2026-03-01T00:00:00Z", "value": 1.0},
        {"id": "two", "ts": "2026-03-01T00:00:00Z"},
        {"id": 3, "ts": "2026-03-01T00:00:00Z", "value": -1.0}
    ]);
    let accepted: serde_json::Value = client.post("/v1/datasets/clicks/records", &records).await.unwrap();
    assert_eq!(accepted["accepted"], 3);

    let batch = eventually("the micro-batch", || async {
        client
            .batches("clicks")
            .await
            .ok()?
            .into_iter()
            .find(|b| b.format == "stream" && b.state == "committed")
    })
    .await;
    let report = batch.report.unwrap();
    assert_eq!((report.rows_in, report.rows_accepted, report.rows_quarantined), (3, 1, 2));
    assert_eq!(report.quarantined_by_rule.get("type"), Some(&1));
    assert_eq!(report.quarantined_by_rule.get("min"), Some(&1));

    let error =
        client.post::<_, serde_json::Value>("/v1/datasets/clicks/records", &serde_json::json!([1, 2])).await;
    assert_eq!(error.unwrap_err().code(), Some("invalid_request"));
    let error = client.post::<_, serde_json::Value>("/v1/datasets/none/records", &records).await;
    assert_eq!(error.unwrap_err().code(), Some("not_found"));
    platform.stop().await;
}

/// A producer on NATS may pack records itself: a JSON Lines message holds several, one per line;
/// any other message is one JSON object, even spread over lines.
#[tokio::test]
async fn producers_publish_one_record_or_json_lines_per_message() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], SETTINGS).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();
    let jetstream = async_nats::jetstream::new(async_nats::connect(platform.nats.url()).await.unwrap());
    let publish = |id: &'static str, content_type: Option<&'static str>, payload: &'static str| {
        let jetstream = jetstream.clone();
        async move {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", id);
            if let Some(content_type) = content_type {
                headers.insert("Content-Type", content_type);
            }
            jetstream
                .publish_with_headers("cairn.ingest.clicks", headers, payload.into())
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    let lines = "{\"id\": 1, \"ts\": \"2026-03-01T00:00:00Z\", \"value\": 1}\n\n{\"id\": 2, \"ts\": \"2026-03-02T00:00:00Z\"}\n{\"id\": \"three\"}";
    publish("packed", Some("application/x-ndjson"), lines).await;
    let ack = publish("packed", Some("application/x-ndjson"), lines).await;
    assert!(ack.duplicate, "the key covers the whole message");
    publish("pretty", None, "{\n  \"id\": 4,\n  \"ts\": \"2026-03-04T00:00:00Z\"\n}").await;
    // Over HTTP, a pretty-printed array still makes one record of each element.
    let pretty = serde_json::to_string_pretty(&serde_json::json!([
        {"id": 5, "ts": "2026-03-05T00:00:00Z", "value": 5},
        {"id": 6, "ts": "2026-03-06T00:00:00Z"}
    ]))
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/datasets/clicks/records", client.base_url()))
        .header("content-type", "application/json")
        .body(pretty)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    let reports = eventually("every message landed", || async {
        let reports: Vec<_> = client
            .batches("clicks")
            .await
            .ok()?
            .into_iter()
            .filter(|b| b.format == "stream" && b.state == "committed")
            .filter_map(|b| b.report)
            .collect();
        (reports.iter().map(|r| r.rows_in).sum::<u64>() == 6).then_some(reports)
    })
    .await;
    let accepted: u64 = reports.iter().map(|r| r.rows_accepted).sum();
    let quarantined: u64 = reports.iter().map(|r| r.rows_quarantined).sum();
    assert_eq!((accepted, quarantined), (5, 1), "the blank line is no record; `three` is not an int64");
    platform.stop().await;
}
