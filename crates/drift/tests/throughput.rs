//! The monitoring budget: 1 M current rows × 20 features against a 1 M-row reference, added into
//! windows and judged, well under a second in release. Ignored by default (a debug build is ~20×
//! slower); run `cargo test --release -p cairn-drift --test throughput -- --ignored --nocapture`.

use std::time::Instant;

use cairn_drift::{DriftOptions, NumericReference, dataset_drift};

const ROWS: usize = 1_000_000;
const FEATURES: usize = 20;

fn values(seed: u64, shift: f64) -> Vec<f64> {
    let mut state = seed;
    (0..ROWS)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 10.0 + shift
        })
        .collect()
}

#[test]
#[ignore = "a release-build timing"]
fn a_million_rows_of_twenty_features_in_well_under_a_second() {
    let references: Vec<NumericReference> =
        (0..FEATURES).map(|f| NumericReference::from_values(&values(f as u64, 0.0)).unwrap()).collect();
    let current: Vec<Vec<f64>> = (0..FEATURES).map(|f| values(100 + f as u64, f as f64 * 0.1)).collect();
    let start = Instant::now();
    let mut verdicts = Vec::new();
    for (reference, column) in references.iter().zip(&current) {
        let mut window = reference.window();
        window.add_many(column);
        verdicts.push(reference.verdict(&window, &DriftOptions::default()).unwrap());
    }
    let drift = dataset_drift(&verdicts, 0.5).unwrap();
    let elapsed = start.elapsed();
    eprintln!("{ROWS} rows × {FEATURES} features: {elapsed:?}; {drift:?}");
    assert!(drift.drifted_columns > 0 && drift.drifted_columns < FEATURES);
    assert!(elapsed.as_secs_f64() < 1.0, "{elapsed:?}");
}
