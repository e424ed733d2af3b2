//! Online features: materialized from the offline store, equal to what historical retrieval
//! answers for now, kept current by the streaming path, read in Feast's shapes with TTL statuses.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use cairn_api::{
    FieldStatus, Materialization, MaterializationState, MaterializeRequest, OnlineRequest, OnlineResponse,
};
use cairn_client::{Client, HistoricalRequest};
use cairn_domain::Timestamp;
use cairn_feature_store::point_in_time::{
    ViewFiles, ViewSpec, point_in_time_join_files, read_parquet, write_parquet,
};
use serde_json::json;

use crate::{Store, eventually, last_event};

const ENTITIES: i64 = 40;
const MINUTE: i64 = 60;

/// Rows of entity `i`: its latest `5 + 10·i` minutes ago with amount `10·i` (entity 7's latest
/// amount is null), and three older ones an hour apart with amounts `10·i + k`.
pub(crate) fn history(now: i64) -> String {
    let mut csv = String::from("id,ts,amount,channel\n");
    for i in 0..ENTITIES {
        let latest = now - (5 + 10 * i) * MINUTE;
        for k in (0..4).rev() {
            let ts = Timestamp::from_micros((latest - k * 60 * MINUTE) * 1_000_000).unwrap();
            let amount = if i == 7 && k == 0 { String::new() } else { (10 * i + k).to_string() };
            let channel = if (i + k) % 2 == 0 { "web" } else { "store" };
            csv.push_str(&format!("{i},{ts},{amount},{channel}\n"));
        }
    }
    csv
}

/// `spend`'s TTL is `spend_ttl` seconds (0: none).
fn definitions(spend_ttl: u64) -> cairn_api::Definitions {
    serde_json::from_value(json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [
            {"name": "spend", "source": "payments", "entities": ["customer"], "ttl_seconds": spend_ttl,
             "features": [{"name": "amount", "type": "float64"},
                          {"name": "channel", "type": "categorical", "values": ["web", "store"]}]},
            {"name": "recent", "source": "payments", "entities": ["customer"], "ttl_seconds": 3600,
             "features": [{"name": "amount", "type": "float64"}]}
        ],
        "feature_services": [{"name": "fraud", "features": ["spend:amount", "recent"]}]
    }))
    .unwrap()
}

pub(crate) async fn finished(client: &Client, run: &Materialization) -> Materialization {
    eventually("the materialization to finish", || async {
        let run = client.materialization(&run.id).await.ok()?;
        (run.state != MaterializationState::Running).then_some(run)
    })
    .await
}

fn request(features: &[&str], ids: &[serde_json::Value]) -> OnlineRequest {
    serde_json::from_value(json!({"features": features, "entities": {"id": ids}})).unwrap()
}

fn column<'r>(response: &'r OnlineResponse, name: &str) -> &'r cairn_api::FeatureVector {
    let index = response.metadata.feature_names.iter().position(|n| n == name).unwrap();
    &response.results[index]
}

/// What historical retrieval answers for every id as of `now`, per feature.
fn offline_now(files: Vec<PathBuf>, ids: &[i64], now: i64) -> (ArrayRef, ArrayRef) {
    let entities = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from(vec![now * 1_000_000; ids.len()]).with_timezone("UTC"))
                as ArrayRef,
        ),
    ])
    .unwrap();
    let spec = ViewSpec {
        name: "spend".into(),
        join_keys: vec!["id".into()],
        features: vec!["amount".into(), "channel".into()],
        event_timestamp: "ts".into(),
        created_timestamp: None,
        ttl_micros: None,
    };
    let joined =
        point_in_time_join_files(&entities, "at", &[ViewFiles { spec, paths: files }], false).unwrap();
    (joined.column_by_name("amount").unwrap().clone(), joined.column_by_name("channel").unwrap().clone())
}

async fn historical_equals_the_join(features: &Client, files: Vec<PathBuf>, ids: &[i64], now: i64) {
    let times: Vec<i64> = ids
        .iter()
        .enumerate()
        .map(|(i, _)| (now - if i % 2 == 0 { 0 } else { 100 * MINUTE }) * 1_000_000)
        .collect();
    let entities = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        (
            "event_timestamp",
            Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")) as ArrayRef,
        ),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&entities, &dir.path().join("entities.parquet")).unwrap();
    let upload = std::fs::read(dir.path().join("entities.parquet")).unwrap();
    let request = HistoricalRequest {
        features: vec!["spend:amount".into(), "spend:channel".into(), "recent:amount".into()],
        full_feature_names: true,
        ..HistoricalRequest::default()
    };
    let (parquet, views) = features.historical_features(&request, upload.clone()).await.unwrap();
    assert_eq!(views, ["spend@1", "recent@1"]);
    std::fs::write(dir.path().join("training.parquet"), &parquet).unwrap();
    let (schema, batches) = read_parquet(&[dir.path().join("training.parquet")], None).unwrap();
    let training = arrow_select::concat::concat_batches(&schema, &batches).unwrap();

    let view = |name: &str, features: &[&str], ttl: Option<i64>| ViewFiles {
        spec: ViewSpec {
            name: name.into(),
            join_keys: vec!["id".into()],
            features: features.iter().map(|f| (*f).to_owned()).collect(),
            event_timestamp: "ts".into(),
            created_timestamp: None,
            ttl_micros: ttl,
        },
        paths: files.clone(),
    };
    let views =
        [view("spend", &["amount", "channel"], None), view("recent", &["amount"], Some(3_600_000_000))];
    let expected = point_in_time_join_files(&entities, "event_timestamp", &views, true).unwrap();
    let schema = training.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "event_timestamp", "spend__amount", "spend__channel", "recent__amount"]);
    for (index, name) in names.iter().enumerate() {
        let (got, want) = (training.column(index), expected.column(index));
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(got.to_data().null_count(), want.to_data().null_count(), "{name}");
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{name}");
    }
    assert!(expected.column(4).null_count() > 0 && expected.column(2).null_count() < ids.len());

    // Refusals name the problem.
    let status = |error: cairn_client::ClientError| match error {
        cairn_client::ClientError::Api { status, body } => (status, body.error.message),
        other => panic!("{other}"),
    };
    let unknown = HistoricalRequest { features: vec!["spend:nope".into()], ..HistoricalRequest::default() };
    let (code, message) = status(features.historical_features(&unknown, upload.clone()).await.unwrap_err());
    assert_eq!((code, message.as_str()), (422, "feature view `spend` has no feature `nope`"));
    let (code, message) =
        status(features.historical_features(&request, b"not parquet".to_vec()).await.unwrap_err());
    assert_eq!(code, 422);
    assert!(message.starts_with("the entity file"), "{message}");
    let elsewhere = HistoricalRequest { entity_timestamp: Some("at".into()), ..request.clone() };
    let (code, message) = status(features.historical_features(&elsewhere, upload).await.unwrap_err());
    assert_eq!(code, 422);
    assert!(message.contains("`at`"), "{message}");
}

async fn online_features_equal_offline_and_follow_the_stream(store: Store) {
    let (platform, ingestion, features) = crate::features::with_payments(store).await;
    let now = Timestamp::now().as_micros() / 1_000_000;
    let batch = ingestion.ingest("payments", "text/csv", history(now)).await.unwrap();
    assert_eq!(batch.report.as_ref().map(|report| report.rows_accepted), Some(160));
    features.apply_features(&definitions(0), None).await.unwrap();

    // Nothing is online before a materialization.
    let ids: Vec<serde_json::Value> = (0..ENTITIES).chain([999]).map(|id| json!(id)).collect();
    let before = features.online_features(&request(&["spend:amount"], &ids)).await.unwrap();
    assert!(column(&before, "amount").statuses.iter().all(|s| *s == FieldStatus::NotFound));

    // The batch's files reach the feature store through its event; materialize once they have.
    let run = eventually("the batch's files", || async {
        let run = features.materialize("spend", &MaterializeRequest::default()).await.unwrap();
        let run = finished(&features, &run).await;
        (run.files > 0).then_some(run)
    })
    .await;
    assert_eq!(run.state, MaterializationState::Succeeded, "{:?}", run.error);
    assert_eq!((run.rows_read, run.entities, run.rows_written), (160, 40, 40));
    let recent = features.materialize("recent", &MaterializeRequest::default()).await.unwrap();
    assert_eq!(finished(&features, &recent).await.state, MaterializationState::Succeeded);

    // Online equals offline: historical retrieval as of now, on the dataset's files.
    let version = ingestion.version("payments", batch.version.unwrap()).await.unwrap();
    let root = platform.config.offline_root();
    let files: Vec<PathBuf> = version.files.iter().map(|file| root.join(&file.path)).collect();
    let numeric_ids: Vec<i64> = (0..ENTITIES).chain([999]).collect();
    let (amounts, channels) = offline_now(files.clone(), &numeric_ids, now);
    let online = features.online_features(&request(&["spend:amount", "spend:channel"], &ids)).await.unwrap();
    assert_eq!(online.metadata.feature_names, ["id", "amount", "channel"]);
    assert_eq!(column(&online, "id").values, ids);
    let (amount, channel) = (column(&online, "amount"), column(&online, "channel"));
    for (row, id) in numeric_ids.iter().enumerate() {
        let offline_amount =
            (!amounts.is_null(row)).then(|| amounts.as_primitive::<Float64Type>().value(row));
        let offline_channel =
            (!channels.is_null(row)).then(|| channels.as_string::<i32>().value(row).to_owned());
        assert_eq!(amount.values[row].as_f64(), offline_amount, "amount of {id}");
        assert_eq!(channel.values[row].as_str().map(str::to_owned), offline_channel, "channel of {id}");
        let expected = match id {
            999 => FieldStatus::NotFound,
            7 => FieldStatus::NullValue,
            _ => FieldStatus::Present,
        };
        assert_eq!(amount.statuses[row], expected, "status of {id}");
    }
    assert_eq!(amount.values[3], json!(30.0));
    let latest_of_3 = Timestamp::from_micros((now - 35 * MINUTE) * 1_000_000).unwrap();
    assert_eq!(amount.event_timestamps[3].0, latest_of_3.as_micros());
    assert_eq!(amount.event_timestamps[40].to_string(), "1970-01-01T00:00:00Z");

    // Training data over HTTP: an uploaded entity file, joined by the service, equals the join
    // done here on the dataset's files (half the rows now, half 100 minutes ago).
    historical_equals_the_join(&features, files, &numeric_ids, now).await;

    // TTL on read: `recent` keeps values for an hour; older ones are reported, not hidden.
    let service: OnlineRequest = serde_json::from_value(
        json!({"feature_service": "fraud", "entities": {"id": ids}, "full_feature_names": true}),
    )
    .unwrap();
    let served = features.online_features(&service).await.unwrap();
    assert_eq!(served.metadata.feature_names, ["id", "spend__amount", "recent__amount"]);
    let recent = column(&served, "recent__amount");
    for i in 0..ENTITIES as usize {
        let expected = match i {
            0..=5 => FieldStatus::Present,
            _ => FieldStatus::OutsideMaxAge,
        };
        assert_eq!(recent.statuses[i], expected, "recent amount of {i}");
    }
    assert_eq!(recent.values[20], json!(200.0), "a stale value is still answered");

    // The streaming path: a newer row replaces entity 1's value, an older one leaves entity 2's.
    let update = format!(
        "id,ts,amount,channel\n1,{},5000,web\n2,{},7777,web\n",
        Timestamp::from_micros((now - 30) * 1_000_000).unwrap(),
        Timestamp::from_micros((now - 10 * 60 * MINUTE) * 1_000_000).unwrap(),
    );
    ingestion.ingest("payments", "text/csv", update).await.unwrap();
    let streamed = eventually("entity 1's new amount online", || async {
        let online =
            features.online_features(&request(&["spend:amount"], &[json!(1), json!(2)])).await.ok()?;
        (column(&online, "amount").values[0] == json!(5000.0)).then_some(online)
    })
    .await;
    assert_eq!(column(&streamed, "amount").values[1], json!(20.0), "an older event never overwrites");
    // ... and the store reports it: rows written, the older one kept out, the replica's memory.
    let metrics =
        reqwest::get(format!("{}/metrics", features.base_url())).await.unwrap().text().await.unwrap();
    let metric = |name: &str, label: &str| -> f64 {
        let line = metrics.lines().find(|line| line.starts_with(name) && line.contains(label));
        line.and_then(|line| line.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} {label}: {metrics}"))
    };
    assert!(metric("cairn_online_writes_total", "outcome=\"written\"") >= 81.0);
    assert!(metric("cairn_online_writes_total", "outcome=\"kept_newer\"") >= 1.0);
    assert!(metric("cairn_online_replica_bytes", "") > 0.0);

    // Incremental: the next run starts where the last one ended, and is announced.
    let next = features.materialize("spend", &MaterializeRequest::default()).await.unwrap();
    assert_eq!(next.start, Some(run.end));
    let next = finished(&features, &next).await;
    assert_eq!(next.state, MaterializationState::Succeeded);
    let event = last_event::<cairn_events::v1::FeatureViewMaterialized>(&platform, |event| {
        event.materialization_id == next.id
    })
    .await;
    assert_eq!((event.feature_view.as_str(), event.version, event.error.as_str()), ("spend", 1, ""));
    let runs = features.materializations("spend").await.unwrap();
    assert_eq!(
        runs.iter().map(|run| run.id.as_str()).collect::<Vec<_>>()[..2],
        [next.id.as_str(), run.id.as_str()]
    );

    // A new version of an online view is materialized by itself, and reads move to it once it
    // has its values — never answering from an empty version in between. Version 2 has a TTL of
    // two hours, so entity 20 (its latest row 205 minutes old) turns OUTSIDE_MAX_AGE.
    let plan = features.apply_features(&definitions(7200), None).await.unwrap();
    assert!(plan.changes.iter().any(|c| c.name.as_str() == "spend" && c.to_version == Some(2)));
    let twenty = request(&["spend:amount"], &[json!(20)]);
    let status = column(&features.online_features(&twenty).await.unwrap(), "amount").statuses[0];
    assert!([FieldStatus::Present, FieldStatus::OutsideMaxAge].contains(&status), "{status:?}");
    eventually("reads to move to version 2", || async {
        let online = features.online_features(&twenty).await.ok()?;
        (column(&online, "amount").statuses[0] == FieldStatus::OutsideMaxAge).then_some(())
    })
    .await;
    let runs = features.materializations("spend").await.unwrap();
    assert_eq!((runs[0].version, runs[0].state, runs[0].start), (2, MaterializationState::Succeeded, None));

    // Bad requests answer 4xx in the platform's error shape.
    let status = |error: cairn_client::ClientError| match error {
        cairn_client::ClientError::Api { status, body } => (status, body.error.message),
        other => panic!("{other}"),
    };
    let one = [json!(1)];
    let (code, message) =
        status(features.online_features(&request(&["nope:amount"], &one)).await.unwrap_err());
    assert_eq!((code, message.as_str()), (422, "no feature view `nope`"));
    let (code, message) = status(
        features.online_features(&request(&["spend:amount", "recent:amount"], &one)).await.unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(message.contains("full_feature_names"), "{message}");
    let (code, message) = status(features.online_features(&request(&["spend"], &one)).await.unwrap_err());
    assert_eq!(code, 422);
    assert!(message.contains("view:feature"), "{message}");
    let other_key: OnlineRequest =
        serde_json::from_value(json!({"features": ["spend:amount"], "entities": {"customer": [1]}})).unwrap();
    let (code, message) = status(features.online_features(&other_key).await.unwrap_err());
    assert_eq!((code, message.as_str()), (422, "feature view `spend` needs join key `id` in `entities`"));
    let raw = reqwest::Client::new()
        .post(format!("{}/get-online-features", features.base_url()))
        .body("{\"features\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.json::<serde_json::Value>().await.unwrap()["error"]["code"], "bad_request");
    let (code, _) = status(features.materialize("nope", &MaterializeRequest::default()).await.unwrap_err());
    assert_eq!(code, 404);
    let backwards =
        MaterializeRequest { version: None, start: Some(Timestamp::now()), end: Timestamp::from_micros(0) };
    let (code, message) = status(features.materialize("spend", &backwards).await.unwrap_err());
    assert_eq!(code, 422);
    assert!(message.contains("nothing to materialize"), "{message}");
    platform.stop().await;
}

#[tokio::test]
async fn online_features_equal_offline_and_follow_the_stream_on_sqlite() {
    online_features_equal_offline_and_follow_the_stream(Store::Sqlite).await;
}

#[tokio::test]
async fn online_features_equal_offline_and_follow_the_stream_on_postgres() {
    online_features_equal_offline_and_follow_the_stream(Store::Postgres).await;
}
