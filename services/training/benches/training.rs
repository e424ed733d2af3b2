//! Training orchestration, measured on this machine with the release build: every service and
//! worker its own process (`cairn serve …`, `cairn worker`), as deployed.
//!
//! - overhead: a no-op external trainer (it copies a ready model) run as sequential trials, end to
//!   end through the work queue, a worker, the platform's check and scoring, and the registry's
//!   tracking runs: each trial's time from hand-out to verdict;
//! - scaling: the same CPU-bound trials (the built-in GBDT, one thread each) with one worker,
//!   then two: the training step's wall time;
//! - evaluation: the platform measuring a 1 M-row holdout (read, scored through ONNX Runtime,
//!   every metric) against onnxruntime in Python scoring the same file with the same model
//!   (pyarrow, `InferenceSession.run`, scikit-learn's `roc_auc_score`).
//!
//! `CAIRN_BENCH_ONLY=overhead,scaling,evaluation` runs some; `CAIRN_BENCH_TRIALS`,
//! `CAIRN_BENCH_EVAL_ROWS` shrink them.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_api::{NewDataset, NewPipelineRun, PipelineRun, PipelineSpec, RunState};
use cairn_client::Client;
use cairn_testkit::{NatsServer, ServerProcess};
use serde_json::json;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// A `cairn worker` process, killed with its group when dropped.
struct Worker(Child);

impl Worker {
    fn start(nats: &NatsServer, data: &Path) -> Self {
        let child = Command::new(cairn_testkit::cairn())
            .arg("worker")
            .env("CAIRN__NATS__URL", nats.url())
            .env("CAIRN__DATA_DIR", data)
            .env("CAIRN__TELEMETRY__LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Platform {
    nats: NatsServer,
    data: PathBuf,
    _services: Vec<ServerProcess>,
    ingestion: Client,
    training: Client,
}

impl Platform {
    async fn start(dir: &Path) -> Self {
        let nats = NatsServer::start().await;
        let data = dir.join("data");
        let mut services = Vec::new();
        let mut urls: Vec<(String, String)> = Vec::new();
        for service in ["ingestion", "feature-store", "registry", "training"] {
            let process = cairn_testkit::cairn_service(service, &nats.url(), &data, &urls).await;
            let key = format!("CAIRN__SERVICES__{}__URL", service.replace('-', "_").to_uppercase());
            urls.push((key, process.url.clone()));
            services.push(process);
        }
        let (ingestion, training) =
            (Client::new(services[0].url.clone()), Client::new(services[3].url.clone()));
        Self { nats, data, _services: services, ingestion, training }
    }

    async fn run(&self, spec: &PipelineSpec) -> PipelineRun {
        self.training.apply_pipeline(spec).await.unwrap();
        let run =
            self.training.start_pipeline_run(spec.name.as_str(), &NewPipelineRun::default()).await.unwrap();
        loop {
            let run = self.training.pipeline_run(&run.id).await.unwrap();
            if run.state.finished() {
                assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn dataset(name: &str, features: &[&str], feature_type: &str) -> NewDataset {
    let mut columns = vec![
        json!({"name": "id", "type": "int64", "nullable": false}),
        json!({"name": "ts", "type": "timestamp", "nullable": false}),
    ];
    columns.extend(features.iter().map(|name| json!({"name": name, "type": feature_type})));
    columns.push(json!({"name": "label", "type": "int64", "nullable": false}));
    serde_json::from_value(
        json!({"name": name, "schema": {"columns": columns, "event_timestamp": "ts", "entity_keys": ["id"]}}),
    )
    .unwrap()
}

/// `rows` rows of `features` uniform numbers whose label follows the first few, as CSV.
fn rows_csv(rows: u64, features: usize) -> String {
    let mut state = 7u64;
    let mut unit = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("id,ts");
    (0..features).for_each(|i| csv.push_str(&format!(",f{i}")));
    csv.push_str(",label\n");
    for id in 0..rows {
        let values: Vec<f64> = (0..features).map(|_| unit()).collect();
        let score = values.iter().take(4).sum::<f64>() - 2.0 + (unit() - 0.5);
        csv.push_str(&format!("{id},2026-11-01T00:00:00Z"));
        values.iter().for_each(|value| csv.push_str(&format!(",{value:.5}")));
        csv.push_str(&format!(",{}\n", i64::from(score > 0.0)));
    }
    csv
}

fn names(features: usize) -> Vec<String> {
    (0..features).map(|i| format!("f{i}")).collect()
}

fn spec(text: &str) -> PipelineSpec {
    toml::from_str(text).unwrap()
}

fn millis(run: &PipelineRun, step: RunState) -> f64 {
    let step = run.steps.iter().find(|candidate| candidate.step == step).unwrap();
    (step.finished_at.unwrap().as_micros() - step.started_at.as_micros()) as f64 / 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn quantile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1]
}

async fn overhead(platform: &Platform, dir: &Path) {
    let trials = setting("CAIRN_BENCH_TRIALS", 60);
    let features = names(3);
    platform.ingestion.create_dataset(&dataset("small", &["f0", "f1", "f2"], "float64")).await.unwrap();
    platform.ingestion.ingest("small", "text/csv", rows_csv(600, 3)).await.unwrap();
    // The ready model the no-op trainer copies: the built-in GBDT on the same columns.
    let frame = cairn_learn::Frame::new(features.clone(), vec![vec![0.0, 1.0, 0.0, 1.0]; 3]).unwrap();
    let target = cairn_learn::Target::Classes {
        labels: cairn_learn::ClassLabels::Int64(vec![0, 1]),
        codes: vec![0, 1, 0, 1],
    };
    let params = [("num_iterations".to_owned(), json!(5)), ("min_data_in_leaf".to_owned(), json!(1))].into();
    let model = cairn_learn::train(cairn_learn::TrainerKind::Gbdt, &params, &frame, &target, None).unwrap();
    let file = dir.join("noop.onnx");
    std::fs::write(&file, model.model.to_onnx()).unwrap();
    let choices: Vec<String> = (0..trials).map(|i| i.to_string()).collect();
    let spec = spec(&format!(
        r#"
        name = "noop"
        [data]
        dataset = "small"
        label = "label"
        [trainer]
        task = "binary"
        command = ["sh", "-c", "cp {} \"$CAIRN_MODEL_OUTPUT\""]
        [search]
        strategy = "grid"
        trials = {trials}
        parallelism = 1
        space = {{ i = {{ choice = [{}] }} }}
        [registration]
        model = "noop"
        "#,
        file.display(),
        choices.join(", ")
    ));
    let _worker = Worker::start(&platform.nats, &platform.data);
    let run = platform.run(&spec).await;
    let per_trial: Vec<f64> = run
        .trials
        .iter()
        .map(|trial| {
            (trial.finished_at.unwrap().as_micros() - trial.queued_at.unwrap().as_micros()) as f64 / 1000.0
        })
        .collect();
    let worker: Vec<f64> = run.trials.iter().map(|trial| trial.seconds.unwrap() * 1000.0).collect();
    println!(
        "\norchestration overhead, {trials} sequential trials of a no-op external trainer (sh -c cp), one worker:"
    );
    println!(
        "  hand-out to verdict per trial: median {:.1} ms, p90 {:.1} ms   (of which the worker: median {:.1} ms — reading the data, the trainer process, uploading)",
        median(per_trial.clone()),
        quantile(per_trial, 0.9),
        median(worker)
    );
    println!(
        "  the training step: {:.0} ms for {trials} trials ({:.1} ms a trial); Katib: a pod per trial, documented in seconds to tens of seconds",
        millis(&run, RunState::Training),
        millis(&run, RunState::Training) / trials as f64
    );
}

async fn scaling(platform: &Platform) {
    let features = names(20);
    let refs: Vec<&str> = features.iter().map(String::as_str).collect();
    platform.ingestion.create_dataset(&dataset("wide", &refs, "float64")).await.unwrap();
    platform.ingestion.ingest("wide", "text/csv", rows_csv(200_000, 20)).await.unwrap();
    let spec = spec(
        r#"
        name = "scaling"
        [data]
        dataset = "wide"
        label = "label"
        [split]
        validation = 0.05
        holdout = 0.05
        [trainer]
        task = "binary"
        builtin = "gbdt"
        params = { num_iterations = 40, threads = 1 }
        [search]
        strategy = "grid"
        parallelism = 8
        space = { seed = { choice = [1, 2, 3, 4, 5, 6, 7, 8] }, bagging_fraction = { choice = [0.9] }, bagging_freq = { choice = [1] } }
        [registration]
        model = "scaling"
        "#,
    );
    let mut times = Vec::new();
    for workers in [1, 2] {
        let _workers: Vec<Worker> =
            (0..workers).map(|_| Worker::start(&platform.nats, &platform.data)).collect();
        let run = platform.run(&spec).await;
        let trained: Vec<f64> = run.trials.iter().map(|trial| trial.seconds.unwrap()).collect();
        let step = millis(&run, RunState::Training) / 1000.0;
        println!(
            "  {workers} worker(s): 8 trials in {step:.2} s (a trial's worker time: median {:.2} s)",
            median(trained)
        );
        times.push(step);
    }
    println!("  two workers against one: {:.2}× the trials per second (goal ≥ 1.8×)", times[0] / times[1]);
}

async fn evaluation(platform: &Platform, dir: &Path) {
    let rows = setting("CAIRN_BENCH_EVAL_ROWS", 1_000_000);
    let total = rows * 5 / 4;
    let file = dir.join("eval.parquet");
    let python = cairn_testkit::python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/training_bench.py");
    let made =
        Command::new(&python).args([script, "make"]).arg(&file).arg(total.to_string()).status().unwrap();
    assert!(made.success(), "making the evaluation file");
    let features = names(30);
    let refs: Vec<&str> = features.iter().map(String::as_str).collect();
    platform.ingestion.create_dataset(&dataset("eval", &refs, "float32")).await.unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/datasets/eval/batches?format=parquet", platform.ingestion.base_url()))
        .body(std::fs::read(&file).unwrap())
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let spec = spec(
        r#"
        name = "eval"
        [data]
        dataset = "eval"
        label = "label"
        [split]
        holdout = 0.8
        validation = 0.0
        [trainer]
        task = "binary"
        builtin = "gbdt"
        params = { num_iterations = 100, num_leaves = 31 }
        [registration]
        model = "eval"
        "#,
    );
    let _worker = Worker::start(&platform.nats, &platform.data);
    let run = loop {
        // The batch becomes a version asynchronously.
        if platform.ingestion.latest_version("eval").await.is_ok() {
            break platform.run(&spec).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let holdout = run.rows.unwrap().holdout;
    let seconds = millis(&run, RunState::Evaluating) / 1000.0;
    let base = platform.data.join(format!("offline/training/runs/{}", run.id));
    let output = Command::new(&python)
        .args([script, "score"])
        .arg(base.join("trials/1/model.onnx"))
        .arg(base.join("holdout.parquet"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    let mut fields = printed.split_whitespace();
    let peer: f64 = fields.next().unwrap().parse().unwrap();
    let peer_auc: f64 = fields.next().unwrap().parse().unwrap();
    println!("\nplatform-measured evaluation, {holdout} holdout rows × 30 features, 100-tree GBDT:");
    println!(
        "  Cairn (read, score, every metric): {seconds:.2} s, {:.0} rows/s, ROC AUC {:.6}",
        holdout as f64 / seconds,
        run.metrics["roc_auc"]
    );
    println!(
        "  onnxruntime in Python (pyarrow, InferenceSession.run, roc_auc_score): {peer:.2} s, {:.0} rows/s, ROC AUC {peer_auc:.6}",
        holdout as f64 / peer
    );
    println!("  Cairn against onnxruntime in Python: {:.2}× the rows/s (goal ≥ 1.0×)", peer / seconds);
}

#[tokio::main]
async fn main() {
    let only = std::env::var("CAIRN_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only.split(',').any(|part| part == name);
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::start(dir.path()).await;
    if part("overhead") {
        overhead(&platform, dir.path()).await;
    }
    if part("scaling") {
        println!(
            "\nworker scaling, 8 independent trials of the built-in GBDT (200 000 rows × 20 features, 40 trees, one thread each):"
        );
        scaling(&platform).await;
    }
    if part("evaluation") {
        evaluation(&platform, dir.path()).await;
    }
}
