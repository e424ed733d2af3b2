//! Redelivery never applies an event twice: the feature store's consumer replays the whole stream
//! after its durable consumer is lost, and the inbox skips what it already applied.

use cairn_db::{Database, inbox};
use cairn_domain::ServiceKind;
use cairn_events::v1::DatasetCreated;

use crate::{Platform, Store, eventually};

async fn replayed_events_are_applied_once(store: Store) {
    let mut platform = Platform::start_with(store, &[ServiceKind::FeatureStore], &[]).await;
    let bus = cairn_bus::Bus::connect(
        &platform.config.nats,
        ServiceKind::Ingestion,
        cairn_telemetry::Metrics::new("t"),
    )
    .await
    .unwrap();
    let schema = r#"{"columns":[{"name":"ts","type":"timestamp","nullable":false}],"event_timestamp":"ts"}"#;
    let event =
        DatasetCreated { dataset: "clicks".into(), schema_json: schema.into(), created_at_unix_micros: 1 };
    let published = bus.publish(&event).await.unwrap();
    // A second, acknowledged publish of the same event (a producer retry) is stored once.
    assert!(bus.publish_with_id(published.event_id, &event).await.unwrap().duplicate);

    let feature_store = platform.client(ServiceKind::FeatureStore);
    eventually("first delivery", || async { feature_store.source_dataset("clicks").await.ok() }).await;

    // Lose the durable consumer and crash NATS: the restarted service replays from the start.
    bus.jetstream()
        .get_stream("CAIRN_DATASETS")
        .await
        .unwrap()
        .delete_consumer("feature-store_datasets")
        .await
        .unwrap();
    platform.nats.kill9();
    platform.nats.restart().await;
    platform.restart(ServiceKind::FeatureStore).await;

    let db = Database::connect(&platform.database_url(ServiceKind::FeatureStore), 1, "feature_store", &[])
        .await
        .unwrap();
    eventually("the replay to be consumed", || async {
        let stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.ok()?;
        let mut consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>("feature-store_datasets")
            .await
            .ok()?;
        let info = consumer.info().await.ok()?;
        (info.delivered.stream_sequence >= 1 && info.num_ack_pending == 0 && info.num_pending == 0)
            .then_some(())
    })
    .await;
    let feature_store = platform.client(ServiceKind::FeatureStore);
    let applied = db.run(|conn| inbox::processed_count(conn, "feature-store_datasets")).await.unwrap();
    assert_eq!(applied, 1, "{store:?}: the replayed event was skipped");
    let source = feature_store.source_dataset("clicks").await.unwrap();
    assert_eq!(source.event_id, published.event_id.to_string());
    platform.stop().await;
}

#[tokio::test]
async fn replayed_events_are_applied_once_on_sqlite() {
    replayed_events_are_applied_once(Store::Sqlite).await;
}

#[tokio::test]
async fn replayed_events_are_applied_once_on_postgres() {
    replayed_events_are_applied_once(Store::Postgres).await;
}
