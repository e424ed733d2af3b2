//! Not a timed test: what a row costs, single or batched, printed for the serving design
//! (`cargo test -p cairn-runtime cost -- --nocapture`). What it asserts is that batching and
//! concurrency do not change a single score.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_runtime::{Output, SessionOptions, Tensor, TensorData};

use crate::{Case, rows};

#[test]
fn cost_of_a_row_single_and_batched() {
    let case = Case::read("random_forest_bench");
    let one_session = SessionOptions { sessions: 1, ..SessionOptions::default() };
    let model = case.model(&one_session);
    let (name, input) = case.inputs().remove(0);
    let features = input.shape[1];
    let TensorData::Fp32(values) = &input.data else { panic!("{:?}", input.datatype()) };
    let singles: Vec<Tensor> = values
        .chunks(features)
        .map(|row| Tensor { shape: vec![1, features], data: TensorData::Fp32(row.to_vec()) })
        .collect();

    // Scores are the same whether a row comes alone or in a batch.
    let batched = probabilities(&model.run(&[(name.as_str(), input.clone())]).unwrap());
    for (index, single) in singles.iter().enumerate() {
        let alone = probabilities(&model.run(&[(name.as_str(), single.clone())]).unwrap());
        assert_eq!(alone[0], batched[index], "row {index}");
    }

    println!(
        "random_forest_bench (100 trees, depth 12, 30 features), 1 intra-op thread, debug build of the wrapper:"
    );
    let runs = 1000;
    let took = time(runs, |run| {
        model.run(&[(name.as_str(), singles[run % singles.len()].clone())]).unwrap();
    });
    println!("  1 row per run:      {:>7.1} µs per row", micros(took) / runs as f64);
    for batch in [10, 100, 1000] {
        let tensor = tile(values, features, batch);
        let runs = (20_000 / batch).max(10);
        let took = time(runs, |_| {
            model.run(&[(name.as_str(), tensor.clone())]).unwrap();
        });
        println!("  {batch:>4} rows per run: {:>7.1} µs per row", micros(took) / (runs * batch) as f64);
    }

    // Two threads sending single rows: one session (runs take turns) against two. The cores the
    // process kept busy (CPU time over wall time) tell whether runs overlapped, whatever else the
    // machine was doing.
    for sessions in [1, 2] {
        let model = Arc::new(case.model(&SessionOptions { sessions, ..SessionOptions::default() }));
        let runs = 5000;
        let (mut best_rate, mut cores) = (0.0, 0.0);
        for _ in 0..3 {
            let (start, cpu) = (Instant::now(), cairn_testkit::cpu_seconds(std::process::id()));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (model, singles, name) = (model.clone(), singles.clone(), name.clone());
                    std::thread::spawn(move || {
                        for run in 0..runs {
                            model.run(&[(name.as_str(), singles[run % singles.len()].clone())]).unwrap();
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let wall = start.elapsed().as_secs_f64();
            let rate = (2 * runs) as f64 / wall;
            if rate > best_rate {
                best_rate = rate;
                cores = (cairn_testkit::cpu_seconds(std::process::id()) - cpu) / wall;
            }
        }
        println!(
            "  2 threads, 1 row per run, {sessions} session(s): {best_rate:>8.0} rows/s, {cores:.1} cores busy"
        );
    }

    // What turning a ZipMap's maps into a tensor costs: the same 10-tree forest, both exports.
    for name in ["random_forest_binary", "random_forest_binary_zipmap"] {
        let case = Case::read(name);
        let model = case.model(&one_session);
        let (input_name, input) = case.inputs().remove(0);
        let TensorData::Fp32(values) = &input.data else { panic!() };
        let row = Tensor {
            shape: vec![1, input.shape[1]],
            data: TensorData::Fp32(values[..input.shape[1]].to_vec()),
        };
        let runs = 1000;
        let took = time(runs, |_| {
            model.run(&[(input_name.as_str(), row.clone())]).unwrap();
        });
        println!("  {name} (10 trees), 1 row per run: {:>6.1} µs", micros(took) / runs as f64);
    }
}

fn probabilities(outputs: &[Output]) -> Vec<Vec<f32>> {
    rows(&outputs.iter().find(|output| output.name == "probabilities").unwrap().tensor)
}

fn tile(values: &[f32], features: usize, rows: usize) -> Tensor {
    let data = values.iter().copied().cycle().take(rows * features).collect();
    Tensor { shape: vec![rows, features], data: TensorData::Fp32(data) }
}

/// How long `runs` calls take: the fastest of five rounds after a warm-up (the machine is shared;
/// the fastest round is the one least disturbed).
fn time(runs: usize, mut call: impl FnMut(usize)) -> Duration {
    for run in 0..runs / 10 {
        call(run);
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for run in 0..runs {
                call(run);
            }
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}
