//! Online features, side by side in one run:
//! - `POST /get-online-features` over HTTP for 1 entity × 50 features at 5 000 requests/s and 100
//!   entities × 50 features at 500/s (an open loop: requests leave on schedule, answered or not), and
//!   the same reads through the in-process library (`OnlineFeatures`) the serving service uses;
//! - the streaming path: from a batch's landing (its event on the bus) to its value being read;
//! - last, materialization of a 10M-row feature view (10 features, 1M entities) from Parquet in
//!   the offline store into NATS KV through the feature store's own path (`POST …/materialize`),
//!   against raw NATS KV puts of the same keys and values — the bus's limit.
//!
//! With `CAIRN_BENCH_FEAST` (a virtualenv holding Feast, as `just bench` makes), Feast does the
//! same on the same file: `materialize` into its SQLite online store, and its feature server
//! (`feast serve`, one worker) answers the same requests — at a rate it can sustain.
//!
//! The feature store runs in this process on a nats-server of its own. Sizes:
//! `CAIRN_BENCH_VIEW_ROWS` (10 000 000), `CAIRN_BENCH_VIEW_KEYS` (1 000 000),
//! `CAIRN_BENCH_ONLINE_SECONDS` (10 per load). `CAIRN_BENCH_HTTP_WORKERS` sets the feature
//! store's `http.workers` (0, its default: one per core).
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use bytes::Bytes;
use cairn_api::{MaterializationState, MaterializeRequest, OnlineRequest};
use cairn_bus::Bus;
use cairn_client::Client;
use cairn_domain::{ServiceKind, Timestamp};
use cairn_events::v1::{DatasetBatchIngested, DatasetCreated};
use cairn_feature_store::online::{Catalog, NatsOnlineStore, OnlineFeatures, ReadOptions, TableId};
use cairn_feature_store::point_in_time::write_parquet;
use cairn_telemetry::Metrics;
use cairn_testkit::NatsServer;
use futures::StreamExt as _;
use tokio::task::block_in_place;
use tokio_util::sync::CancellationToken;

use common::{duckdb, feast, size};

const WIDE_FEATURES: usize = 50;
const WIDE_ENTITIES: usize = 20_000;

fn schema_json(features: usize) -> String {
    let mut columns = vec![
        serde_json::json!({"name": "customer_id", "type": "int64", "nullable": false}),
        serde_json::json!({"name": "event_timestamp", "type": "timestamp", "nullable": false}),
    ];
    columns.extend((0..features).map(|i| serde_json::json!({"name": format!("f{i}"), "type": "float64"})));
    serde_json::json!({"columns": columns, "event_timestamp": "event_timestamp", "entity_keys": ["customer_id"]})
        .to_string()
}

/// Declares a dataset and one batch of `file` (already in the offline store) as ingestion would.
async fn announce(bus: &Bus, dataset: &str, features: usize, file: &str) {
    let created = DatasetCreated {
        dataset: dataset.into(),
        schema_json: schema_json(features),
        created_at_unix_micros: Timestamp::now().as_micros(),
    };
    bus.publish(&created).await.unwrap();
    let batch = DatasetBatchIngested {
        dataset: dataset.into(),
        batch_id: format!("{dataset}-1"),
        version: 1,
        rows_accepted: 0,
        rows_quarantined: 0,
        files: vec![file.into()],
        min_event_time_unix_micros: 0,
        max_event_time_unix_micros: i64::MAX,
    };
    bus.publish(&batch).await.unwrap();
}

/// Waits until the feature store has handled every event of a consumer.
async fn drained(bus: &Bus, consumer: &str) {
    loop {
        let stream = bus.jetstream().get_stream("CAIRN_DATASETS").await.unwrap();
        let mut consumer =
            stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer).await.unwrap();
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A whole materialization of `view`: its seconds, the seconds until it had read the source
/// (its entities are counted then, before it writes), and the run.
async fn materialize(client: &Client, view: &str) -> (f64, f64, cairn_api::Materialization) {
    let started = Instant::now();
    let run = client.materialize(view, &MaterializeRequest::default()).await.unwrap();
    let mut reading = None;
    loop {
        let now = client.materialization(&run.id).await.unwrap();
        if now.entities > 0 && reading.is_none() {
            reading = Some(started.elapsed().as_secs_f64());
        }
        if now.state != MaterializationState::Running {
            assert_eq!(now.state, MaterializationState::Succeeded, "{:?}", now.error);
            let seconds = started.elapsed().as_secs_f64();
            return (seconds, reading.unwrap_or(seconds), now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `feast serve` in a process group of its own (gunicorn forks workers), killed as a group.
struct FeastServer {
    child: Child,
    url: String,
}

impl FeastServer {
    async fn start(venv: &Path, repo: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(venv.join("bin/feast"))
            .arg("-c")
            .arg(repo)
            .args([
                "serve",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--no-access-log",
                "--max-requests",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while !reqwest::get(format!("{url}/health")).await.is_ok_and(|r| r.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(120), "feast serve did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self { child, url }
    }
}

impl Drop for FeastServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

/// One request's answer as feature name → (values, statuses), whatever order the columns came in.
fn by_name(response: &cairn_api::OnlineResponse) -> std::collections::BTreeMap<String, String> {
    let names = &response.metadata.feature_names;
    names
        .iter()
        .zip(&response.results)
        .map(|(name, column)| (name.clone(), format!("{:?} {:?}", column.values, column.statuses)))
        .collect()
}

async fn post(url: &str, body: Bytes) -> cairn_api::OnlineResponse {
    let response = reqwest::Client::new()
        .post(format!("{url}/get-online-features"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index].as_secs_f64() * 1000.0
    }

    fn row(&self, label: &str, rate: f64) {
        println!(
            "{label:<58}{rate:>10.0}{:>10.3}{:>10.3}{:>10.3}",
            self.quantile(0.5),
            self.quantile(0.99),
            self.quantile(0.999)
        );
    }
}

fn body(entities: usize, seed: usize) -> Bytes {
    let features: Vec<String> = (0..WIDE_FEATURES).map(|i| format!("wide:f{i}")).collect();
    let ids: Vec<usize> = (0..entities).map(|i| (seed * 7919 + i * 104_729) % WIDE_ENTITIES).collect();
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({"features": features, "entities": {"customer_id": ids}}))
            .unwrap(),
    )
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads one whole answer, which must be a 200 with a Content-Length, from a keep-alive HTTP/1.1
/// connection on a blocking socket — the load generator's client: no tasks, pools or channels
/// between the clock and the socket that would add wakeups of their own to what is measured.
fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<()> {
    buffer.clear();
    let mut length = None;
    loop {
        let start = buffer.len();
        buffer.resize(start + (1 << 16), 0);
        let read = stream.read(&mut buffer[start..])?;
        buffer.truncate(start + read);
        if read == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
        }
        if length.is_none()
            && let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            if !head.starts_with("http/1.1 200") {
                return Err(std::io::Error::other(head.lines().next().unwrap_or_default().to_owned()));
            }
            let body = head.lines().find_map(|line| line.strip_prefix("content-length:"));
            let body = body.and_then(|length| length.trim().parse::<usize>().ok());
            length = Some(end + 4 + body.ok_or_else(|| std::io::Error::other("no content-length"))?);
        }
        if length.is_some_and(|length| buffer.len() >= length) {
            return Ok(());
        }
    }
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const CLOSED: u8 = 2;

/// A keep-alive connection of the open loop. The pacer writes a request on it when it is idle
/// and a thread of its own reads the answer, so a request wakes no thread but that reader.
struct Line {
    stream: TcpStream,
    state: Arc<AtomicU8>,
    /// When each request on the line left, for its reader.
    sent: std::sync::mpsc::Sender<Instant>,
}

impl Line {
    /// A new line, busy with the request about to be written on it.
    fn open(addr: &str) -> (Self, std::thread::JoinHandle<Vec<Duration>>) {
        let stream = connect(addr);
        let state = Arc::new(AtomicU8::new(BUSY));
        let (sent, times) = std::sync::mpsc::channel::<Instant>();
        let (mut reading, reader_state) = (stream.try_clone().unwrap(), state.clone());
        let reader = std::thread::spawn(move || {
            let (mut latencies, mut buffer) = (Vec::new(), Vec::with_capacity(1 << 16));
            let error = loop {
                if let Err(error) = read_answer(&mut reading, &mut buffer) {
                    break error;
                }
                latencies.push(times.recv().unwrap().elapsed());
                reader_state.store(IDLE, Ordering::Release);
            };
            // Shut down at the end, or closed by the server while idle; never with a request on it.
            assert_ne!(reader_state.swap(CLOSED, Ordering::AcqRel), BUSY, "{error}");
            latencies
        });
        (Self { stream, state, sent }, reader)
    }
}

/// 1 024 different reads of `entities` entities for the server at `base` — or, with none, the
/// do-nothing `GET /healthz`, the floor.
fn requests(base: &str, entities: usize) -> (String, Vec<Vec<u8>>) {
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    let requests = (0..1024)
        .map(|seed| {
            if entities == 0 {
                return format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").into_bytes();
            }
            let body = body(entities, seed);
            let mut request = format!(
                "POST /get-online-features HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            request
        })
        .collect();
    (addr, requests)
}

/// Sends `rate` requests a second for `seconds`, each at its own time whatever the ones before it
/// are doing (an open loop): on an idle connection, or a new one when none is. Each is timed from
/// when it left until its whole answer is read. Both loops block the runtime's thread
/// (`block_in_place`), its tasks moved to the other workers.
fn open_loop(base: &str, rate: u64, seconds: u64, entities: usize) -> (Latencies, f64) {
    let (addr, requests) = requests(base, entities);
    block_in_place(|| {
        let total = rate * seconds;
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let (mut lines, mut readers) = (Vec::<Line>::new(), Vec::new());
        let mut next = 0;
        // This thread paces the requests (Tokio's timers tick every millisecond, which would
        // send them in bursts).
        let started = Instant::now();
        for i in 0..total {
            let at = started + interval * i as u32;
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            let sent = Instant::now();
            // The first idle line after the last one used: every line stays in use, so the server
            // never closes one for idleness.
            let idle = (0..lines.len()).map(|k| (next + k) % lines.len()).find(|&k| {
                lines[k].state.compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire).is_ok()
            });
            let k = idle.unwrap_or_else(|| {
                let (line, reader) = Line::open(&addr);
                lines.push(line);
                readers.push(reader);
                lines.len() - 1
            });
            next = k + 1;
            lines[k].sent.send(sent).unwrap();
            lines[k].stream.write_all(&requests[i as usize % requests.len()]).unwrap();
        }
        while lines.iter().any(|line| line.state.load(Ordering::Acquire) == BUSY) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let achieved = total as f64 / started.elapsed().as_secs_f64();
        for line in &lines {
            let _ = line.stream.shutdown(std::net::Shutdown::Both);
        }
        let latencies = readers.into_iter().flat_map(|reader| reader.join().unwrap()).collect();
        (Latencies(latencies), achieved)
    })
}

/// `count` requests one after the other on one connection: the latency without load.
fn closed_loop(base: &str, count: usize, entities: usize) -> (Latencies, f64) {
    let (addr, requests) = requests(base, entities);
    let (mut stream, mut buffer) = (connect(&addr), Vec::with_capacity(1 << 16));
    let mut latencies = Vec::with_capacity(count);
    block_in_place(|| {
        let started = Instant::now();
        for request in requests.iter().cycle().take(count) {
            let sent = Instant::now();
            stream.write_all(request).unwrap();
            read_answer(&mut stream, &mut buffer).unwrap();
            latencies.push(sent.elapsed());
        }
        (Latencies(latencies), count as f64 / started.elapsed().as_secs_f64())
    })
}

async fn in_process(features: &OnlineFeatures<NatsOnlineStore>, entities: usize, count: usize) -> Latencies {
    let requests: Vec<OnlineRequest> =
        (0..1024).map(|seed| serde_json::from_slice(&body(entities, seed)).unwrap()).collect();
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let started = Instant::now();
        std::hint::black_box(features.get(&requests[i % requests.len()]).await.unwrap());
        latencies.push(started.elapsed());
    }
    Latencies(latencies)
}

async fn run() {
    let (rows, keys) = (size("CAIRN_BENCH_VIEW_ROWS", 10_000_000), size("CAIRN_BENCH_VIEW_KEYS", 1_000_000));
    let seconds = size("CAIRN_BENCH_ONLINE_SECONDS", 10) as u64;
    let workers = size("CAIRN_BENCH_HTTP_WORKERS", 0).to_string();
    let server = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::config(
        &server.url(),
        None,
        dir.path(),
        &[("CAIRN__FEATURES__ONLINE_REPLICA_MIB", "4096"), ("CAIRN__HTTP__WORKERS", &workers)],
    );

    // The files, where ingestion would have written them.
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_str().unwrap();
    duckdb(&["generate", path, "1", &rows.to_string(), &keys.to_string()]);
    duckdb(&["wide", path, &WIDE_ENTITIES.to_string(), &WIDE_FEATURES.to_string()]);
    let offline = config.offline_root();
    for (dataset, file) in [("bench", "view.parquet"), ("wide", "wide.parquet")] {
        let target = offline.join(format!("datasets/{dataset}/data"));
        std::fs::create_dir_all(&target).unwrap();
        std::fs::rename(data.path().join(file), target.join(file)).unwrap();
    }

    let service = cairn_feature_store::run(config.clone()).await.unwrap();
    let client = Client::new(service.url());
    let bus = Bus::connect(&config.nats, ServiceKind::Ingestion, Metrics::new("bench")).await.unwrap();
    announce(&bus, "bench", 10, "datasets/bench/data/view.parquet").await;
    announce(&bus, "wide", WIDE_FEATURES, "datasets/wide/data/wide.parquet").await;
    drained(&bus, "feature-store_datasets").await;
    drained(&bus, "feature-store_batches").await;
    let view = |name: &str, features: usize| {
        let features: Vec<_> =
            (0..features).map(|i| serde_json::json!({"name": format!("f{i}"), "type": "float64"})).collect();
        serde_json::json!({"name": name, "source": name, "entities": ["customer"], "features": features})
    };
    let definitions = serde_json::from_value(serde_json::json!({
        "entities": [{"name": "customer", "join_keys": ["customer_id"]}],
        "feature_views": [view("bench", 10), view("wide", WIDE_FEATURES)],
    }))
    .unwrap();
    client.apply_features(&definitions, None).await.unwrap();

    // A 50-feature view: materialized by both, then read online.
    let feast_venv = std::env::var_os("CAIRN_BENCH_FEAST").map(PathBuf::from);
    let wide_file = offline.join("datasets/wide/data/wide.parquet");
    let feast_repo = dir.path().join("feast");
    println!("\nmaterialization: {WIDE_ENTITIES} entities × {WIDE_FEATURES} features, one row each");
    let (cairn_seconds, _, wide) = materialize(&client, "wide").await;
    assert_eq!(wide.rows_written, WIDE_ENTITIES as u64);
    println!("{:<58}{:>10}{:>14}{:>10}", "", "seconds", "rows/s", "ratio");
    let feast_seconds = feast_venv.as_ref().map(|venv| {
        let repo = feast_repo.to_str().unwrap();
        let setup = feast(
            venv,
            &[
                "setup",
                repo,
                wide_file.to_str().unwrap(),
                "wide",
                "customer_id",
                "event_timestamp",
                &WIDE_FEATURES.to_string(),
            ],
        );
        let run = feast(venv, &["materialize", repo]);
        let seconds = run["seconds"].as_f64().unwrap();
        println!(
            "{:<58}{:>10.2}{:>14.0}{:>10.2}",
            format!(
                "Feast {} materialize, SQLite online store (peer)",
                setup["feast_version"].as_str().unwrap_or("?")
            ),
            seconds,
            WIDE_ENTITIES as f64 / seconds,
            1.0
        );
        seconds
    });
    println!(
        "{:<58}{:>10.2}{:>14.0}{:>10}",
        "Cairn materialize, NATS KV",
        cairn_seconds,
        WIDE_ENTITIES as f64 / cairn_seconds,
        feast_seconds.map_or("-".into(), |feast| format!("{:.1}", feast / cairn_seconds))
    );
    println!("(ratio: Feast's time over Cairn's)");

    // Warm the service's replica; both stores answer the same thing.
    let check = post(&service.url(), body(1, 1)).await;
    assert_eq!(check.results.len(), WIDE_FEATURES + 1);
    assert!(check.results[1].statuses.iter().all(|status| *status == cairn_api::FieldStatus::Present));
    let feast_server = match &feast_venv {
        Some(venv) => {
            let server = FeastServer::start(venv, &feast_repo).await;
            for seed in 0..20 {
                let (ours, theirs) =
                    (post(&service.url(), body(3, seed)).await, post(&server.url, body(3, seed)).await);
                assert_eq!(by_name(&ours), by_name(&theirs), "Cairn and Feast answer alike");
            }
            Some(server)
        }
        None => None,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    println!(
        "\nonline: 1 and 100 entities × {WIDE_FEATURES} features of {WIDE_ENTITIES}, {seconds} s per load, open loop, http.workers = {workers}"
    );
    println!("{:<58}{:>10}{:>10}{:>10}{:>10}", "", "req/s", "p50 ms", "p99 ms", "p99.9 ms");
    if let Some(server) = &feast_server {
        let (one, rate) = open_loop(&server.url, 150, seconds, 1);
        one.row("Feast feature server (1 worker), 1 entity × 50 (peer)", rate);
        let (hundred, rate) = open_loop(&server.url, 5, seconds, 100);
        hundred.row("Feast feature server (1 worker), 100 entities × 50 (peer)", rate);
    }
    drop(feast_server);
    let (floor, rate) = closed_loop(&service.url(), 5_000, 0);
    floor.row("HTTP floor here: GET /healthz, one at a time", rate);
    let (one, rate) = closed_loop(&service.url(), 5_000, 1);
    one.row("Cairn HTTP, 1 entity × 50 features, one at a time", rate);
    let (floor, rate) = open_loop(&service.url(), 5_000, seconds, 0);
    floor.row("HTTP floor here: GET /healthz, open loop", rate);
    let (one, rate) = open_loop(&service.url(), 5_000, seconds, 1);
    one.row("Cairn HTTP, 1 entity × 50 features (goal p99 ≤ 0.5 ms)", rate);
    let (hundred, rate) = open_loop(&service.url(), 500, seconds, 100);
    hundred.row("Cairn HTTP, 100 entities × 50 features (goal p99 ≤ 3 ms)", rate);

    // The library path, as the serving service reads: a store and a catalog of its own.
    let shutdown = CancellationToken::new();
    let store = NatsOnlineStore::new(bus.clone(), 1 << 30, shutdown.clone());
    let views = client.feature_view_versions("wide").await.unwrap();
    let library = OnlineFeatures::new(
        store,
        Catalog::new(views, Vec::new(), vec![("wide".to_owned(), 1)]),
        ReadOptions::default(),
    );
    while !library.store().replica_ready(&TableId::new("wide", 1)).await.unwrap() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let count = (5_000 * seconds) as usize;
    let started = Instant::now();
    let one = in_process(&library, 1, count).await;
    one.row(
        "Cairn library in process, 1 entity × 50 features",
        count as f64 / started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    let hundred = in_process(&library, 100, count / 10).await;
    hundred.row(
        "Cairn library in process, 100 entities × 50 features",
        (count / 10) as f64 / started.elapsed().as_secs_f64(),
    );
    println!(
        "(library: one caller in a loop, the answer as Rust values; Feast's published p99 for 1 × 50: Python 15 ms, Go 2.6 ms, Java 0.8 ms)"
    );

    // The streaming path: a batch lands (its file in the offline store, its event on the bus) and
    // the library's replica answers its value.
    let rounds = 50;
    let mut landed_to_online = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let customer = (round * 397) % WIDE_ENTITIES;
        let value = 1_000.0 + round as f64;
        let path = format!("datasets/wide/data/stream-{round}.parquet");
        let now = Timestamp::now().as_micros();
        write_parquet(&one_row(customer as i64, now, value), &offline.join(&path)).unwrap();
        let landed = Instant::now();
        let batch = DatasetBatchIngested {
            dataset: "wide".into(),
            batch_id: format!("wide-stream-{round}"),
            version: 0,
            rows_accepted: 1,
            rows_quarantined: 0,
            files: vec![path],
            min_event_time_unix_micros: now,
            max_event_time_unix_micros: now,
        };
        bus.publish(&batch).await.unwrap();
        let request: OnlineRequest = serde_json::from_value(
            serde_json::json!({"features": ["wide:f0"], "entities": {"customer_id": [customer]}}),
        )
        .unwrap();
        loop {
            let answer = library.get(&request).await.unwrap();
            if answer.results[1].values[0] == serde_json::json!(value) {
                break;
            }
            assert!(landed.elapsed() < Duration::from_secs(30), "the streamed value never came online");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        landed_to_online.push(landed.elapsed());
    }
    println!("\nstreaming path: a landed batch's value read in process, {rounds} batches one after another");
    println!("{:<58}{:>10}{:>10}{:>10}{:>10}", "", "batches", "p50 ms", "p99 ms", "max ms");
    let streamed = Latencies(landed_to_online);
    println!(
        "{:<58}{:>10}{:>10.1}{:>10.1}{:>10.1}",
        "batch event published → value online (goal p99 ≤ 1 s)",
        rounds,
        streamed.quantile(0.5),
        streamed.quantile(0.99),
        streamed.quantile(1.0)
    );
    // Materialization: the feature store's whole path, then raw puts of what it wrote — last, so
    // that the bus's work after millions of KV writes does not fall on the latencies above.
    println!("\nmaterialization: a {rows}-row view of 10 features, {keys} keys, Parquet → NATS KV");
    let (cairn_seconds, reading_seconds, run) = materialize(&client, "bench").await;
    assert_eq!(run.rows_read, rows as u64);
    let written = bus.create_kv_stream(&TableId::new("bench", 1).bucket(), 1).await.unwrap();
    let mut entries = Vec::with_capacity(run.entities as usize);
    let mut watch = written.watch_all_from_revision(1).await.unwrap();
    while entries.len() < run.entities as usize {
        let entry = watch.next().await.unwrap().unwrap();
        entries.push((entry.key, entry.value));
    }
    drop(watch);
    assert_eq!(entries.len() as u64, run.rows_written, "every entity written once");
    let raw = bus.create_kv_stream("bench_raw_puts", 1).await.unwrap();
    let started = Instant::now();
    futures::stream::iter(entries)
        .map(|(key, value)| {
            let raw = raw.clone();
            async move { raw.put(key, value).await.unwrap() }
        })
        .buffer_unordered(512)
        .for_each(|_| async {})
        .await;
    let raw_seconds = started.elapsed().as_secs_f64();
    println!("{:<58}{:>10}{:>14}{:>10}", "", "seconds", "rows/s", "ratio");
    println!(
        "{:<58}{:>10.2}{:>14.0}{:>10.2}",
        format!("raw NATS KV puts of the {} entities' values (limit)", run.entities),
        raw_seconds,
        run.entities as f64 / raw_seconds,
        1.0
    );
    println!(
        "{:<58}{:>10.2}{:>14.0}{:>10.2}",
        "Cairn materialize: read, latest per entity, guarded writes",
        cairn_seconds,
        rows as f64 / cairn_seconds,
        raw_seconds / cairn_seconds
    );
    println!(
        "{:<58}{:>10.2}{:>14.0}",
        "  of which reading the source, before the first write",
        reading_seconds,
        rows as f64 / reading_seconds
    );
    println!(
        "(rows/s: source rows for Cairn, entities for raw puts; ratio: raw time over Cairn's, goal ≥ 0.5)"
    );

    shutdown.cancel();
    service.stop().await;
}

/// One row of the `wide` view: `customer`'s features all `value`, at `micros`.
fn one_row(customer: i64, micros: i64, value: f64) -> RecordBatch {
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("customer_id".into(), Arc::new(Int64Array::from(vec![customer]))),
        ("event_timestamp".into(), Arc::new(TimestampMicrosecondArray::from(vec![micros]))),
    ];
    columns.extend(
        (0..WIDE_FEATURES).map(|i| (format!("f{i}"), Arc::new(Float64Array::from(vec![value])) as ArrayRef)),
    );
    RecordBatch::try_from_iter(columns).unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}
