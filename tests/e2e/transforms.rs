//! SQL transformations: a feature view computed by a windowed query over its source, and a view
//! reading that view — the same values in training data (historical retrieval), after
//! materialization online, and through the streaming path, as a reference computed here. And the
//! other sources of entity rows — a time range, a dataset version — and training data written
//! as a dataset version with its lineage.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};
use cairn_api::{Action, FieldStatus, MaterializationState, MaterializeRequest, OnlineRequest};
use cairn_client::HistoricalRequest;
use cairn_domain::Timestamp;
use cairn_feature_store::point_in_time::{read_parquet, write_parquet};
use serde_json::json;

use crate::{Platform, Store, eventually};

const CUSTOMERS: i64 = 12;
const HOUR: i64 = 3600;
const WEEK: i64 = 7 * 24 * HOUR;

/// Customer `i` paid `i + k` every `(i + 1) · 13` hours, ten times, the latest `i` hours ago.
fn payments(now: i64) -> Vec<(i64, i64, f64)> {
    let mut rows = Vec::new();
    for i in 0..CUSTOMERS {
        for k in 0..10 {
            rows.push((i, now - i * HOUR - k * (i + 1) * 13 * HOUR, (i + k) as f64));
        }
    }
    rows
}

fn csv(rows: &[(i64, i64, f64)]) -> String {
    let mut csv = String::from("id,ts,amount,channel\n");
    for (id, ts, amount) in rows {
        let ts = Timestamp::from_micros(ts * 1_000_000).unwrap();
        csv.push_str(&format!("{id},{ts},{amount},web\n"));
    }
    csv
}

/// The reference: for customer `id` as of `at`, its payments in the seven days up to its latest
/// payment at or before `at` (count and sum), or nothing when it had paid nothing yet.
fn weekly(rows: &[(i64, i64, f64)], id: i64, at: i64) -> Option<(i64, f64, i64)> {
    let latest = rows.iter().filter(|(i, ts, _)| *i == id && *ts <= at).map(|(_, ts, _)| *ts).max()?;
    let window: Vec<f64> = rows
        .iter()
        .filter(|(i, ts, _)| *i == id && *ts <= latest && *ts >= latest - WEEK)
        .map(|(_, _, amount)| *amount)
        .collect();
    Some((window.len() as i64, window.iter().sum(), latest))
}

const WEEKLY_SQL: &str = "SELECT id, ts, \
     COUNT(*) OVER (PARTITION BY id ORDER BY ts RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW) AS payments_7d, \
     SUM(amount) OVER (PARTITION BY id ORDER BY ts RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW) AS amount_7d \
     FROM payments";

fn definitions(weekly_sql: &str) -> cairn_api::Definitions {
    serde_json::from_value(json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [
            {"name": "weekly", "source": "payments", "entities": ["customer"], "sql": weekly_sql,
             "features": [{"name": "payments_7d", "type": "int64"}, {"name": "amount_7d", "type": "float64"}]},
            {"name": "big_weeks", "source": "payments", "entities": ["customer"],
             "sql": "SELECT id, ts, amount_7d > 60 AS big_week FROM weekly",
             "features": [{"name": "big_week", "type": "bool"}]}
        ]
    }))
    .unwrap()
}

/// The rows of a Parquet answer, as one batch.
fn rows_of(parquet: &[u8]) -> RecordBatch {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("answer.parquet"), parquet).unwrap();
    let (schema, batches) = read_parquet(&[dir.path().join("answer.parquet")], None).unwrap();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

fn online_request(features: &[&str]) -> OnlineRequest {
    let ids: Vec<i64> = (0..CUSTOMERS).chain([999]).collect();
    serde_json::from_value(json!({"features": features, "entities": {"id": ids}})).unwrap()
}

async fn transformed_views_answer_as_their_query(store: Store) {
    let (platform, ingestion, features) = crate::features::with_payments(store).await;
    let now = Timestamp::now().as_micros() / 1_000_000;
    let mut rows = payments(now);
    ingestion.ingest("payments", "text/csv", csv(&rows)).await.unwrap();
    let plan = features.apply_features(&definitions(WEEKLY_SQL), None).await.unwrap();
    assert!(plan.changes.iter().all(|c| c.action == Action::Create || c.kind == "entity"), "{plan:?}");

    // Training data: each customer at several moments, including before its first payment.
    let (mut ids, mut times) = (Vec::new(), Vec::new());
    for id in 0..CUSTOMERS {
        for back in [0, 20, 50, 130, 400] {
            ids.push(id);
            times.push(now - back * HOUR);
        }
    }
    let entities = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        (
            "event_timestamp",
            Arc::new(
                TimestampMicrosecondArray::from(times.iter().map(|t| t * 1_000_000).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ) as ArrayRef,
        ),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&entities, &dir.path().join("entities.parquet")).unwrap();
    let upload = std::fs::read(dir.path().join("entities.parquet")).unwrap();
    let request = HistoricalRequest {
        features: vec!["weekly:payments_7d".into(), "weekly:amount_7d".into(), "big_weeks:big_week".into()],
        ..HistoricalRequest::default()
    };
    // The batch's files reach the feature store through its event.
    let (training, views) = eventually("training data with the batch's rows", || async {
        let (parquet, views) = features.historical_features(&request, upload.clone()).await.unwrap();
        let training = rows_of(&parquet);
        (training.column(2).null_count() < training.num_rows()).then_some((training, views))
    })
    .await;
    assert_eq!(views, ["weekly@1", "big_weeks@1"]);
    assert_eq!(training.num_rows(), ids.len());
    let (count, amount, big) = (
        training.column_by_name("payments_7d").unwrap().as_primitive::<Int64Type>(),
        training.column_by_name("amount_7d").unwrap().as_primitive::<Float64Type>(),
        training.column_by_name("big_week").unwrap().as_boolean(),
    );
    let mut unmatched = 0;
    for row in 0..training.num_rows() {
        let got = (!count.is_null(row)).then(|| (count.value(row), amount.value(row), big.value(row)));
        let want = weekly(&rows, ids[row], times[row]).map(|(n, sum, _)| (n, sum, sum > 60.0));
        assert_eq!(got, want, "customer {} at {}", ids[row], times[row]);
        unmatched += usize::from(want.is_none());
    }
    assert!(unmatched > 0 && unmatched < ids.len() / 2, "{unmatched}");
    entity_rows_from_a_time_range(&features, &rows, now).await;
    entity_rows_from_a_dataset_version(&ingestion, &features, &rows, now).await;
    training_data_becomes_a_dataset_version(&platform, &ingestion, &features).await;

    // Online after materialization: the same as of now.
    for view in ["weekly", "big_weeks"] {
        let run = features.materialize(view, &MaterializeRequest::default()).await.unwrap();
        let run = eventually("the materialization to finish", || async {
            let run = features.materialization(&run.id).await.ok()?;
            (run.state != MaterializationState::Running).then_some(run)
        })
        .await;
        assert_eq!(run.state, MaterializationState::Succeeded, "{:?}", run.error);
        assert_eq!(run.entities, CUSTOMERS as u64, "{view}");
    }
    let online = features
        .online_features(&online_request(&["weekly:payments_7d", "weekly:amount_7d", "big_weeks:big_week"]))
        .await
        .unwrap();
    for id in 0..CUSTOMERS {
        let (n, sum, latest) = weekly(&rows, id, now).unwrap();
        let at = id as usize;
        assert_eq!(online.results[1].values[at], json!(n), "count of {id}");
        assert_eq!(online.results[2].values[at], json!(sum), "sum of {id}");
        assert_eq!(online.results[3].values[at], json!(sum > 60.0), "big week of {id}");
        assert_eq!(online.results[1].event_timestamps[at].0, latest * 1_000_000);
    }
    assert_eq!(online.results[1].statuses[CUSTOMERS as usize], FieldStatus::NotFound);

    // The streaming path: a new payment of customer 3 moves its window online by itself.
    let new = (3, now - 60, 1000.0);
    rows.push(new);
    ingestion.ingest("payments", "text/csv", csv(&[new])).await.unwrap();
    let (n, sum, _) = weekly(&rows, 3, now).unwrap();
    eventually("customer 3's new window online", || async {
        let online = features
            .online_features(&online_request(&["weekly:payments_7d", "big_weeks:big_week"]))
            .await
            .ok()?;
        (online.results[1].values[3] == json!(n) && online.results[2].values[3] == json!(true)).then_some(())
    })
    .await;
    let online = features.online_features(&online_request(&["weekly:amount_7d"])).await.unwrap();
    assert_eq!(online.results[1].values[3], json!(sum));

    // A changed query is a new version of the view.
    let plan =
        features.apply_features(&definitions(&WEEKLY_SQL.replace("7 days", "8 days")), None).await.unwrap();
    let weekly_change = plan.changes.iter().find(|c| c.name.as_str() == "weekly").unwrap();
    assert_eq!(
        (weekly_change.action, weekly_change.fields.as_slice()),
        (Action::NewVersion, &["sql".to_owned()][..])
    );
    platform.stop().await;
}

/// Training data for every payment in a time range: each is an entity row at its own time.
async fn entity_rows_from_a_time_range(features: &cairn_client::Client, rows: &[(i64, i64, f64)], now: i64) {
    let (start, end) = (now - 200 * HOUR, now - 10 * HOUR);
    let at = |seconds: i64| Timestamp::from_micros(seconds * 1_000_000).unwrap();
    let request = HistoricalRequest {
        features: vec!["weekly:payments_7d".into()],
        start: Some(at(start)),
        end: Some(at(end)),
        ..HistoricalRequest::default()
    };
    let (parquet, _) = features.historical_features(&request, Vec::new()).await.unwrap();
    let training = rows_of(&parquet);
    let schema = training.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "event_timestamp", "payments_7d"]);
    let mut got: Vec<(i64, i64, i64)> = (0..training.num_rows())
        .map(|row| {
            let id = training.column(0).as_primitive::<Int64Type>().value(row);
            let time =
                training.column(1).as_primitive::<arrow_array::types::TimestampMicrosecondType>().value(row);
            (id, time / 1_000_000, training.column(2).as_primitive::<Int64Type>().value(row))
        })
        .collect();
    let mut want: Vec<(i64, i64, i64)> = rows
        .iter()
        .filter(|(_, ts, _)| *ts >= start && *ts < end)
        .map(|(id, ts, _)| (*id, *ts, weekly(rows, *id, *ts).unwrap().0))
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert!(want.len() > 10, "{}", want.len());
    assert_eq!(got, want);
    let backwards = HistoricalRequest { start: Some(at(end)), end: Some(at(start)), ..request };
    let error = features.historical_features(&backwards, Vec::new()).await.unwrap_err();
    assert!(error.to_string().contains("before `end`"), "{error}");
}

/// Training data whose entity rows (with their labels) are a version of a dataset the service
/// reads itself: version 1 is the first batch only, the latest both.
async fn entity_rows_from_a_dataset_version(
    ingestion: &cairn_client::Client,
    features: &cairn_client::Client,
    rows: &[(i64, i64, f64)],
    now: i64,
) {
    let labels: cairn_api::NewDataset = serde_json::from_value(json!({
        "name": "labels",
        "schema": {
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "at", "type": "timestamp", "nullable": false},
                {"name": "fraud", "type": "bool"}
            ],
            "event_timestamp": "at"
        }
    }))
    .unwrap();
    ingestion.create_dataset(&labels).await.unwrap();
    let batch = |hours: &[i64]| {
        let mut csv = String::from("id,at,fraud\n");
        for (i, back) in hours.iter().enumerate() {
            let at = Timestamp::from_micros((now - back * HOUR) * 1_000_000).unwrap();
            csv.push_str(&format!("{},{at},{}\n", i as i64 % CUSTOMERS, i % 3 == 0));
        }
        csv
    };
    let first_hours = [1, 30, 60, 90, 500];
    ingestion.ingest("labels", "text/csv", batch(&first_hours)).await.unwrap();
    ingestion.ingest("labels", "text/csv", batch(&[2, 40])).await.unwrap();
    let request = |version: Option<i64>| HistoricalRequest {
        features: vec!["weekly:payments_7d".into()],
        entity_dataset: Some("labels".into()),
        entity_version: version,
        ..HistoricalRequest::default()
    };
    let latest = eventually("version 2 of the labels", || async {
        let (parquet, _) = features.historical_features(&request(None), Vec::new()).await.ok()?;
        let training = rows_of(&parquet);
        (training.num_rows() == 7).then_some(training)
    })
    .await;
    let names: Vec<String> = latest.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "at", "fraud", "payments_7d"], "every column of the dataset, then the features");
    let (parquet, _) = features.historical_features(&request(Some(1)), Vec::new()).await.unwrap();
    let first = rows_of(&parquet);
    assert_eq!(first.num_rows(), 5, "version 1 is the first batch");
    let (ids, times, fraud, count) = (
        first.column(0).as_primitive::<Int64Type>(),
        first.column(1).as_primitive::<arrow_array::types::TimestampMicrosecondType>(),
        first.column(2).as_boolean(),
        first.column(3).as_primitive::<Int64Type>(),
    );
    for row in 0..first.num_rows() {
        let want = weekly(rows, ids.value(row), times.value(row) / 1_000_000).map(|(n, _, _)| n);
        assert_eq!((!count.is_null(row)).then(|| count.value(row)), want, "row {row}");
        // Files are per event date: rows come back in the files' order, not the batch's.
        let i =
            first_hours.iter().position(|back| times.value(row) == (now - back * HOUR) * 1_000_000).unwrap();
        assert_eq!((ids.value(row), fraud.value(row)), (i as i64 % CUSTOMERS, i % 3 == 0), "row {row}");
    }
    let missing = features.historical_features(&request(Some(9)), Vec::new()).await.unwrap_err();
    assert_eq!(missing.code(), Some("not_found"), "{missing}");
    let both = features.historical_features(&request(Some(1)), b"PAR1".to_vec()).await.unwrap_err();
    assert!(both.to_string().contains("not both"), "{both}");
}

/// Training data written as a version of a new dataset, with its lineage, holding the rows
/// historical retrieval answers for the same request.
async fn training_data_becomes_a_dataset_version(
    platform: &Platform,
    ingestion: &cairn_client::Client,
    features: &cairn_client::Client,
) {
    let request: cairn_api::TrainingDataRequest = serde_json::from_value(json!({
        "dataset": "fraud_training", "features": ["weekly:payments_7d", "weekly:amount_7d"],
        "entity_dataset": "labels", "entity_version": 1
    }))
    .unwrap();
    let written = features.training_data(&request).await.unwrap();
    assert_eq!(written.rows, 5);
    let lineage = &written.lineage;
    assert_eq!(
        (lineage.feature_views.as_slice(), lineage.entity_rows.as_str(), lineage.sources.as_slice()),
        (&["weekly@1".to_owned()][..], "labels@1", &["payments@1".to_owned()][..])
    );
    let version = eventually("the training data's version", || async {
        let versions = ingestion.versions("fraud_training").await.ok()?;
        versions.into_iter().find(|v| v.lineage.as_ref().is_some_and(|l| l.training_data == written.id))
    })
    .await;
    assert_eq!((version.version, version.rows, version.lineage.as_ref()), (1, 5, Some(lineage)));
    let dataset = ingestion.dataset("fraud_training").await.unwrap();
    let columns: Vec<&str> = dataset.schema.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["id", "at", "fraud", "payments_7d", "amount_7d"]);
    assert_eq!(dataset.schema.event_timestamp.as_str(), "at");

    // The same rows as historical retrieval answers (in the dataset's files' order).
    let sorted_cells = |batch: &RecordBatch| -> Vec<String> {
        let mut rows: Vec<String> = (0..batch.num_rows())
            .map(|row| {
                (0..batch.num_columns())
                    .map(|column| arrow_cast_display(batch.column(column), row))
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        rows.sort();
        rows
    };
    let version = ingestion.version("fraud_training", 1).await.unwrap();
    let root = platform.config.offline_root();
    let files: Vec<std::path::PathBuf> = version.files.iter().map(|file| root.join(&file.path)).collect();
    let (schema, batches) = read_parquet(&files, None).unwrap();
    let stored = arrow_select::concat::concat_batches(&schema, &batches).unwrap();
    let historical = HistoricalRequest {
        features: request.features.clone(),
        entity_dataset: Some("labels".into()),
        entity_version: Some(1),
        ..HistoricalRequest::default()
    };
    let (parquet, _) = features.historical_features(&historical, Vec::new()).await.unwrap();
    let answered = rows_of(&parquet);
    assert_eq!(sorted_cells(&stored), sorted_cells(&answered));
}

/// A cell as text, nulls as `null`.
fn arrow_cast_display(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return "null".to_owned();
    }
    let one = column.slice(row, 1);
    format!("{one:?}")
}

#[tokio::test]
async fn transformed_views_answer_as_their_query_on_sqlite() {
    transformed_views_answer_as_their_query(Store::Sqlite).await;
}
