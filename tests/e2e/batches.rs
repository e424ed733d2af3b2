//! Batch ingestion: validated, quarantined, versioned, atomic; readable by DuckDB.

use std::path::Path;
use std::process::Command;

use cairn_api::{NewDataset, NewImport, QuarantinedRecord};
use cairn_client::PageQuery;
use cairn_domain::{ServiceKind, Timestamp};

use crate::{Platform, Store};

const DAY_SECONDS: i64 = 86_400;

pub(crate) fn dataset() -> NewDataset {
    serde_json::from_value(serde_json::json!({
        "name": "payments",
        "schema": {
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64", "rules": {"min": 0}},
                {"name": "channel", "type": "categorical", "values": ["web", "store"]}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"]
        }
    }))
    .unwrap()
}

fn timestamp(seconds: i64) -> String {
    cairn_domain::Timestamp::from_micros(seconds * 1_000_000).unwrap().to_string()
}

/// `rows` CSV records over three days; every `bad_every`-th has a negative amount.
pub(crate) fn csv(rows: i64, bad_every: i64) -> (String, f64) {
    let mut body = String::from("id,ts,amount,channel\n");
    let mut good_sum = 0.0;
    for i in 0..rows {
        let amount = if bad_every > 0 && i % bad_every == 0 { -1.0 } else { i as f64 / 4.0 };
        if amount >= 0.0 {
            good_sum += amount;
        }
        let channel = if i % 2 == 0 { "web" } else { "store" };
        body.push_str(&format!(
            "{i},{},{amount},{channel}\n",
            timestamp(1_772_323_200 + (i % 3) * DAY_SECONDS + i)
        ));
    }
    (body, good_sum)
}

/// Runs a DuckDB query through the test virtualenv.
pub(crate) fn duckdb(sql: &str) -> serde_json::Value {
    let output = Command::new(cairn_testkit::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/query.py"))
        .arg(sql)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

async fn batches_become_versions(store: Store) {
    let platform = Platform::start_with(store, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();

    // Batch 1: 1000 records over three days, 2% of them break the min rule.
    let (body, good_sum) = csv(1000, 50);
    let first = client.ingest("payments", "text/csv", body).await.unwrap();
    assert_eq!((first.state.as_str(), first.version), ("committed", Some(1)), "{store:?}");
    let report = first.report.clone().unwrap();
    assert_eq!((report.rows_in, report.rows_accepted, report.rows_quarantined), (1000, 980, 20));
    assert_eq!(report.quarantined_by_rule.get("min"), Some(&20));
    let amount = &report.columns[2];
    assert_eq!((amount.min, amount.max, amount.nulls), (Some(0.25), Some(249.75), 0));
    assert_eq!(first.files.len(), 3, "one file per event date");
    assert!(first.files[0].path.starts_with("datasets/payments/data/date=2026-03-01/"));
    assert_eq!(first.quarantine.iter().map(|q| q.rows).sum::<u64>(), 20);

    // Batch 2, JSON Lines: version 2 is version 1 plus the new files; version 1 does not change.
    let jsonl: String = (1000..1100)
        .map(|i| format!("{{\"id\": {i}, \"ts\": \"{}\", \"amount\": 1.0}}\n", timestamp(1_772_323_200 + i)))
        .collect();
    let second = client.ingest("payments", "application/x-ndjson", jsonl).await.unwrap();
    assert_eq!(second.version, Some(2));
    let v1 = client.version("payments", 1).await.unwrap();
    let v2 = client.version("payments", 2).await.unwrap();
    assert_eq!((v1.rows, v2.rows), (980, 1080));
    assert_eq!(v1.files, first.files);
    assert_eq!(v2.files.len(), v1.files.len() + second.files.len());
    assert!(v1.files.iter().all(|file| v2.files.contains(file)));
    assert_eq!(client.versions("payments").await.unwrap().len(), 2);

    // `latest`, and the dataset as of a time: the version that was the latest then.
    let latest: cairn_api::DatasetVersion =
        client.get("/v1/datasets/payments/versions/latest").await.unwrap();
    assert_eq!(latest, v2);
    assert_eq!(client.version_as_of("payments", v1.created_at).await.unwrap(), v1);
    let between = Timestamp::from_micros(v2.created_at.as_micros() - 1).unwrap();
    assert_eq!(client.version_as_of("payments", between).await.unwrap().version, 1);
    assert_eq!(client.version_as_of("payments", Timestamp::now()).await.unwrap(), v2);
    let before = Timestamp::from_micros(v1.created_at.as_micros() - 1).unwrap();
    let none = client.version_as_of("payments", before).await.unwrap_err();
    assert_eq!(none.code(), Some("not_found"));
    for bad in ["latest?as_of=yesterday", "2?as_of=2026-01-01T00:00:00Z", "newest"] {
        let error = client.get::<serde_json::Value>(&format!("/v1/datasets/payments/versions/{bad}")).await;
        assert_eq!(error.unwrap_err().code(), Some("bad_request"), "{bad}");
    }

    // Each version has a profile: version 2's is version 1's merged with the second batch's.
    let p1: cairn_api::ProfileSummary = client.get("/v1/datasets/payments/versions/1/profile").await.unwrap();
    let p2: cairn_api::ProfileSummary = client.get("/v1/datasets/payments/versions/2/profile").await.unwrap();
    assert_eq!((p1.rows, p2.rows), (980, 1080));
    let amount = &p1.columns[2];
    assert_eq!((amount.count, amount.min, amount.max), (980, Some(0.25), Some(249.75)));
    let exact_mean = good_sum / 980.0;
    assert!((amount.mean.unwrap() - exact_mean).abs() < 1e-9, "{:?} vs {exact_mean}", amount.mean);
    let median = amount.quantiles.iter().find(|q| q.q == 0.5).unwrap().value;
    assert!((median - 125.0).abs() <= 0.02 * 125.0, "median {median}");
    assert_eq!(amount.histogram.as_ref().unwrap().counts.iter().sum::<u64>(), 980);
    let channel = &p2.columns[3];
    assert_eq!((channel.count, channel.nulls), (980, 100), "the JSON batch had no channel");
    assert_eq!(channel.top_values.iter().map(|t| t.count).sum::<u64>(), 980);
    let missing =
        client.get::<serde_json::Value>("/v1/datasets/payments/versions/9/profile").await.unwrap_err();
    assert_eq!(missing.code(), Some("not_found"));

    // Another engine reads the version's files directly.
    let root = platform.config.offline_root();
    let paths: Vec<String> = v2.files.iter().map(|f| format!("'{}'", root.join(&f.path).display())).collect();
    let sql = format!(
        "SELECT count(*), sum(amount), count(DISTINCT date) FROM read_parquet([{}], hive_partitioning = true)",
        paths.join(", ")
    );
    let rows = duckdb(&sql);
    assert_eq!(rows[0][0], 1080);
    assert!((rows[0][1].as_f64().unwrap() - (good_sum + 100.0)).abs() < 1e-6);
    assert_eq!(rows[0][2], 3);
    platform.stop().await;
}

#[tokio::test]
async fn batches_become_versions_on_sqlite() {
    batches_become_versions(Store::Sqlite).await;
}

#[tokio::test]
async fn batches_become_versions_on_postgres() {
    batches_become_versions(Store::Postgres).await;
}

#[tokio::test]
async fn batches_and_versions_are_listed_in_pages() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let record =
            format!("{{\"id\": {i}, \"ts\": \"{}\", \"amount\": 1.0}}\n", timestamp(1_772_323_200 + i));
        ids.push(client.ingest("payments", "application/x-ndjson", record).await.unwrap().id);
    }

    // Two at a time, oldest first: the last page has no token.
    let page = |token: Option<String>| PageQuery { max_results: Some(2), page_token: token };
    let mut listed = Vec::new();
    let mut tokens = Vec::new();
    let mut token = None;
    loop {
        let versions = client.versions_page("payments", &page(token.clone())).await.unwrap();
        let batches = client.batches_page("payments", &page(token)).await.unwrap();
        assert_eq!(versions.next_page_token, batches.next_page_token);
        listed.push((
            versions.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            batches.batches.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        ));
        tokens.push(versions.next_page_token.clone());
        match versions.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let numbers: Vec<Vec<i64>> = listed.iter().map(|(versions, _)| versions.clone()).collect();
    assert_eq!(numbers, [vec![1, 2], vec![3, 4], vec![5]]);
    assert_eq!(listed.iter().flat_map(|(_, batches)| batches.clone()).collect::<Vec<_>>(), ids);
    assert!(tokens[..2].iter().all(Option::is_some) && tokens[2].is_none(), "{tokens:?}");

    // A page exactly as large as what is left is the last one.
    let rest = PageQuery { max_results: Some(1), page_token: tokens[1].clone() };
    assert_eq!(client.versions_page("payments", &rest).await.unwrap().next_page_token, None);
    // Without paging: the first page of the default size, and every page for the client's lists.
    let first = client.versions_page("payments", &PageQuery::default()).await.unwrap();
    assert_eq!((first.versions.len(), first.next_page_token), (5, None));
    assert_eq!(client.batches("payments").await.unwrap().len(), 5);

    // A token or a size the service did not hand out: 400 in the error shape.
    for bad in ["page_token=x", "page_token=-2", "max_results=0", "max_results=1001", "max_results=two"] {
        for list in ["batches", "versions"] {
            let error = client.get::<serde_json::Value>(&format!("/v1/datasets/payments/{list}?{bad}")).await;
            assert_eq!(error.unwrap_err().code(), Some("bad_request"), "{list}?{bad}");
        }
    }
    platform.stop().await;
}

#[tokio::test]
async fn rejected_and_failed_batches_leave_nothing_visible() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();
    let root = platform.config.offline_root();

    // Malformed: line 4 has an extra field. Rejected with the line, nothing written.
    let (body, _) = csv(10, 0);
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    lines[3].push_str(",oops");
    let body = lines.join("\n");
    let error = client.ingest("payments", "text/csv", body).await.unwrap_err();
    let cairn_client::ClientError::Api { status, body } = error else { panic!("{error}") };
    assert_eq!((status, body.error.code.as_str()), (422, "invalid_request"));
    assert_eq!(body.error.details.as_ref().unwrap()["line"], 4, "{}", body.error.message);

    // A wrong type names line and column.
    let error = client.ingest("payments", "text/csv", "id,ts\nseven,2026-03-01\n").await.unwrap_err();
    let cairn_client::ClientError::Api { body, .. } = error else { panic!() };
    assert_eq!(body.error.message, "line 2, column `id`: `seven` is not a int64");

    // Half the records break a rule: the batch fails, only its quarantine is kept.
    let (body, _) = csv(100, 2);
    let error = client.ingest("payments", "text/csv", body).await.unwrap_err();
    let cairn_client::ClientError::Api { status, body } = error else { panic!() };
    assert_eq!(status, 422);
    let failed = &body.error.details.as_ref().unwrap()["batch"];
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["report"]["rows_quarantined"], 50);
    assert!(failed["files"].as_array().unwrap().is_empty());
    let quarantine = failed["quarantine"][0]["path"].as_str().unwrap();
    assert!(root.join(quarantine).exists());

    // Samples of the quarantine: line, values and the rule broken.
    let all: Vec<QuarantinedRecord> = client.get("/v1/datasets/payments/quarantine").await.unwrap();
    assert_eq!(all.len(), 50);
    let path = format!("/v1/datasets/payments/quarantine?batch={}&limit=3", failed["id"].as_str().unwrap());
    let sample: Vec<QuarantinedRecord> = client.get(&path).await.unwrap();
    assert_eq!(sample.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4, 6], "lines count the header");
    assert_eq!(sample[0].record["amount"], "-1");
    assert_eq!(sample[0].record["channel"], "web");
    assert_eq!(
        (sample[0].violations[0].column.as_str(), sample[0].violations[0].rule.as_str()),
        ("amount", "min")
    );
    for bad in ["limit=0", "limit=5000", "limit=many"] {
        let error = client.get::<serde_json::Value>(&format!("/v1/datasets/payments/quarantine?{bad}")).await;
        assert_eq!(error.unwrap_err().code(), Some("bad_request"), "{bad}");
    }
    let unknown = client.get::<serde_json::Value>("/v1/datasets/nope/quarantine").await.unwrap_err();
    assert_eq!(unknown.code(), Some("not_found"));

    assert!(files_under(&root.join("datasets/payments/data")).is_empty(), "no data file is left behind");
    assert!(client.versions("payments").await.unwrap().is_empty());
    let states: Vec<String> =
        client.batches("payments").await.unwrap().into_iter().map(|b| b.state).collect();
    assert_eq!(states, ["rejected", "rejected", "failed"]);
    let staging = platform.dir.path().join("staging/ingestion");
    assert!(files_under(&staging).is_empty(), "staging is cleared");

    // The failed batch announced itself on the bus.
    let event: cairn_events::v1::DataQualityViolated = crate::last_event(&platform, |_| true).await;
    assert_eq!((event.rows_in, event.rows_quarantined, event.threshold), (100, 50, 0.05));
    assert_eq!(event.quarantined_by_rule.get("min"), Some(&50));

    // Unknown dataset, unsupported format, empty batch.
    let error = client.ingest("nothing", "text/csv", "id\n").await.unwrap_err();
    assert_eq!(error.code(), Some("not_found"));
    let error = client.ingest("payments", "application/xml", "<a/>").await.unwrap_err();
    assert_eq!(error.code(), Some("unsupported_media_type"));
    let error = client.ingest("payments", "text/csv", "id,ts\n").await.unwrap_err();
    assert_eq!(error.code(), Some("invalid_request"));
    platform.stop().await;
}

#[tokio::test]
async fn parquet_files_are_ingested_and_truncated_ones_refused() {
    let imports = tempfile::tempdir().unwrap();
    let roots = imports.path().display().to_string();
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion],
        &[("CAIRN__INGESTION__IMPORT_ROOTS", &roots)],
    )
    .await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();

    // A Parquet file written by another engine (DuckDB), with its own types: INTEGER ids,
    // TIMESTAMP WITH TIME ZONE, DOUBLE, VARCHAR.
    let file = imports.path().join("payments.parquet");
    let sql = format!(
        "COPY (SELECT i::INTEGER AS id, TIMESTAMPTZ '2026-03-01 00:00:00+00' + INTERVAL (i) MINUTE AS ts, \
         i / 2.0 AS amount, CASE WHEN i % 2 = 0 THEN 'web' ELSE 'store' END AS channel \
         FROM range(5000) t(i)) TO '{}' (FORMAT parquet)",
        file.display()
    );
    let duckdb = |sql: &str| {
        let output = Command::new(cairn_testkit::python())
            .args(["-c", &format!("import duckdb; duckdb.sql({sql:?})")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    };
    duckdb(&sql);
    let bytes = std::fs::read(&file).unwrap();

    let batch = client.ingest("payments", "application/vnd.apache.parquet", bytes.clone()).await.unwrap();
    assert_eq!(batch.state, "committed");
    let report = batch.report.unwrap();
    assert_eq!((report.rows_in, report.rows_accepted), (5000, 5000));
    assert_eq!(report.columns[2].max, Some(2499.5));
    assert_eq!(batch.files.len(), 4, "5000 minutes span four days");

    // Imported from where it lies: read in place, and left as it was.
    let import = |path: &Path| NewImport { url: format!("file://{}", path.display()), format: None };
    let imported = client.import("payments", &import(&file)).await.unwrap();
    assert_eq!((imported.version, imported.report.unwrap().rows_accepted), (Some(2), 5000));
    assert_eq!(imported.files.iter().map(|f| f.rows).sum::<u64>(), 5000);
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "the source file is untouched");

    let truncated = bytes[..bytes.len() / 2].to_vec();
    let error =
        client.ingest("payments", "application/vnd.apache.parquet", truncated.clone()).await.unwrap_err();
    let cairn_client::ClientError::Api { status, body } = error else { panic!() };
    assert_eq!(status, 422);
    assert!(body.error.message.starts_with("row 0: not a readable Parquet file"), "{}", body.error.message);
    let cut = imports.path().join("cut.parquet");
    std::fs::write(&cut, &truncated).unwrap();
    let error = client.import("payments", &import(&cut)).await.unwrap_err();
    let cairn_client::ClientError::Api { status, body } = error else { panic!() };
    assert_eq!(status, 422);
    assert!(body.error.message.starts_with("row 0: not a readable Parquet file"), "{}", body.error.message);
    assert!(cut.exists(), "a refused import leaves its source in place");
    assert_eq!(client.versions("payments").await.unwrap().len(), 2, "the truncated files left nothing");

    // Row groups that do not divide among the threads (3 on 2 cores): the last is read in parts,
    // and every row keeps its number.
    let groups = imports.path().join("groups.parquet");
    duckdb(&format!(
        "COPY (SELECT i AS id, TIMESTAMPTZ '2026-03-01 00:00:00+00' + INTERVAL (i) MINUTE AS ts, \
         CASE WHEN i % 1000 = 999 THEN -1.0 ELSE i / 2.0 END AS amount, 'web' AS channel \
         FROM range(5000) t(i)) TO '{}' (FORMAT parquet, ROW_GROUP_SIZE 2048)",
        groups.display()
    ));
    let batch = client.import("payments", &import(&groups)).await.unwrap();
    let report = batch.report.unwrap();
    assert_eq!((report.rows_in, report.rows_accepted, report.rows_quarantined), (5000, 4995, 5));
    assert_eq!(batch.files.iter().map(|f| f.rows).sum::<u64>(), 4995);
    let path = format!("/v1/datasets/payments/quarantine?batch={}", batch.id);
    let quarantined: Vec<QuarantinedRecord> = client.get(&path).await.unwrap();
    let mut rows: Vec<u64> = quarantined.iter().map(|r| r.line).collect();
    rows.sort_unstable();
    assert_eq!(rows, [1000, 2000, 3000, 4000, 5000]);
    platform.stop().await;
}

#[tokio::test]
async fn a_schema_gains_nullable_columns_and_versions_keep_theirs() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();
    let (body, _) = csv(100, 0);
    client.ingest("payments", "text/csv", body).await.unwrap();

    // Incompatible changes are refused, naming what is wrong.
    let declared = dataset().schema;
    let mut retyped = declared.clone();
    retyped.columns[2] =
        serde_json::from_value(serde_json::json!({"name": "amount", "type": "int64"})).unwrap();
    let mut required = declared.clone();
    required.columns.push(
        serde_json::from_value(serde_json::json!({"name": "note", "type": "string", "nullable": false}))
            .unwrap(),
    );
    for (schema, expected) in [(retyped, "column `amount` would change"), (required, "must be nullable")] {
        let error = client.evolve_schema("payments", &schema).await.unwrap_err();
        let cairn_client::ClientError::Api { status, body } = error else { panic!() };
        assert_eq!(status, 422);
        assert!(body.error.message.contains(expected), "{}", body.error.message);
    }

    // Appending a nullable column is a new schema revision; the same schema again changes nothing.
    let mut evolved = declared.clone();
    evolved
        .columns
        .push(serde_json::from_value(serde_json::json!({"name": "note", "type": "string"})).unwrap());
    assert_eq!(client.evolve_schema("payments", &evolved).await.unwrap().schema, evolved);
    assert_eq!(client.evolve_schema("payments", &evolved).await.unwrap().schema, evolved);
    let revisions: Vec<cairn_api::SchemaRevision> =
        client.get("/v1/datasets/payments/schemas").await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        (revisions[0].schema.clone(), revisions[1].schema.clone()),
        (declared.clone(), evolved.clone())
    );
    assert_eq!(revisions[1].added_columns.iter().map(|n| n.as_str()).collect::<Vec<_>>(), ["note"]);

    // New batches may carry the column (or not); version 1 keeps the schema it was written under.
    let with_note: String = std::iter::once("id,ts,amount,note\n".to_owned())
        .chain((0..10).map(|i| {
            format!("{},{},1.5,{}\n", 500 + i, timestamp(1_772_323_200 + i), if i < 6 { "hello" } else { "" })
        }))
        .collect();
    let second = client.ingest("payments", "text/csv", with_note).await.unwrap();
    assert_eq!(second.version, Some(2));
    let (v1, v2) =
        (client.version("payments", 1).await.unwrap(), client.version("payments", 2).await.unwrap());
    assert_eq!((v1.schema, v2.schema), (declared, evolved));
    let profile: cairn_api::ProfileSummary =
        client.get("/v1/datasets/payments/versions/2/profile").await.unwrap();
    let note = profile.columns.iter().find(|c| c.name == "note").unwrap();
    assert_eq!((note.count, note.nulls), (6, 104), "rows from before the column count as null");

    // Readers see the older files with nulls in the new column.
    let root = platform.config.offline_root();
    let paths: Vec<String> = v2.files.iter().map(|f| format!("'{}'", root.join(&f.path).display())).collect();
    let sql = format!(
        "SELECT count(*), count(note) FROM read_parquet([{}], union_by_name = true)",
        paths.join(", ")
    );
    assert_eq!(duckdb(&sql)[0], serde_json::json!([110, 6]));
    platform.stop().await;
}

#[tokio::test]
async fn a_large_batch_is_decoded_by_several_threads_and_errors_still_name_their_line() {
    let platform = Platform::start_with(Store::Sqlite, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&dataset()).await.unwrap();

    // About 20 MB: several chunks of whole records, decoded and written in parallel.
    let (body, good_sum) = csv(400_000, 1000);
    let batch = client.ingest("payments", "text/csv", body.clone()).await.unwrap();
    let report = batch.report.clone().unwrap();
    assert_eq!((report.rows_in, report.rows_accepted, report.rows_quarantined), (400_000, 399_600, 400));
    assert_eq!(batch.quarantine.iter().map(|q| q.rows).sum::<u64>(), 400);
    let lines: Vec<QuarantinedRecord> =
        client.get("/v1/datasets/payments/quarantine?limit=1000").await.unwrap();
    let mut lines: Vec<u64> = lines.iter().map(|r| r.line).collect();
    lines.sort_unstable();
    assert_eq!(lines, (0..400).map(|k| 2 + k * 1000).collect::<Vec<_>>(), "every record keeps its line");
    let root = platform.config.offline_root();
    let paths: Vec<String> =
        batch.files.iter().map(|f| format!("'{}'", root.join(&f.path).display())).collect();
    let rows = duckdb(&format!(
        "SELECT count(*), count(DISTINCT id), sum(amount) FROM read_parquet([{}])",
        paths.join(", ")
    ));
    assert_eq!((rows[0][0].as_u64(), rows[0][1].as_u64()), (Some(399_600), Some(399_600)));
    assert!((rows[0][2].as_f64().unwrap() - good_sum).abs() < 1e-3 * good_sum);

    // The same rows as Parquet with several row groups, read on several threads: rows keep
    // their numbers (1-based) in the quarantine.
    let csv_path = platform.dir.path().join("large.csv");
    let parquet_path = platform.dir.path().join("large.parquet");
    std::fs::write(&csv_path, &body).unwrap();
    duckdb(&format!(
        "COPY (SELECT * FROM read_csv('{}', timestampformat = '%Y-%m-%dT%H:%M:%S.%fZ')) TO '{}' (ROW_GROUP_SIZE 50000)",
        csv_path.display(),
        parquet_path.display()
    ));
    let parquet = tokio::fs::read(&parquet_path).await.unwrap();
    let batch = client.ingest("payments", "application/vnd.apache.parquet", parquet).await.unwrap();
    let report = batch.report.clone().unwrap();
    assert_eq!((report.rows_in, report.rows_accepted), (400_000, 399_600));
    let path = format!("/v1/datasets/payments/quarantine?batch={}&limit=1000", batch.id);
    let quarantined: Vec<QuarantinedRecord> = client.get(&path).await.unwrap();
    let mut rows: Vec<u64> = quarantined.iter().map(|r| r.line).collect();
    rows.sort_unstable();
    assert_eq!(rows, (0..400).map(|k| 1 + k * 1000).collect::<Vec<_>>());

    // A malformed line deep in the file is named, whichever thread met it; nothing is kept.
    let mut lines: Vec<&str> = body.lines().collect();
    lines[350_000] = "350000,not a time,1.0,web";
    let bad = lines.join("\n") + "\n";
    let error = client.ingest("payments", "text/csv", bad).await.unwrap_err();
    let cairn_client::ClientError::Api { status, body } = error else { panic!() };
    assert_eq!(status, 422);
    assert!(body.error.message.starts_with("line 350001, column `ts`"), "{}", body.error.message);
    assert_eq!(client.versions("payments").await.unwrap().len(), 2);
    platform.stop().await;
}

fn unique_dataset() -> NewDataset {
    serde_json::from_value(serde_json::json!({
        "name": "orders",
        "schema": {
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64"}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"],
            "unique_key": true
        }
    }))
    .unwrap()
}

/// Orders `ids` as CSV, order `i` at second `i` of day `i % 2`.
fn orders(ids: std::ops::Range<i64>) -> String {
    let mut body = String::from("id,ts,amount\n");
    for i in ids {
        body.push_str(&format!("{i},{},{i}\n", timestamp(1_772_323_200 + (i % 2) * DAY_SECONDS + i)));
    }
    body
}

/// Distinct (id, ts) keys and rows in the dataset's latest version, read by DuckDB.
fn keys_and_rows(platform: &Platform, version: &cairn_api::DatasetVersion) -> (i64, i64) {
    let root = platform.config.offline_root();
    let paths: Vec<String> =
        version.files.iter().map(|f| format!("'{}'", root.join(&f.path).display())).collect();
    let rows = duckdb(&format!(
        "WITH o AS (SELECT id, ts FROM read_parquet([{}])) \
         SELECT (SELECT count(*) FROM (SELECT DISTINCT id, ts FROM o)), (SELECT count(*) FROM o)",
        paths.join(", ")
    ));
    (rows[0][0].as_i64().unwrap(), rows[0][1].as_i64().unwrap())
}

/// A key (entity keys + event timestamp) committed by one batch is a `unique` violation in every
/// later batch and streamed record, and two batches racing with the same keys never both keep
/// them.
async fn unique_keys_hold_across_batches(store: Store) {
    let settings = [
        ("CAIRN__INGESTION__QUARANTINE_THRESHOLD", "0.9"),
        ("CAIRN__INGESTION__STREAM_FLUSH_MILLIS", "100"),
        ("CAIRN__INGESTION__SNAPSHOT_INTERVAL_SECS", "0"),
    ];
    let platform = Platform::start_with(store, &[ServiceKind::Ingestion], &settings).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.create_dataset(&unique_dataset()).await.unwrap();

    let first = client.ingest("orders", "text/csv", orders(0..100)).await.unwrap();
    assert_eq!(first.report.unwrap().rows_accepted, 100, "{store:?}");

    // 50..100 were committed by the first batch; 120 comes twice within this one.
    let mut body = orders(50..150);
    body.push_str(&orders(120..121).replace("id,ts,amount\n", ""));
    let second = client.ingest("orders", "text/csv", body).await.unwrap();
    let report = second.report.unwrap();
    assert_eq!((report.rows_in, report.rows_accepted, report.rows_quarantined), (101, 50, 51), "{store:?}");
    assert_eq!(report.quarantined_by_rule.get("unique"), Some(&51));
    let path = format!("/v1/datasets/orders/quarantine?batch={}&limit=1", second.id);
    let sample: Vec<QuarantinedRecord> = client.get(&path).await.unwrap();
    assert_eq!(
        (sample[0].violations[0].column.as_str(), sample[0].violations[0].rule.as_str()),
        ("id+ts", "unique")
    );

    // The same id at another time is another key.
    let moved = orders(10..11).replace(&timestamp(1_772_323_200 + 10), &timestamp(1_772_323_200 + 11));
    let third = client.ingest("orders", "text/csv", moved).await.unwrap();
    assert_eq!(third.report.unwrap().rows_accepted, 1);

    // Streamed records meet the batches' keys: 140..150 are there already, 150..160 are new.
    let records: String = (140..160)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"ts\": \"{}\", \"amount\": 1}}\n",
                timestamp(1_772_323_200 + (i % 2) * DAY_SECONDS + i)
            )
        })
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/datasets/orders/records", client.base_url()))
        .header("content-type", "application/x-ndjson")
        .body(records)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let streamed = crate::eventually("the streamed records committed", || async {
        let batches = client.batches("orders").await.ok()?;
        batches.into_iter().find(|b| b.format == "stream" && b.state == "committed")
    })
    .await;
    let report = streamed.report.unwrap();
    assert_eq!((report.rows_accepted, report.quarantined_by_rule.get("unique").copied()), (10, Some(10)));
    let snapshot = client.snapshot("orders").await.unwrap().unwrap();
    let version = client.version("orders", snapshot.version).await.unwrap();
    assert_eq!(version.rows, 161);
    assert_eq!(keys_and_rows(&platform, &version), (161, 161), "{store:?}");

    // Two batches with the same 20 000 new keys at once: the keys are kept once, whichever
    // commits first; the other finds them committed (all quarantined: the batch fails) or, had
    // it been checked before that commit, is refused as a conflict to be sent again.
    let body = orders(1_000..21_000);
    let (a, b) = tokio::join!(
        client.ingest("orders", "text/csv", body.clone()),
        client.ingest("orders", "text/csv", body.clone())
    );
    let (committed, other) = match (a, b) {
        (Ok(batch), Err(error)) | (Err(error), Ok(batch)) => (batch, error),
        other => panic!("{store:?}: exactly one batch keeps the keys: {other:?}"),
    };
    assert_eq!(committed.report.unwrap().rows_accepted, 20_000);
    let cairn_client::ClientError::Api { status, body } = other else { panic!("{other}") };
    match status {
        409 => assert_eq!(body.error.code, "conflict"),
        422 => assert_eq!(
            body.error.details.as_ref().unwrap()["batch"]["report"]["quarantined_by_rule"]["unique"],
            20_000
        ),
        _ => panic!("{store:?}: {status} {}", body.error.message),
    }
    let listed = client.versions("orders").await.unwrap().pop().unwrap();
    let latest = client.version("orders", listed.version).await.unwrap();
    assert_eq!(latest.rows, 20_161);
    assert_eq!(keys_and_rows(&platform, &latest), (20_161, 20_161), "{store:?}");
    assert!(
        files_under(&platform.config.offline_root().join("datasets/orders/data"))
            .iter()
            .all(|path| latest.files.iter().any(|f| path.ends_with(&f.path))),
        "the refused or failed batch left no data file"
    );
    platform.stop().await;
}

#[tokio::test]
async fn unique_keys_hold_across_batches_on_sqlite() {
    unique_keys_hold_across_batches(Store::Sqlite).await;
}

#[tokio::test]
async fn unique_keys_hold_across_batches_on_postgres() {
    unique_keys_hold_across_batches(Store::Postgres).await;
}
