//! Historical retrieval against DuckDB's `ASOF LEFT JOIN`, side by side on the same Parquet
//! files: entity rows (customer, time) joined with a feature view of 10 float features, the
//! result written to Parquet. Both read and write the files; both use every core. Sizes:
//! `CAIRN_BENCH_ENTITIES` (default 1 000 000) and `CAIRN_BENCH_VIEW_ROWS` (default 10 000 000).
//! With `CAIRN_BENCH_FEAST` (a virtualenv holding Feast), Feast's local offline store does the
//! same join at a smaller size, side by side.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

mod common;

use std::path::Path;
use std::time::Instant;

use arrow_array::Array as _;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use cairn_feature_store::point_in_time::{
    ViewFiles, ViewSpec, point_in_time_join_files, read_parquet, write_parquet,
};
use common::{duckdb, size};

/// Peak resident memory of this process so far, MB.
fn peak_rss_mb() -> f64 {
    cairn_testkit::peak_rss_mb(std::process::id())
}

fn main() {
    let (entities, rows) =
        (size("CAIRN_BENCH_ENTITIES", 1_000_000), size("CAIRN_BENCH_VIEW_ROWS", 10_000_000));
    let keys = (rows / 100).max(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    duckdb(&["generate", path, &entities.to_string(), &rows.to_string(), &keys.to_string()]);
    println!("historical retrieval: {entities} entity rows × a {rows}-row view of 10 features, {keys} keys");

    let peer = duckdb(&["asof", path]);
    let peer_seconds = peer["seconds"].as_f64().unwrap();

    let started = Instant::now();
    let (_, entity_batches) = read_parquet(&[dir.path().join("entities.parquet")], None).unwrap();
    let entity_rows =
        arrow_select::concat::concat_batches(&entity_batches[0].schema(), &entity_batches).unwrap();
    let features: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let view = ViewFiles {
        spec: ViewSpec {
            name: "spend".into(),
            join_keys: vec!["customer_id".into()],
            features: features.clone(),
            event_timestamp: "event_timestamp".into(),
            created_timestamp: None,
            ttl_micros: None,
        },
        paths: vec![dir.path().join("view.parquet")],
    };
    let read = started.elapsed().as_secs_f64();
    let joined = point_in_time_join_files(&entity_rows, "event_timestamp", &[view], false).unwrap();
    let join = started.elapsed().as_secs_f64() - read;
    write_parquet(&joined, &dir.path().join("cairn.parquet")).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let write = seconds - read - join;
    let peak = peak_rss_mb();

    // The same answer: as many entity rows matched, the same features found.
    let f0 = joined.column(2).as_primitive::<Float64Type>();
    let matched = f0.len() - f0.null_count();
    let sum: f64 = f0.iter().flatten().sum();
    assert_eq!(joined.num_rows() as u64, peer["rows"].as_u64().unwrap());
    assert_eq!(matched as u64, peer["matched"].as_u64().unwrap(), "rows with a match");
    let peer_sum = peer["sum_f0"].as_f64().unwrap_or_default();
    assert!(
        (sum - peer_sum).abs() <= 1e-6 * peer_sum.abs().max(1.0),
        "sum of f0: {sum} vs DuckDB's {peer_sum}"
    );

    println!("{:<58}{:>10}{:>10}{:>12}", "", "seconds", "ratio", "peak MB");
    println!(
        "{:<58}{:>10.2}{:>10.2}{:>12.0}",
        "DuckDB ASOF LEFT JOIN, Parquet → Parquet (peer)",
        peer_seconds,
        1.0,
        peer["peak_rss_mb"].as_f64().unwrap_or_default()
    );
    println!(
        "{:<58}{:>10.2}{:>10.2}{:>12.0}",
        "Cairn point_in_time_join, Parquet → Parquet",
        seconds,
        seconds / peer_seconds,
        peak
    );
    println!(
        "  Cairn: reading the entity rows {read:.2} s, joining (reading the view) {join:.2} s, writing {write:.2} s"
    );
    println!("(time ratio: Cairn's time over DuckDB's; goal ≤ 1.0, peak memory ≤ 2 GB)");
    if let Some(venv) = std::env::var_os("CAIRN_BENCH_FEAST") {
        against_feast(Path::new(&venv));
    }
}

/// Feast's local offline store (`get_historical_features` over the same kind of files), at a
/// size it handles: `CAIRN_BENCH_FEAST_ENTITIES` (50 000) × `CAIRN_BENCH_FEAST_VIEW_ROWS` (500 000).
fn against_feast(venv: &Path) {
    let (entities, rows) =
        (size("CAIRN_BENCH_FEAST_ENTITIES", 50_000), size("CAIRN_BENCH_FEAST_VIEW_ROWS", 500_000));
    let keys = (rows / 100).max(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    duckdb(&["generate", path, &entities.to_string(), &rows.to_string(), &keys.to_string()]);
    println!(
        "\nhistorical retrieval against Feast: {entities} entity rows × a {rows}-row view of 10 features, {keys} keys"
    );
    let run = |args: &[&str]| common::feast(venv, args);
    let repo = dir.path().join("repo");
    let (repo, view) = (repo.to_str().unwrap(), dir.path().join("view.parquet"));
    let setup =
        run(&["setup", repo, view.to_str().unwrap(), "spend", "customer_id", "event_timestamp", "10"]);
    let entities_file = dir.path().join("entities.parquet");
    let out = dir.path().join("feast.parquet");
    let peer = run(&["historical", repo, entities_file.to_str().unwrap(), out.to_str().unwrap()]);
    let peer_seconds = peer["seconds"].as_f64().unwrap();

    let started = Instant::now();
    let (_, batches) = read_parquet(&[entities_file], None).unwrap();
    let entity_rows = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    let view = ViewFiles {
        spec: ViewSpec {
            name: "spend".into(),
            join_keys: vec!["customer_id".into()],
            features: (0..10).map(|i| format!("f{i}")).collect(),
            event_timestamp: "event_timestamp".into(),
            created_timestamp: None,
            ttl_micros: None,
        },
        paths: vec![view],
    };
    let joined = point_in_time_join_files(&entity_rows, "event_timestamp", &[view], false).unwrap();
    write_parquet(&joined, &dir.path().join("cairn.parquet")).unwrap();
    let seconds = started.elapsed().as_secs_f64();

    // The same matches and values; Feast's file store leaves out entity rows without a match.
    let f0 = joined.column(2).as_primitive::<Float64Type>();
    let matched = f0.len() - f0.null_count();
    let sum: f64 = f0.iter().flatten().sum();
    assert_eq!(matched as u64, peer["matched"].as_u64().unwrap(), "rows with a match");
    let peer_sum = peer["sum_f0"].as_f64().unwrap_or_default();
    assert!(
        (sum - peer_sum).abs() <= 1e-6 * peer_sum.abs().max(1.0),
        "sum of f0: {sum} vs Feast's {peer_sum}"
    );
    println!("{:<58}{:>10}{:>10}{:>12}", "", "seconds", "ratio", "rows out");
    println!(
        "{:<58}{:>10.2}{:>10.2}{:>12}",
        format!(
            "Feast {} get_historical_features, file store (peer)",
            setup["feast_version"].as_str().unwrap_or("?")
        ),
        peer_seconds,
        1.0,
        peer["rows"].as_u64().unwrap_or_default()
    );
    println!(
        "{:<58}{:>10.2}{:>10.3}{:>12}",
        "Cairn point_in_time_join, Parquet → Parquet",
        seconds,
        seconds / peer_seconds,
        joined.num_rows()
    );
    println!(
        "(time ratio: Cairn's time over Feast's; Feast's peak memory {:.0} MB)",
        peer["peak_rss_mb"].as_f64().unwrap_or_default()
    );
}
