//! cairn-learn's GBDT against LightGBM at the same settings (100 iterations, 31 leaves, learning
//! rate 0.1, one thread unless `CAIRN_BENCH_THREADS`): make_classification (1,000,000 × 30, or
//! `CAIRN_BENCH_ROWS`), breast_cancer, digits and make_regression. The test Python
//! (`CAIRN_TEST_PYTHON`) makes the data, trains LightGBM and scores both sides (gbdt.py).
//!
//! `cargo bench -p cairn-learn --bench gbdt`

#![expect(clippy::unwrap_used, reason = "a benchmark: a failed step stops it")]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cairn_learn::{ClassLabels, Frame, GbdtParams, Predictions, Target};
use serde_json::Value;

fn main() {
    let rows: usize =
        std::env::var("CAIRN_BENCH_ROWS").map_or(1_000_000, |rows| rows.parse().expect("CAIRN_BENCH_ROWS"));
    let threads: usize =
        std::env::var("CAIRN_BENCH_THREADS").map_or(1, |value| value.parse().expect("CAIRN_BENCH_THREADS"));
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/gbdt.py");
    python(&[script, "prepare", dir.path().to_str().unwrap(), &rows.to_string(), &threads.to_string()]);

    let listing: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("datasets.json")).unwrap()).unwrap();
    let mut timings = serde_json::Map::new();
    for entry in &listing {
        let name = entry["name"].as_str().unwrap();
        let task = entry["task"].as_str().unwrap();
        let classes = entry["classes"].as_u64().unwrap() as usize;
        let features = entry["features"].as_u64().unwrap() as usize;
        let train = frame(dir.path(), name, "x_train", features);
        let test = frame(dir.path(), name, "x_test", features);
        let y = f64s(&dir.path().join(format!("{name}.y_train")));
        let target = if task == "regression" {
            Target::Regression(y)
        } else {
            Target::Classes {
                labels: ClassLabels::Int64((0..classes as i64).collect()),
                codes: y.iter().map(|&value| value as u32).collect(),
            }
        };
        let params = GbdtParams { threads, ..GbdtParams::default() };
        let start = Instant::now();
        let (model, _) = cairn_learn::gbdt::train(&params, &train, &target, None).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        timings.insert(name.to_owned(), Value::from(seconds));
        let predictions = match model.predict(&test).unwrap() {
            Predictions::Regression(values) => values,
            // LightGBM's binary prediction is P(class 1).
            Predictions::Classes { classes: 2, probabilities, .. } => {
                probabilities.chunks(2).map(|row| row[1]).collect()
            }
            Predictions::Classes { probabilities, .. } => probabilities,
        };
        let bytes: Vec<u8> = predictions.iter().flat_map(|value| value.to_le_bytes()).collect();
        std::fs::write(dir.path().join(format!("{name}.cairn")), bytes).unwrap();
    }
    std::fs::write(dir.path().join("cairn.json"), Value::Object(timings).to_string()).unwrap();
    println!("threads {threads}, 100 iterations, 31 leaves, learning rate 0.1");
    python(&[script, "score", dir.path().to_str().unwrap()]);
}

fn python(args: &[&str]) {
    let status = Command::new(cairn_testkit::python()).args(args).status().unwrap();
    assert!(status.success(), "gbdt.py {} failed", args[1]);
}

fn frame(dir: &Path, name: &str, part: &str, features: usize) -> Frame {
    let bytes = std::fs::read(dir.join(format!("{name}.{part}"))).unwrap();
    let values: Vec<f32> =
        bytes.chunks_exact(4).map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap())).collect();
    let rows = values.len() / features;
    let columns = values.chunks(rows).map(<[f32]>::to_vec).collect();
    Frame::new((0..features).map(|feature| format!("f{feature}")).collect(), columns).unwrap()
}

fn f64s(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    bytes.chunks_exact(8).map(|chunk| f64::from_le_bytes(chunk.try_into().unwrap())).collect()
}
