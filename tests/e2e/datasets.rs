//! A dataset declared on ingestion reaches the feature store over NATS, in the caller's trace.

use cairn_api::NewDataset;
use cairn_domain::ServiceKind;

use crate::{Platform, Store, eventually};

fn new_dataset(name: &str) -> NewDataset {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "schema": {
            "columns": [
                {"name": "customer_id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64"},
                {"name": "channel", "type": "categorical", "values": ["web", "store"]}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["customer_id"]
        }
    }))
    .unwrap()
}

async fn declared_dataset_reaches_the_feature_store_in_one_trace(store: Store) {
    let platform =
        Platform::start_with(store, &[ServiceKind::Ingestion, ServiceKind::FeatureStore], &[]).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let ingestion = platform
        .client(ServiceKind::Ingestion)
        .with_traceparent(format!("00-{trace_id}-b7ad6b7169203331-01"));
    let feature_store = platform.client(ServiceKind::FeatureStore);

    let declared = ingestion.create_dataset(&new_dataset("transactions")).await.unwrap();
    assert_eq!(ingestion.dataset("transactions").await.unwrap(), declared);
    assert_eq!(ingestion.datasets().await.unwrap(), vec![declared.clone()]);

    let source = eventually("the feature store to learn of the dataset", || async {
        feature_store.source_dataset("transactions").await.ok()
    })
    .await;
    assert_eq!(source.schema, declared.schema, "{store:?}");
    assert_eq!(source.created_at, declared.created_at);
    assert_eq!(source.trace_id.as_deref(), Some(trace_id), "HTTP request → event → consumer share one trace");
    let missing = feature_store.source_dataset("nothing").await.unwrap_err();
    assert_eq!(missing.code(), Some("not_found"));

    // A column added on ingestion reaches the feature store's catalog too.
    let mut evolved = declared.schema.clone();
    evolved
        .columns
        .push(serde_json::from_value(serde_json::json!({"name": "note", "type": "string"})).unwrap());
    ingestion.evolve_schema("transactions", &evolved).await.unwrap();
    eventually("the feature store to learn of the new column", || async {
        feature_store.source_dataset("transactions").await.ok().filter(|s| s.schema == evolved)
    })
    .await;
    platform.stop().await;
}

#[tokio::test]
async fn declared_dataset_reaches_the_feature_store_on_sqlite() {
    declared_dataset_reaches_the_feature_store_in_one_trace(Store::Sqlite).await;
}

#[tokio::test]
async fn declared_dataset_reaches_the_feature_store_on_postgres() {
    declared_dataset_reaches_the_feature_store_in_one_trace(Store::Postgres).await;
}

#[tokio::test]
async fn a_change_made_while_nats_is_down_is_published_when_it_returns() {
    let mut platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion, ServiceKind::FeatureStore], &[]).await;
    let ingestion = platform.client(ServiceKind::Ingestion);
    platform.nats.kill9();
    let declared = ingestion.create_dataset(&new_dataset("offline")).await.unwrap();
    assert_eq!(declared.name.as_str(), "offline", "the change is committed without the bus");

    platform.nats.restart().await;
    let feature_store = platform.client(ServiceKind::FeatureStore);
    let source = eventually("the outbox relay to publish", || async {
        feature_store.source_dataset("offline").await.ok()
    })
    .await;
    assert_eq!(source.schema, declared.schema);
    platform.stop().await;
}
