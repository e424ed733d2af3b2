//! The event contract is public: a Python subscriber, with code generated from the same .proto
//! files, decodes an event a Rust service published.

use std::path::Path;
use std::process::Command;

use cairn_api::NewDataset;
use cairn_domain::ServiceKind;

use crate::{Platform, Store, eventually};

#[tokio::test]
async fn a_python_subscriber_decodes_an_event_published_by_a_rust_service() {
    let platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion, ServiceKind::FeatureStore], &[]).await;
    let dataset: NewDataset = serde_json::from_value(serde_json::json!({
        "name": "payments",
        "schema": {"columns": [{"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts"}
    }))
    .unwrap();
    let declared = platform.client(ServiceKind::Ingestion).create_dataset(&dataset).await.unwrap();
    let feature_store = platform.client(ServiceKind::FeatureStore);
    let source =
        eventually("the event", || async { feature_store.source_dataset("payments").await.ok() }).await;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let nats_url = platform.nats.url();
    let proto_dir = root.join("../proto");
    let script = root.join("python/subscriber.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(cairn_testkit::python())
            .arg(script)
            .args(["--url", &nats_url, "--proto", &proto_dir.display().to_string()])
            .args(["--stream", "CAIRN_DATASETS", "--subject", "cairn.datasets.created"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python subscriber failed: {stderr}");
    let decoded: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let headers = &decoded["headers"];
    assert_eq!(headers["Cairn-Event-Type"], "cairn.events.v1.DatasetCreated");
    assert_eq!(headers["Cairn-Source"], "ingestion");
    assert_eq!(headers["Nats-Msg-Id"], source.event_id.as_str());
    assert!(headers["traceparent"].as_str().unwrap().contains(source.trace_id.as_deref().unwrap()));
    let event = &decoded["event"];
    assert_eq!(event["dataset"], "payments");
    assert_eq!(event["created_at_unix_micros"], declared.created_at.as_micros().to_string());
    let schema: serde_json::Value = serde_json::from_str(event["schema_json"].as_str().unwrap()).unwrap();
    assert_eq!(schema, serde_json::to_value(&declared.schema).unwrap());
    platform.stop().await;
}
