//! Serving against its peers, one run on this machine, `wrk` driving each over HTTP/1.1
//! keep-alive: Cairn (`cairn serve serving`, release build) answering single-row requests on the
//! model zoo's 100-tree random forest (30 FP32 features), MLServer on the same ONNX file with an
//! onnxruntime runtime (PyPI has no mlserver-onnx; `tests/python/mlserver_onnx.py`), and a bare
//! actix-web handler that parses the same JSON and echoes it (the HTTP floor). Then, at half of
//! Cairn's rate, its p99; and the same paced load while the endpoint's alias moves to another
//! version: errors and the latency spike. Then batch scoring of a Parquet file against pyarrow +
//! onnxruntime, and entity-key requests on 50 online features.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use cairn_testkit::{NatsServer, ServerProcess as Server, free_port, wait_ready};
use serde_json::json;

/// Seconds each throughput measurement runs.
fn seconds() -> u64 {
    std::env::var("CAIRN_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

/// `cairn serve <service>` on a free port, its data in `dir/<service>`.
async fn cairn(service: &str, nats: &NatsServer, dir: &Path, extra: &[(String, String)]) -> Server {
    cairn_testkit::cairn_service(service, &nats.url(), &dir.join(service), extra).await
}

/// MLServer serving `model` as `name`, inference in its own process (`parallel_workers: 0`, the
/// faster setting on two cores).
async fn mlserver(dir: &Path, name: &str, model: &Path) -> Server {
    let mlserver = std::env::var("CAIRN_BENCH_MLSERVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-mlserver/bin/mlserver").to_owned()
    });
    let repo = dir.join("mlserver");
    std::fs::create_dir_all(repo.join(name)).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/mlserver_onnx.py"),
        repo.join("mlserver_onnx.py"),
    )
    .unwrap();
    std::fs::copy(model, repo.join(name).join("model.onnx")).unwrap();
    let port = free_port();
    let settings = json!({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "parallel_workers": 0, "host": "127.0.0.1", "debug": false});
    std::fs::write(repo.join("settings.json"), settings.to_string()).unwrap();
    let model_settings = json!({"name": name, "implementation": "mlserver_onnx.OnnxRuntime",
        "parameters": {"uri": "./model.onnx", "version": "1"}});
    std::fs::write(repo.join(name).join("model-settings.json"), model_settings.to_string()).unwrap();
    let mut child = Command::new(&mlserver)
        .args(["start", "."])
        .current_dir(&repo)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| panic!("{mlserver}: {error}; infra/local/bench installs it"));
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/v2/models/{name}/ready"), &mut child).await;
    Server { name: "mlserver", url, child }
}

/// A bare actix-web server (as many workers as Cairn's) whose one handler parses the JSON body
/// and writes it back: what any JSON-over-HTTP service pays before doing anything.
fn echo() -> String {
    let port = free_port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(|| {
                App::new().route(
                    "/echo",
                    web::post().to(|body: web::Bytes| async move {
                        match serde_json::from_slice::<serde_json::Value>(&body) {
                            Ok(value) => HttpResponse::Ok().json(value),
                            Err(error) => HttpResponse::BadRequest().body(error.to_string()),
                        }
                    }),
                )
            })
            .workers(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
            .bind(("127.0.0.1", port))
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    format!("http://127.0.0.1:{port}")
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Default)]
struct Load {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    /// CPU microseconds per request of each watched process (the server, nats-server).
    cpu_micros: Vec<(&'static str, f64)>,
}

/// `wrk` as [`wrk`] runs it, with the CPU time `watched` processes spent per request.
fn measured(
    url: &str,
    script: &Path,
    connections: usize,
    seconds: u64,
    watched: &[(&'static str, u32)],
) -> Load {
    let before: Vec<f64> = watched.iter().map(|(_, pid)| cairn_testkit::cpu_seconds(*pid)).collect();
    let mut load = wrk(url, script, connections, seconds);
    let requests = load.rate * seconds as f64;
    load.cpu_micros = watched
        .iter()
        .zip(before)
        .map(|((name, pid), before)| (*name, (cairn_testkit::cpu_seconds(*pid) - before) * 1e6 / requests))
        .collect();
    load
}

/// A wrk script that POSTs `body` with `headers`; paced to one request per `delay_ms` per
/// connection when given.
fn script(dir: &Path, name: &str, body: &[u8], headers: &[(&str, String)], delay_ms: Option<u64>) -> PathBuf {
    let body_path = dir.join(format!("{name}.body"));
    std::fs::write(&body_path, body).unwrap();
    let mut lua = format!(
        "wrk.method = \"POST\"\nlocal file = io.open(\"{}\", \"rb\")\nwrk.body = file:read(\"*a\")\nfile:close()\n",
        body_path.display()
    );
    for (name, value) in headers {
        lua.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    if let Some(delay) = delay_ms {
        lua.push_str(&format!("function delay()\n  return {delay}\nend\n"));
    }
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua).unwrap();
    path
}

fn wrk(url: &str, script: &Path, connections: usize, seconds: u64) -> Load {
    let output = Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|error| panic!("wrk: {error}; infra/local/bench installs it (apt-get install wrk)"));
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "wrk: {text}{}", String::from_utf8_lossy(&output.stderr));
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find_map(|line| line.strip_prefix(prefix)).map(str::trim)
    };
    let millis = |value: &str| -> f64 {
        let split = value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len());
        let (number, unit) = value.split_at(split);
        let number: f64 = number.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            "m" => number * 60_000.0,
            _ => f64::NAN,
        }
    };
    let latency_max =
        field("Latency").and_then(|line| line.split_whitespace().nth(2)).map_or(f64::NAN, millis);
    let errors = field("Non-2xx or 3xx responses:").and_then(|n| n.parse().ok()).unwrap_or(0)
        + field("Socket errors:")
            .map(|line| {
                line.split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .unwrap_or(0);
    Load {
        cpu_micros: Vec::new(),
        rate: field("Requests/sec:").and_then(|n| n.parse().ok()).unwrap_or(f64::NAN),
        p50_ms: field("50%").map_or(f64::NAN, millis),
        p99_ms: field("99%").map_or(f64::NAN, millis),
        max_ms: latency_max,
        errors,
    }
}

/// Paced load at about `rate` requests/s: connections that each wait `delay` ms between requests.
fn paced(dir: &Path, name: &str, body: &[u8], headers: &[(&str, String)], rate: f64) -> (PathBuf, usize) {
    const DELAY_MS: u64 = 2;
    // A connection makes one request per delay plus the answer's own time (~0.2 ms).
    let connections = ((rate * (DELAY_MS as f64 + 0.2) / 1000.0).round() as usize).max(1);
    (script(dir, name, body, headers, Some(DELAY_MS)), connections)
}

async fn register(registry: &str, file: &Path, name: &str, copies: usize) -> Vec<String> {
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/serving_client.py");
    let files = vec![file.to_str().unwrap(); copies];
    let output = Command::new(cairn_testkit::python())
        .arg(client)
        .arg("versions")
        .arg(name)
        .args(files)
        .env("MLFLOW_TRACKING_URI", registry)
        .output()
        .unwrap();
    assert!(output.status.success(), "register: {}", String::from_utf8_lossy(&output.stderr));
    // The last line: mlflow prints links to the runs before it.
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    stdout.lines().last().unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

async fn move_alias(registry: &str, version: &str) {
    let answer = reqwest::Client::new()
        .post(format!("{registry}/api/2.0/mlflow/registered-models/alias"))
        .json(&json!({"name": "forest", "alias": "champion", "version": version}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
}

fn row() -> Vec<f32> {
    (0..30).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect()
}

fn print(name: &str, load: &Load) {
    let cpu: Vec<String> =
        load.cpu_micros.iter().map(|(name, micros)| format!("{name} {micros:.0} µs")).collect();
    println!(
        "  {name:<44} {:>8.0} req/s   p50 {:>6.3} ms   p99 {:>6.3} ms   max {:>6.2} ms   errors {}   CPU/request: {}",
        load.rate,
        load.p50_ms,
        load.p99_ms,
        load.max_ms,
        load.errors,
        if cpu.is_empty() { "-".to_owned() } else { cpu.join(", ") }
    );
}

#[tokio::main]
async fn main() {
    let seconds = seconds();
    let dir = tempfile::tempdir().unwrap();
    let zoo = dir.path().join("zoo");
    let status = Command::new(cairn_testkit::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/model_zoo.py"))
        .arg(&zoo)
        .arg("random_forest_bench")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "model zoo");
    let model = zoo.join("random_forest_bench.onnx");

    let nats = NatsServer::start().await;
    let registry = cairn("registry", &nats, dir.path(), &[]).await;
    // CAIRN_BENCH_ONLY=requests,batch,entities (any of them): those parts alone.
    let only = std::env::var("CAIRN_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only.split(',').any(|part| part == name);
    if part("requests") {
        requests(dir.path(), &nats, &registry, &model, seconds).await;
    }
    if part("batch") {
        batch(dir.path(), &nats, &registry, &model).await;
    }
    if part("entities") {
        entities(dir.path(), &nats, &registry, seconds).await;
    }
    if part("monitor") {
        monitored(dir.path(), &nats, &registry, &model, seconds).await;
    }
}

/// A counter or gauge of a Prometheus text page: the sum of the lines of `name` holding every
/// label of `labels`.
async fn metric(url: &str, name: &str, labels: &[&str]) -> f64 {
    let text = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The monitor on serving's full rate: the forest's endpoint at full load (as `requests`
/// measures it) with the monitor reading the prediction log and judging every window of 1 000
/// predictions on its 30 features against the model's training data. Whether it keeps up (every
/// answered prediction counted, none dropped from the log, how long it takes to drain after the
/// load), and its CPU per 1 000 predictions.
async fn monitored(path: &Path, nats: &NatsServer, registry: &Server, model: &Path, seconds: u64) {
    let offline = path.join("offline-shared");
    let shared = |extra: &[(&str, String)]| -> Vec<(String, String)> {
        let mut env = vec![
            ("CAIRN__STORAGE__OFFLINE_ROOT".to_owned(), offline.display().to_string()),
            ("CAIRN__SERVICES__REGISTRY__URL".to_owned(), registry.url.clone()),
        ];
        env.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
        env
    };
    let ingestion = cairn("ingestion", nats, path, &shared(&[])).await;
    // The training data: 20 000 rows of the 30 features, as the forest was trained on.
    let http = reqwest::Client::new();
    let mut columns = vec![json!({"name": "ts", "type": "timestamp", "nullable": false})];
    columns.extend((0..30).map(|i| json!({"name": format!("f{i}"), "type": "float32"})));
    let answer = http
        .post(format!("{}/v1/datasets", ingestion.url))
        .json(&json!({"name": "forest_train", "schema": {"columns": columns, "event_timestamp": "ts"}}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let mut csv = String::from("ts");
    for i in 0..30 {
        csv.push_str(&format!(",f{i}"));
    }
    csv.push('\n');
    let mut state = 7u64;
    for row in 0..20_000u64 {
        csv.push_str(&format!("2026-11-01T00:{:02}:{:02}Z", row / 60 % 60, row % 60));
        for _ in 0..30 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            csv.push_str(&format!(",{:.4}", (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0));
        }
        csv.push('\n');
    }
    let answer = http
        .post(format!("{}/v1/datasets/forest_train/batches", ingestion.url))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    // The version's lineage names that data, and its tag the matrix's columns.
    let version = register(&registry.url, model, "watched", 1).await.remove(0);
    let found: serde_json::Value = http
        .get(format!("{}/api/2.0/mlflow/model-versions/get?name=watched&version={version}", registry.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = found["model_version"]["run_id"].as_str().unwrap().to_owned();
    let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
    for (endpoint, body) in [
        ("runs/set-tag", json!({"run_id": run_id, "key": "cairn.dataset.forest_train", "value": "1"})),
        (
            "model-versions/set-tag",
            json!({"name": "watched", "version": version, "key": "cairn.feature_names",
                   "value": serde_json::to_string(&names).unwrap()}),
        ),
        ("registered-models/alias", json!({"name": "watched", "alias": "champion", "version": version})),
    ] {
        let answer = http
            .post(format!("{}/api/2.0/mlflow/{endpoint}", registry.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{endpoint}: {}", answer.text().await.unwrap());
    }
    let serving = cairn("serving", nats, path, &shared(&[])).await;
    let monitor =
        cairn("monitor", nats, path, &shared(&[("CAIRN__SERVICES__INGESTION__URL", ingestion.url.clone())]))
            .await;
    let answer = http
        .put(format!("{}/v1/endpoints/watched", serving.url))
        .json(&json!({"model": "watched", "alias": "champion"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let body = serde_json::to_vec(
        &json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 30], "data": row()}]}),
    )
    .unwrap();
    let infer = format!("{}/v2/models/watched/infer", serving.url);
    // One request first: the monitor builds the version's reference from the training data.
    http.post(&infer).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
    let counted = |url: String| async move {
        metric(&url, "cairn_monitor_predictions_total", &["endpoint=\"watched\""]).await
    };
    while counted(monitor.url.clone()).await < 1.0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!(
        "\nmonitor: the forest's endpoint at full load, every prediction logged, windows of 1 000 judged on 30 features"
    );
    let monitor_pid = monitor.child.id();
    let cpu_before = cairn_testkit::cpu_seconds(monitor_pid);
    let script_path =
        script(path, "watched", &body, &[("Content-Type", "application/json".to_owned())], None);
    let load = measured(
        &infer,
        &script_path,
        32,
        seconds,
        &[("serving", serving.child.id()), ("nats-server", nats.pid().unwrap())],
    );
    let load_ended = std::time::Instant::now();
    let cpu_during = cairn_testkit::cpu_seconds(monitor_pid) - cpu_before;
    let answered =
        metric(&serving.url, "cairn_predictions_total", &["endpoint=\"watched\"", "outcome=\"ok\""]).await;
    let dropped = metric(&serving.url, "cairn_prediction_log_dropped_total", &[]).await;
    let mut seen = counted(monitor.url.clone()).await;
    let during = seen;
    while seen < answered - dropped && load_ended.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = counted(monitor.url.clone()).await;
    }
    let drained = load_ended.elapsed().as_secs_f64();
    let cpu = cairn_testkit::cpu_seconds(monitor_pid) - cpu_before;
    let windows = metric(&monitor.url, "cairn_monitor_windows_total", &["endpoint=\"watched\""]).await;
    print("cairn, OIP JSON, with the monitor reading the log", &load);
    println!(
        "  answered {answered:.0}, dropped from the log {dropped:.0}, counted by the monitor {seen:.0} ({during:.0} by the end of the load), {windows:.0} windows judged"
    );
    println!(
        "  monitor CPU per 1 000 predictions: {:.1} ms ({:.1} ms during the load); caught up {drained:.2} s after the load ended",
        cpu * 1e6 / seen.max(1.0),
        cpu_during * 1e6 / during.max(1.0)
    );
    println!(
        "  keeps up: {}",
        if seen >= answered - dropped && dropped == 0.0 && drained < 5.0 { "yes" } else { "NO" }
    );
    drop((monitor, serving, ingestion));
}

/// Single-row requests over HTTP: Cairn against MLServer and a bare echo, then at half rate, then
/// an alias swap under that load.
async fn requests(path: &Path, nats: &NatsServer, registry: &Server, model: &Path, seconds: u64) {
    let versions = register(&registry.url, model, "forest", 2).await;
    move_alias(&registry.url, &versions[0]).await;
    let serving =
        cairn("serving", nats, path, &[("CAIRN__SERVICES__REGISTRY__URL".to_owned(), registry.url.clone())])
            .await;
    let answer = reqwest::Client::new()
        .put(format!("{}/v1/endpoints/forest", serving.url))
        .json(&json!({"model": "forest", "alias": "champion"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());

    let row = row();
    let oip_json = serde_json::to_vec(
        &json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 30], "data": row}]}),
    )
    .unwrap();
    let json_header = [("Content-Type", "application/json".to_owned())];
    let header =
        serde_json::to_vec(&json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 30],
        "parameters": {"binary_data_size": 120}}], "parameters": {"binary_data_output": true}}))
        .unwrap();
    let mut binary = header.clone();
    binary.extend(row.iter().flat_map(|value| value.to_le_bytes()));
    let binary_headers = [
        ("Content-Type", "application/octet-stream".to_owned()),
        ("Inference-Header-Content-Length", header.len().to_string()),
    ];

    let infer = format!("{}/v2/models/forest/infer", serving.url);
    println!(
        "serving: 100-tree random forest, 30 FP32 features, one row per request; wrk -t1, {seconds} s each"
    );
    let connections = 32;
    let watched = [("serving", serving.child.id()), ("nats-server", nats.pid().unwrap())];
    let json_script = script(path, "cairn-json", &oip_json, &json_header, None);
    let cairn_json = measured(&infer, &json_script, connections, seconds, &watched);
    print("cairn, OIP JSON", &cairn_json);
    let binary_script = script(path, "cairn-binary", &binary, &binary_headers, None);
    let cairn_binary = measured(&infer, &binary_script, connections, seconds, &watched);
    print("cairn, OIP binary (tritonclient's default)", &cairn_binary);
    let floor = echo();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let echo_script = script(path, "echo", &oip_json, &json_header, None);
    let echo_load = measured(
        &format!("{floor}/echo"),
        &echo_script,
        connections,
        seconds,
        &[("echo", std::process::id())],
    );
    print("bare actix-web JSON echo", &echo_load);

    let half = cairn_json.rate / 2.0;
    let (paced_script, paced_connections) = paced(path, "cairn-paced", &oip_json, &json_header, half);
    let at_half = wrk(&infer, &paced_script, paced_connections, seconds);
    print(&format!("cairn at half rate ({paced_connections} paced connections)"), &at_half);

    // The alias moves to version 2 a third of the way into a paced run.
    let registry_url = registry.url.clone();
    let mover = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
        move_alias(&registry_url, &versions[1]).await;
    });
    let (script_path, url) = (paced_script.clone(), infer.clone());
    let swap = tokio::task::spawn_blocking(move || wrk(&url, &script_path, paced_connections, seconds))
        .await
        .unwrap();
    mover.await.unwrap();
    print("cairn at half rate, alias moved mid-run", &swap);
    let served: serde_json::Value =
        reqwest::get(format!("{}/v1/endpoints/forest", serving.url)).await.unwrap().json().await.unwrap();

    let mlserver = mlserver(path, "forest", model).await;
    let mlserver_load = measured(
        &format!("{}/v2/models/forest/infer", mlserver.url),
        &script(path, "mlserver", &oip_json, &json_header, None),
        connections,
        seconds,
        &[("mlserver", mlserver.child.id())],
    );
    print("mlserver (parallel_workers 0), OIP JSON", &mlserver_load);
    drop(mlserver);

    println!("\nratios:");
    println!(
        "  cairn / mlserver (JSON):                 {:.1}x  (goal >= 30)",
        cairn_json.rate / mlserver_load.rate
    );
    println!(
        "  cairn / bare actix echo (JSON):          {:.2}x  (goal >= 0.6)",
        cairn_json.rate / echo_load.rate
    );
    println!("  cairn throughput (JSON):                 {:.0} req/s  (goal >= 20000)", cairn_json.rate);
    println!(
        "  p99 at half rate ({:.0} req/s):          {:.3} ms  (goal <= 2)",
        at_half.rate, at_half.p99_ms
    );
    println!(
        "  alias swap under that load: {} errors, p99 {:.3} ms (vs {:.3}), max {:.2} ms (vs {:.2}); serving version {}",
        swap.errors, swap.p99_ms, at_half.p99_ms, swap.max_ms, at_half.max_ms, served["serving"]
    );
    drop(serving);
}

/// Rows in the batch scoring benchmark's file.
fn batch_rows() -> u64 {
    std::env::var("CAIRN_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

/// Batch scoring, end to end — read, score, write — on one Parquet file of 30 FP32 features:
/// Cairn's scoring job on a dataset version ingested from the file (timed from the request to
/// the file written and handed to ingestion, and to ingestion holding it as a version) against
/// pyarrow + onnxruntime's `InferenceSession.run` + pyarrow (tests/python/score_parquet.py, in
/// MLServer's virtualenv, which has onnxruntime; pyarrow added).
async fn batch(path: &Path, nats: &NatsServer, registry: &Server, model: &Path) {
    let rows = batch_rows();
    let peer = std::env::var("CAIRN_BENCH_MLSERVER").map_or_else(
        |_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv-mlserver/bin/python")),
        |mlserver| Path::new(&mlserver).with_file_name("python"),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/score_parquet.py");
    let input = path.join("batch.parquet");
    let made =
        Command::new(&peer).args([script, "make", input.to_str().unwrap(), &rows.to_string()]).status();
    assert!(made.unwrap().success(), "making the batch file");

    // Ingestion and serving share one offline store: serving reads the versions ingestion writes.
    let offline = ("CAIRN__STORAGE__OFFLINE_ROOT".to_owned(), path.join("offline").display().to_string());
    let ingestion = cairn("ingestion", nats, path, std::slice::from_ref(&offline)).await;
    let serving = cairn(
        "serving",
        nats,
        &path.join("batch"),
        &[
            ("CAIRN__SERVICES__REGISTRY__URL".to_owned(), registry.url.clone()),
            ("CAIRN__SERVICES__INGESTION__URL".to_owned(), ingestion.url.clone()),
            offline,
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let mut columns = vec![
        json!({"name": "id", "type": "int64", "nullable": false}),
        json!({"name": "ts", "type": "timestamp", "nullable": false}),
    ];
    columns.extend((0..30).map(|i| json!({"name": format!("f{i}"), "type": "float32"})));
    let dataset = json!({"name": "bench", "schema": {"columns": columns, "event_timestamp": "ts"}});
    let created = http.post(format!("{}/v1/datasets", ingestion.url)).json(&dataset).send().await.unwrap();
    assert!(created.status().is_success(), "{}", created.text().await.unwrap());
    let ingested = http
        .post(format!("{}/v1/datasets/bench/batches?format=parquet", ingestion.url))
        .body(std::fs::read(&input).unwrap())
        .send()
        .await
        .unwrap();
    assert!(ingested.status().is_success(), "{}", ingested.text().await.unwrap());
    let version = register(&registry.url, model, "forest-batch", 1).await.remove(0);
    let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
    let tag = json!({"name": "forest-batch", "version": version, "key": "cairn.feature_names",
        "value": names.join(",")});
    let tagged =
        http.post(format!("{}/api/2.0/mlflow/model-versions/set-tag", registry.url)).json(&tag).send().await;
    assert!(tagged.unwrap().status().is_success());

    let started = std::time::Instant::now();
    let job: serde_json::Value = http
        .post(format!("{}/v1/scoring-jobs", serving.url))
        .json(
            &json!({"model": "forest-batch", "version": version.parse::<i64>().unwrap(), "dataset": "bench"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let mut written = None;
    let job = loop {
        let job: serde_json::Value = reqwest::get(format!("{}/v1/scoring-jobs/{id}", serving.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if written.is_none() && job["state"] != "running" {
            written = Some(started.elapsed());
        }
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let adopted = started.elapsed();
    assert_eq!(job["state"], "succeeded", "{job}");
    let written = written.unwrap_or(adopted);

    let output = path.join("batch-scored.parquet");
    let scored = Command::new(&peer)
        .args([script, "score", model.to_str().unwrap(), input.to_str().unwrap(), output.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
    let python: f64 = String::from_utf8_lossy(&scored.stdout).trim().parse().unwrap();

    let per_second = |seconds: f64| rows as f64 / seconds;
    println!("\nbatch scoring, {rows} rows of 30 FP32 features, 100-tree forest, read + score + write:");
    println!(
        "  cairn scoring job, to the file written:     {:>10.0} rows/s  ({:.2} s)",
        per_second(written.as_secs_f64()),
        written.as_secs_f64()
    );
    println!(
        "  cairn scoring job, to the dataset version:  {:>10.0} rows/s  ({:.2} s; ingestion validates and profiles it)",
        per_second(adopted.as_secs_f64()),
        adopted.as_secs_f64()
    );
    println!(
        "  pyarrow + onnxruntime InferenceSession.run: {:>10.0} rows/s  ({python:.2} s)",
        per_second(python)
    );
    println!(
        "  cairn / onnxruntime python (file written):  {:.2}x  (goal >= 1.0)",
        python / written.as_secs_f64()
    );
    drop(serving);
    drop(ingestion);
}

/// Entity-key requests: a model on the 50 features of a feature service, each request one
/// entity's key, its features read from the online store in serving's own process (ingestion →
/// the feature store's materialization → NATS KV → serving's replica); p99 at a paced rate.
async fn entities(path: &Path, nats: &NatsServer, registry: &Server, seconds: u64) {
    const FEATURES: usize = 50;
    const ENTITIES: usize = 10_000;
    let dir = path.join("entities");
    let offline = ("CAIRN__STORAGE__OFFLINE_ROOT".to_owned(), dir.join("offline").display().to_string());
    let ingestion = cairn("ingestion", nats, &dir, std::slice::from_ref(&offline)).await;
    let ingestion_url = ("CAIRN__SERVICES__INGESTION__URL".to_owned(), ingestion.url.clone());
    let features = cairn("feature-store", nats, &dir, &[offline, ingestion_url]).await;
    let (ingest, store) =
        (cairn_client::Client::new(&ingestion.url), cairn_client::Client::new(&features.url));
    let names: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    let mut columns = vec![
        json!({"name": "id", "type": "int64", "nullable": false}),
        json!({"name": "ts", "type": "timestamp", "nullable": false}),
    ];
    columns.extend(names.iter().map(|name| json!({"name": name, "type": "float64"})));
    let dataset = serde_json::from_value(
        json!({"name": "customers", "schema": {"columns": columns, "event_timestamp": "ts", "entity_keys": ["id"]}}),
    )
    .unwrap();
    ingest.create_dataset(&dataset).await.unwrap();
    let now = an_hour_ago();
    let mut csv = format!("id,ts,{}\n", names.join(","));
    for id in 0..ENTITIES {
        let values: Vec<String> =
            (0..FEATURES).map(|i| format!("{:.3}", ((id * 31 + i * 7) % 1000) as f64 / 100.0)).collect();
        csv.push_str(&format!("{id},{now},{}\n", values.join(",")));
    }
    while store.source_dataset("customers").await.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ingest.ingest("customers", "text/csv", csv).await.unwrap();
    let definitions = serde_json::from_value(json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [{"name": "profile", "source": "customers", "entities": ["customer"],
            "features": names.iter().map(|name| json!({"name": name, "type": "float64"})).collect::<Vec<_>>()}],
        "feature_services": [{"name": "scoring", "features": names.iter().map(|name| format!("profile:{name}")).collect::<Vec<_>>()}]
    }))
    .unwrap();
    store.apply_features(&definitions, None).await.unwrap();
    loop {
        let run = store.materialize("profile", &cairn_api::MaterializeRequest::default()).await.unwrap();
        let run = loop {
            let run = store.materialization(&run.id).await.unwrap();
            if run.finished_at.is_some() {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if run.state == cairn_api::MaterializationState::Succeeded && run.files > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/serving_client.py");
    let output = Command::new(cairn_testkit::python())
        .args([client, "feature_model", "wide", "scoring@1", &FEATURES.to_string()])
        .env("MLFLOW_TRACKING_URI", &registry.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "register: {}", String::from_utf8_lossy(&output.stderr));
    let serving = cairn(
        "serving",
        nats,
        &dir,
        &[
            ("CAIRN__SERVICES__REGISTRY__URL".to_owned(), registry.url.clone()),
            ("CAIRN__SERVICES__FEATURE_STORE__URL".to_owned(), features.url.clone()),
        ],
    )
    .await;
    let answer = reqwest::Client::new()
        .put(format!("{}/v1/endpoints/wide", serving.url))
        .json(&json!({"model": "wide", "version": 1}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let url = format!("{}/v1/endpoints/wide/predict", serving.url);
    let body = serde_json::to_vec(&json!({"entities": [{"id": 4242}]})).unwrap();
    let first: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .body(body.clone())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let complete = first["missing"].as_array().is_none_or(|rows| rows.iter().all(|row| row == &json!([])));
    assert!(complete && first["predictions"][0]["variable"].is_number(), "every feature online: {first}");
    let headers = [("Content-Type", "application/json".to_owned())];
    let full = measured(
        &url,
        &script(&dir, "entities", &body, &headers, None),
        32,
        seconds,
        &[("serving", serving.child.id())],
    );
    print("cairn, entity key → 50 online features", &full);
    let (paced_script, connections) = paced(&dir, "entities-paced", &body, &headers, full.rate / 2.0);
    let at_half = wrk(&url, &paced_script, connections, seconds);
    print(&format!("cairn, entity key, at half rate ({connections} paced connections)"), &at_half);
    println!("  entity-key p99 at {:.0} req/s:  {:.3} ms  (goal <= 3)", at_half.rate, at_half.p99_ms);
}

/// An hour ago, as RFC 3339: the entities' event time (inside any TTL).
fn an_hour_ago() -> String {
    let micros = cairn_domain::Timestamp::now().as_micros() - 3_600_000_000;
    cairn_domain::Timestamp::from_micros(micros).unwrap().to_string()
}
