//! Drift of 1 M current rows × 20 columns (14 numeric, 6 categorical; six of them shifted by
//! different amounts) against a 1 M-row reference: cairn-drift against Evidently's data-drift
//! preset on the same data, one run on this machine — the time of each (Cairn: building the
//! references, counting the windows, the verdicts; Evidently: its report), the ratio, and whether
//! the two agree on every column's verdict.
//!
//! `CAIRN_BENCH_EVIDENTLY=$PWD/.venv-evidently/bin/python cargo bench -p cairn-drift --bench evidently`
//! (`CAIRN_BENCH_ROWS` shrinks it). The data comes from the Python side (`evidently_peer.py make`; not `evidently.py`, which would shadow the package).
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cairn_drift::{CategoricalReference, DriftOptions, NumericReference, Verdict, dataset_drift};
use serde_json::Value;

fn numbers(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|bytes| f64::from_le_bytes(bytes.try_into().unwrap()))
        .collect()
}

fn texts(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn main() {
    let rows: u64 =
        std::env::var("CAIRN_BENCH_ROWS").ok().and_then(|rows| rows.parse().ok()).unwrap_or(1_000_000);
    let python = std::env::var("CAIRN_BENCH_EVIDENTLY").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-evidently/bin/python").to_owned()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/evidently_peer.py");
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(&python).args([script, "make"]).arg(dir.path()).arg(rows.to_string()).status();
    assert!(
        made.unwrap_or_else(|error| panic!("{python}: {error}; infra/local/bench installs it")).success()
    );
    let columns: Value = serde_json::from_str(&texts(&dir.path().join("columns.json"))).unwrap();
    let names = |kind: &str| -> Vec<String> {
        columns[kind].as_array().unwrap().iter().map(|name| name.as_str().unwrap().to_owned()).collect()
    };
    let (numeric, categorical) = (names("numeric"), names("categorical"));
    // The data in memory first, as a monitor holds a window's rows: the timing is the statistics.
    let file =
        |side: &str, name: &str, extension: &str| dir.path().join(format!("{side}_{name}.{extension}"));
    let numbers: Vec<(Vec<f64>, Vec<f64>)> = numeric
        .iter()
        .map(|name| (numbers(&file("reference", name, "f64")), numbers(&file("current", name, "f64"))))
        .collect();
    let texts: Vec<(String, String)> = categorical
        .iter()
        .map(|name| (texts(&file("reference", name, "txt")), texts(&file("current", name, "txt"))))
        .collect();

    // The references are built once per model version (from its training data); each window is
    // counted and judged against them: timed apart.
    let started = Instant::now();
    let numeric_references: Vec<NumericReference> =
        numbers.iter().map(|(reference, _)| NumericReference::from_values(reference).unwrap()).collect();
    let categorical_references: Vec<CategoricalReference> = texts
        .iter()
        .map(|(reference, _)| CategoricalReference::from_values(reference.lines().map(Some)).unwrap())
        .collect();
    let building = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut verdicts: Vec<(String, Verdict)> = Vec::new();
    for ((name, reference), (_, current)) in numeric.iter().zip(&numeric_references).zip(&numbers) {
        let mut window = reference.window();
        window.add_many(current);
        verdicts.push((name.clone(), reference.verdict(&window, &DriftOptions::default()).unwrap()));
    }
    for ((name, reference), (_, current)) in categorical.iter().zip(&categorical_references).zip(&texts) {
        let mut window = reference.window();
        window.add_many(current.lines().map(Some));
        verdicts.push((name.clone(), reference.verdict(&window, &DriftOptions::default()).unwrap()));
    }
    let drift =
        dataset_drift(&verdicts.iter().map(|(_, verdict)| *verdict).collect::<Vec<_>>(), 0.5).unwrap();
    let judging = started.elapsed().as_secs_f64();
    let cairn = building + judging;

    let output = Command::new(&python).args([script, "run"]).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let evidently: Value = serde_json::from_slice(&output.stdout).unwrap();
    let seconds = evidently["seconds"].as_f64().unwrap();
    println!(
        "\ndrift, {rows} current rows × 20 columns (14 numeric, 6 categorical) against a {rows}-row reference:"
    );
    println!(
        "  {:<6} {:<16} {:>12} {:>8}   {:<16} {:>12} {:>8}",
        "column", "Cairn", "value", "drift", "Evidently", "value", "drift"
    );
    let mut agree = 0;
    for (name, verdict) in &verdicts {
        let theirs = &evidently["columns"][name];
        let method = serde_json::to_value(verdict.method).unwrap();
        let same = theirs["drifted"].as_bool() == Some(verdict.drifted);
        agree += usize::from(same);
        println!(
            "  {name:<6} {:<16} {:>12.6} {:>8}   {:<16} {:>12.6} {:>8}{}",
            method.as_str().unwrap(),
            verdict.value,
            verdict.drifted,
            theirs["method"].as_str().unwrap_or("?"),
            theirs["value"].as_f64().unwrap_or(f64::NAN),
            theirs["drifted"],
            if same { "" } else { "   ← differs" }
        );
    }
    println!("  dataset drift: {} of {} columns ({})", drift.drifted_columns, drift.columns, drift.drifted);
    println!(
        "  Cairn: the window counted and judged {judging:.3} s (goal ≤ 1 s), the references built once per model version {building:.3} s"
    );
    println!(
        "  Evidently's report {seconds:.2} s: {:.1}× Cairn's window, {:.1}× Cairn's window and references together (goal ≥ 50×); the same verdict on {agree} of {} columns",
        seconds / judging,
        seconds / cairn,
        verdicts.len()
    );
}
