//! The registry against `mlflow server` (its SQLite backend and artifact proxy, from PyPI), the
//! same HTTP workload against each in one run: `log_batch` of 1000 metrics, sequential
//! `log_metric`, `search_runs` with a metric filter, and a 1 GiB artifact up and down. Both
//! servers run as their own processes; the registry's peak memory is read from /proc.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use cairn_testkit::{NatsServer, ServerProcess as Server, TestDb, free_port, wait_ready};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// Runs in the search benchmark's experiment (Cairn); MLflow gets `MLFLOW_RUNS`.
fn cairn_runs() -> usize {
    std::env::var("CAIRN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}
const MLFLOW_RUNS: usize = 2_000;
const ARTIFACT_BYTES: usize = 1 << 30;

async fn cairn(nats: &NatsServer, dir: &std::path::Path, db: Option<&str>) -> Server {
    let extra: Vec<(String, String)> =
        db.map(|url| ("CAIRN__DATABASE__URL".to_owned(), url.to_owned())).into_iter().collect();
    cairn_testkit::cairn_service("registry", &nats.url(), dir, &extra).await
}

async fn mlflow(dir: &std::path::Path) -> Server {
    let bin = std::env::var("CAIRN_BENCH_MLFLOW")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-bench/bin/mlflow").to_owned());
    let port = free_port();
    let mut child = Command::new(&bin)
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("mlflow-artifacts"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| panic!("{bin}: {error}; infra/local/bench installs it"));
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/health"), &mut child).await;
    Server { name: "mlflow", url, child }
}

async fn call(
    http: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Value {
    let url = format!("{}/api/2.0/mlflow/{path}", server.url);
    let request = if method == reqwest::Method::GET {
        http.get(url).query(
            &body
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect::<Vec<_>>(),
        )
    } else {
        http.request(method, url).json(body)
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{} {path}: {status} {text}", server.name);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn post(http: &reqwest::Client, server: &Server, path: &str, body: Value) -> Value {
    call(http, server, reqwest::Method::POST, path, &body).await
}

async fn new_run(http: &reqwest::Client, server: &Server, experiment: &str) -> String {
    let run = post(http, server, "runs/create", json!({"experiment_id": experiment, "start_time": 0})).await;
    run["run"]["info"]["run_id"].as_str().unwrap().to_owned()
}

async fn experiment(http: &reqwest::Client, server: &Server, name: &str) -> String {
    let created = post(http, server, "experiments/create", json!({"name": name})).await;
    created["experiment_id"].as_str().unwrap().to_owned()
}

/// Calls per second of `log_batch` with 1000 metric points each.
async fn log_batch(http: &reqwest::Client, server: &Server, calls: usize) -> f64 {
    let experiment = experiment(http, server, "log-batch").await;
    let run = new_run(http, server, &experiment).await;
    // The requests are built before the clock starts: the client's work is not what is measured.
    let bodies: Vec<Value> = (0..calls)
        .map(|call| {
            let metrics: Vec<Value> = (0..1000i64)
                .map(|i| {
                    let step = call as i64 * 1000 + i;
                    json!({"key": format!("m{}", i % 10), "value": i as f64, "timestamp": 1_700_000_000_000i64 + i, "step": step})
                })
                .collect();
            json!({"run_id": run, "metrics": metrics})
        })
        .collect();
    let started = Instant::now();
    for body in bodies {
        post(http, server, "runs/log-batch", body).await;
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Sequential `log_metric` calls per second.
async fn log_metric(http: &reqwest::Client, server: &Server, calls: usize) -> f64 {
    let experiment = experiment(http, server, "log-metric").await;
    let run = new_run(http, server, &experiment).await;
    let started = Instant::now();
    for step in 0..calls {
        let body = json!({"run_id": run, "key": "loss", "value": 1.0 / (step + 1) as f64, "timestamp": 1_700_000_000_000i64, "step": step});
        post(http, server, "runs/log-metric", body).await;
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Creates `runs` runs, each with metric `acc` and a param, from 8 concurrent clients; then the
/// p50 and p95 of `search_runs` for `metrics.acc > 0.9` (10% of runs match; a page of 1000).
async fn search(http: &reqwest::Client, server: &Server, runs: usize, queries: usize) -> (f64, f64) {
    let experiment = experiment(http, server, "search").await;
    let started = Instant::now();
    futures::stream::iter(0..runs)
        .map(|i| {
            let experiment = experiment.clone();
            async move {
                let run = new_run(http, server, &experiment).await;
                let body = json!({"run_id": run, "metrics": [{"key": "acc", "value": (i % 1000) as f64 / 1000.0, "timestamp": 0, "step": 0}],
                                  "params": [{"key": "lr", "value": format!("{}", i % 7)}]});
                post(http, server, "runs/log-batch", body).await;
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    println!("  {}: {runs} runs created in {:.0} s", server.name, started.elapsed().as_secs_f64());
    let mut times = Vec::with_capacity(queries);
    for _ in 0..queries {
        // Until the whole answer has arrived; reading its JSON is the client's work, after.
        let started = Instant::now();
        let response = http
            .post(format!("{}/api/2.0/mlflow/runs/search", server.url))
            .json(
                &json!({"experiment_ids": [experiment], "filter": "metrics.acc > 0.9", "max_results": 1000}),
            )
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}: search: {}", server.name, response.status());
        let body = response.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let found: Value = serde_json::from_slice(&body).unwrap();
        let expected = (0..runs).filter(|i| i % 1000 > 900).count().min(1000);
        assert_eq!(
            found["runs"].as_array().map_or(0, Vec::len),
            expected,
            "{}: the filter's matches",
            server.name
        );
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// MB/s up and down for one artifact of `ARTIFACT_BYTES`, streamed both ways.
async fn artifact(http: &reqwest::Client, server: &Server) -> (f64, f64) {
    let experiment = experiment(http, server, "artifacts").await;
    let run = post(http, server, "runs/create", json!({"experiment_id": experiment})).await;
    let uri = run["run"]["info"]["artifact_uri"].as_str().unwrap().to_owned();
    let path =
        uri.split_once("mlflow-artifacts:/").map(|(_, p)| p.trim_start_matches('/')).unwrap().to_owned();
    let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}/big.bin", server.url);
    let chunk = bytes::Bytes::from(vec![7u8; 1 << 20]);
    let body =
        futures::stream::iter((0..ARTIFACT_BYTES >> 20).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let started = Instant::now();
    let response = http
        .put(&url)
        .header(reqwest::header::CONTENT_LENGTH, ARTIFACT_BYTES)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}: upload {}", server.name, response.status());
    let up = ARTIFACT_BYTES as f64 / 1e6 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut stream = http.get(&url).send().await.unwrap().bytes_stream();
    let mut read = 0usize;
    while let Some(chunk) = stream.next().await {
        read += chunk.unwrap().len();
    }
    assert_eq!(read, ARTIFACT_BYTES, "{}: download", server.name);
    (up, ARTIFACT_BYTES as f64 / 1e6 / started.elapsed().as_secs_f64())
}

fn ratio(cairn: f64, mlflow: f64) -> String {
    format!("{:.1}x", cairn / mlflow)
}

#[tokio::main]
async fn main() {
    let http = reqwest::Client::builder().pool_max_idle_per_host(16).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().await;
    std::fs::create_dir_all(dir.path().join("cairn")).unwrap();
    std::fs::create_dir_all(dir.path().join("mlflow")).unwrap();
    let cairn_sqlite = cairn(&nats, &dir.path().join("cairn"), None).await;
    let mlflow = mlflow(&dir.path().join("mlflow")).await;
    println!("registry vs mlflow server {} (SQLite backends, same HTTP workload)", mlflow_version());

    let (c, m) = (log_batch(&http, &cairn_sqlite, 100).await, log_batch(&http, &mlflow, 10).await);
    println!(
        "log_batch of 1000 metrics: cairn {c:.1} calls/s, mlflow {m:.2} calls/s ({:.1} ms per call): {}",
        1000.0 / m,
        ratio(c, m)
    );
    let (c, m) = (log_metric(&http, &cairn_sqlite, 3000).await, log_metric(&http, &mlflow, 200).await);
    println!("sequential log_metric: cairn {c:.0} calls/s, mlflow {m:.1} calls/s: {}", ratio(c, m));

    let (up, down) = artifact(&http, &cairn_sqlite).await;
    let rss = cairn_sqlite.peak_rss_mb();
    let (mup, mdown) = artifact(&http, &mlflow).await;
    println!(
        "1 GiB artifact: cairn up {up:.0} MB/s, down {down:.0} MB/s (registry peak memory {rss:.0} MB); \
         mlflow up {mup:.0} MB/s, down {mdown:.0} MB/s: {} up, {} down",
        ratio(up, mup),
        ratio(down, mdown)
    );

    let runs = cairn_runs();
    let (m50, m95) = search(&http, &mlflow, MLFLOW_RUNS, 10).await;
    println!(
        "search_runs, metrics.acc > 0.9, page of 1000: mlflow over {MLFLOW_RUNS} runs p50 {m50:.0} ms, p95 {m95:.0} ms"
    );
    let (c50, c95) = search(&http, &cairn_sqlite, runs, 30).await;
    println!("search_runs: cairn on SQLite over {runs} runs p50 {c50:.1} ms, p95 {c95:.1} ms");
    drop(cairn_sqlite);
    drop(mlflow);
    let pg = TestDb::postgres();
    std::fs::create_dir_all(dir.path().join("cairn-pg")).unwrap();
    let cairn_pg = cairn(&nats, &dir.path().join("cairn-pg"), Some(pg.url())).await;
    let (p50, p95) = search(&http, &cairn_pg, runs, 30).await;
    println!("search_runs: cairn on PostgreSQL over {runs} runs p50 {p50:.1} ms, p95 {p95:.1} ms");
}

fn mlflow_version() -> String {
    let bin = std::env::var("CAIRN_BENCH_MLFLOW")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-bench/bin/mlflow").to_owned());
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
