//! Batch ingestion throughput: Cairn reading a CSV upload with validation, quality report and
//! Parquet output, against DuckDB copying the same file into Parquet (`COPY … TO`), in one run.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cairn_domain::ServiceKind;
use futures::StreamExt as _;

const ROWS: usize = 1_000_000;

/// 10 columns: the shape the ingestion goals are stated for.
fn write_csv(path: &Path) -> u64 {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(file, "id,ts,amount,price,score,ratio,qty,store,channel,flag").unwrap();
    for i in 0..ROWS {
        let day = 1 + i % 28;
        writeln!(
            file,
            "{i},2026-02-{day:02}T{:02}:{:02}:{:02}Z,{:.2},{:.3},{:.4},{:.5},{},{},{},{}",
            i % 24,
            i % 60,
            (i * 7) % 60,
            (i % 10_000) as f64 / 3.0,
            (i % 977) as f64 * 1.5,
            (i % 101) as f64 / 101.0,
            (i % 13) as f64 / 7.0,
            i % 50,
            i % 400,
            if i % 3 == 0 { "web" } else { "store" },
            i % 2 == 0
        )
        .unwrap();
    }
    file.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn schema() -> serde_json::Value {
    serde_json::json!({"name": "bench", "schema": {"columns": [
        {"name": "id", "type": "int64", "nullable": false},
        {"name": "ts", "type": "timestamp", "nullable": false},
        {"name": "amount", "type": "float64", "rules": {"min": 0}},
        {"name": "price", "type": "float64"},
        {"name": "score", "type": "float64"},
        {"name": "ratio", "type": "float64"},
        {"name": "qty", "type": "int32"},
        {"name": "store", "type": "int32"},
        {"name": "channel", "type": "categorical", "values": ["web", "store"]},
        {"name": "flag", "type": "bool"}
    ], "event_timestamp": "ts", "entity_keys": ["id"]}})
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let bytes = write_csv(&csv);
    let platform =
        cairn_e2e::Platform::start_with(cairn_e2e::Store::Sqlite, &[ServiceKind::Ingestion], &[]).await;
    let client = platform.client(ServiceKind::Ingestion);
    client.post::<_, serde_json::Value>("/v1/datasets", &schema()).await.unwrap();

    let started = Instant::now();
    let file = tokio::fs::File::open(&csv).await.unwrap();
    let body =
        reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).map(|c| c));
    let batch = client.ingest("bench", "text/csv", body).await.unwrap();
    let cairn_seconds = started.elapsed().as_secs_f64();
    assert_eq!(batch.report.unwrap().rows_accepted as usize, ROWS);

    let columns = serde_json::json!([
        ["id", "BIGINT"],
        ["ts", "TIMESTAMPTZ"],
        ["amount", "DOUBLE"],
        ["price", "DOUBLE"],
        ["score", "DOUBLE"],
        ["ratio", "DOUBLE"],
        ["qty", "INTEGER"],
        ["store", "INTEGER"],
        ["channel", "VARCHAR"],
        ["flag", "BOOLEAN"]
    ]);
    let output = Command::new(cairn_testkit::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/duckdb_copy.py"))
        .arg(&csv)
        .arg(dir.path().join("duckdb.parquet"))
        .arg(columns.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let duckdb: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(duckdb["rows"].as_u64(), Some(ROWS as u64));
    let duckdb_seconds = duckdb["seconds"].as_f64().unwrap();

    let rate = |seconds: f64| ROWS as f64 / seconds;
    println!("batch ingestion, CSV, {ROWS} rows x 10 columns, {:.0} MB", bytes as f64 / 1e6);
    println!("{:<58} {:>12}  {:>6}", "", "rows/s", "ratio");
    println!("{:<58} {:>12.0}  {:>6}", "DuckDB COPY read_csv → Parquet (peer)", rate(duckdb_seconds), "1.00");
    println!(
        "{:<58} {:>12.0}  {:>6.2}",
        "Cairn HTTP upload → validate + report → Parquet, committed",
        rate(cairn_seconds),
        duckdb_seconds / cairn_seconds
    );
    platform.stop().await;
}
