//! Ingestion throughput, side by side in one run: batches (a CSV file, and the same rows as
//! Parquet, uploaded over HTTP and imported from where they lie, validated, reported, profiled
//! and written as Parquet) against DuckDB copying the same file into Parquet (`COPY … TO`), and
//! streamed records (durably accepted and landed in Parquet) against raw JetStream publishing of
//! the same records. Rounds alternate Cairn and its
//! peer; medians are reported.
#![expect(clippy::unwrap_used, reason = "a failed step fails the benchmark")]

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cairn_api::NewImport;
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_testkit::NatsServer;

const DEFAULT_ROWS: usize = 1_000_000;

/// Rows of the CSV; `CAIRN_BENCH_ROWS=65000000` makes it about 5 GB (the memory goal's size).
fn rows() -> usize {
    std::env::var("CAIRN_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_ROWS)
}

/// Peak resident memory of this process (the service runs in it), in MB.
fn peak_rss_mb() -> f64 {
    cairn_testkit::peak_rss_mb(std::process::id())
}

/// The benchmark's 10 columns: the shape the ingestion goals are stated for.
const COLUMNS: [&str; 10] =
    ["id", "ts", "amount", "price", "score", "ratio", "qty", "store", "channel", "flag"];

/// Row `i`'s values as text; `ts` and `channel` are the strings (quoted in JSON).
fn row(i: usize) -> [String; 10] {
    [
        i.to_string(),
        format!("2026-02-{:02}T{:02}:{:02}:{:02}Z", 1 + i % 28, i % 24, i % 60, (i * 7) % 60),
        format!("{:.2}", (i % 10_000) as f64 / 3.0),
        format!("{:.3}", (i % 977) as f64 * 1.5),
        format!("{:.4}", (i % 101) as f64 / 101.0),
        format!("{:.5}", (i % 13) as f64 / 7.0),
        (i % 50).to_string(),
        (i % 400).to_string(),
        if i.is_multiple_of(3) { "web" } else { "store" }.to_owned(),
        i.is_multiple_of(2).to_string(),
    ]
}

fn write_csv(path: &Path) -> u64 {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(file, "{}", COLUMNS.join(",")).unwrap();
    for i in 0..rows() {
        writeln!(file, "{}", row(i).join(",")).unwrap();
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

/// Whether to measure `part` (`csv`, `parquet` or `streaming`): all, unless `CAIRN_BENCH_ONLY`
/// names some (comma-separated), as when profiling one of them.
fn measures(part: &str) -> bool {
    std::env::var("CAIRN_BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}

/// Rounds of each measurement, Cairn and its peer alternating; medians are reported, since one
/// run of under a second on a shared machine is mostly noise.
fn rounds() -> usize {
    std::env::var("CAIRN_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1)
}

/// How a file reaches Cairn: uploaded over HTTP, or imported from where it lies (`file://`).
#[derive(Clone, Copy)]
enum Way {
    Upload,
    Import,
}

/// Seconds for Cairn to ingest `path` as one committed batch, and the CPU seconds this process
/// (the service and, for an upload, its client) used meanwhile.
async fn cairn_ingest(client: &Client, path: &Path, content_type: &str, way: Way) -> (f64, f64) {
    let cpu = cairn_testkit::cpu_seconds(std::process::id());
    let started = Instant::now();
    let batch = match way {
        Way::Upload => {
            let file = tokio::fs::File::open(path).await.unwrap();
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
            client.ingest("bench", content_type, body).await.unwrap()
        }
        Way::Import => {
            let url = format!("file://{}", path.display());
            client.import("bench", &NewImport { url, format: None }).await.unwrap()
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(batch.report.unwrap().rows_accepted as usize, rows());
    (seconds, cairn_testkit::cpu_seconds(std::process::id()) - cpu)
}

/// Seconds for DuckDB to copy `source` (CSV with `columns`, or Parquet) to a Parquet `target`.
fn duckdb_copy(source: &Path, target: &Path, columns: &serde_json::Value) -> f64 {
    let output = Command::new(cairn_testkit::python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb_copy.py"))
        .arg(source)
        .arg(target)
        .arg(columns.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let copied: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(copied["rows"].as_u64(), Some(rows() as u64));
    copied["seconds"].as_f64().unwrap()
}

/// Times of the rounds of one input: the peer's, and Cairn's by each way in (with their CPU
/// seconds).
#[derive(Default)]
struct Rounds {
    peer: Vec<f64>,
    upload: (Vec<f64>, Vec<f64>),
    import: (Vec<f64>, Vec<f64>),
}

impl Rounds {
    fn push(&mut self, way: Way, (seconds, cpu): (f64, f64)) {
        let (times, cpus) = match way {
            Way::Upload => &mut self.upload,
            Way::Import => &mut self.import,
        };
        times.push(seconds);
        cpus.push(cpu);
    }

    fn print(&self, peer: &str, input: &str, items: usize) {
        let label = |way: &str| format!("Cairn {way} of {input} → validate + report → Parquet");
        let (upload, import) = (&self.upload, &self.import);
        compare(
            (peer, &self.peer),
            &[
                (label("HTTP upload"), upload.0.as_slice(), upload.1.as_slice()),
                (label("import file://"), import.0.as_slice(), import.1.as_slice()),
            ],
            items,
            "rows",
        );
        println!("(CPU s: the service's and, for the upload, its client's; median per round)");
    }
}

fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The peer's median rate, then each of Cairn's with its ratio (the peer's median time over
/// Cairn's), the range of that ratio per round, and Cairn's median CPU seconds where measured.
fn compare(peer: (&str, &[f64]), cairn: &[(String, &[f64], &[f64])], items: usize, unit: &str) {
    let rate = |seconds: f64| items as f64 / seconds;
    let peer_median = median(peer.1);
    println!("{:<64} {:>12}  {:>6}  {:>11}  {:>6}", "", format!("{unit}/s"), "ratio", "per round", "CPU s");
    println!("{:<64} {:>12.0}  {:>6}", peer.0, rate(peer_median), "1.00");
    for (label, times, cpu) in cairn {
        let cairn_median = median(times);
        let ratios = peer.1.iter().zip(*times).map(|(p, c)| p / c);
        let (low, high) = ratios.fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(r), h.max(r)));
        let cpu = if cpu.is_empty() { String::new() } else { format!("{:.2}", median(cpu)) };
        println!(
            "{label:<64} {:>12.0}  {:>6.2}  {:>11}  {cpu:>6}",
            rate(cairn_median),
            peer_median / cairn_median,
            format!("{low:.2}–{high:.2}"),
        );
    }
}

#[tokio::main]
async fn main() {
    let total = rows();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let bytes = write_csv(&csv);
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let roots = dir.path().to_str().unwrap();
    let config =
        cairn_testkit::config(&nats.url(), None, data.path(), &[("CAIRN__INGESTION__IMPORT_ROOTS", roots)]);
    let service = cairn_ingestion::run(config.clone()).await.unwrap();
    let client = Client::new(service.url());
    client.post::<_, serde_json::Value>("/v1/datasets", &schema()).await.unwrap();

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
    // The same rows as Parquet: the file DuckDB writes from the CSV; `copied` takes the peer's
    // output in every round.
    let parquet = dir.path().join("duckdb.parquet");
    let copied = dir.path().join("duckdb-copied.parquet");
    let (mut from_csv, mut from_parquet) = (Rounds::default(), Rounds::default());
    let mut peak_mb = None;
    if measures("parquet") {
        duckdb_copy(&csv, &parquet, &columns);
    }
    for _ in 0..rounds() {
        if measures("csv") {
            from_csv.push(Way::Upload, cairn_ingest(&client, &csv, "text/csv", Way::Upload).await);
            peak_mb.get_or_insert_with(peak_rss_mb);
            from_csv.push(Way::Import, cairn_ingest(&client, &csv, "text/csv", Way::Import).await);
            from_csv.peer.push(duckdb_copy(&csv, &copied, &columns));
        }
        if measures("parquet") {
            let parquet_type = "application/vnd.apache.parquet";
            from_parquet.push(Way::Upload, cairn_ingest(&client, &parquet, parquet_type, Way::Upload).await);
            from_parquet.push(Way::Import, cairn_ingest(&client, &parquet, parquet_type, Way::Import).await);
            from_parquet.peer.push(duckdb_copy(&parquet, &copied, &serde_json::json!([])));
        }
    }
    let streaming = if measures("streaming") { Some(streaming(&config, &client).await) } else { None };

    if measures("csv") {
        println!(
            "batch ingestion, CSV, {total} rows x 10 columns, {:.0} MB, median of {} rounds",
            bytes as f64 / 1e6,
            rounds()
        );
        from_csv.print("DuckDB COPY read_csv → Parquet (peer)", "CSV", total);
        println!(
            "peak resident memory of the process running the service, after the CSV upload: {:.0} MB",
            peak_mb.unwrap_or_default()
        );
        println!();
    }
    if measures("parquet") {
        println!("batch ingestion, Parquet (written by DuckDB), {total} rows x 10 columns");
        from_parquet.print("DuckDB COPY read_parquet → Parquet (peer)", "Parquet", total);
        println!();
    }
    if let Some(streaming) = streaming {
        println!(
            "streaming ingestion, {STREAM_ROWS} records x 10 columns (JSON), durable acknowledgement, median of {} rounds",
            rounds()
        );
        let Streaming { raw, packed, cairn } = streaming;
        let cairn =
            [("Cairn POST /records → JetStream → validated → Parquet".to_owned(), cairn.as_slice(), &[][..])];
        compare(("raw JetStream publish, a record a message (peer)", &raw), &cairn, STREAM_ROWS, "records");
        let packed = ("raw JetStream publish, 1000 records a message (peer)", packed.as_slice());
        compare(packed, &cairn, STREAM_ROWS, "records");
    }
    service.stop().await;
}

const STREAM_ROWS: usize = 200_000;
/// Records per request: about 700 kB, under the default 1 MiB body limit.
const REQUEST_ROWS: usize = 4_000;

fn json_record(i: usize) -> String {
    let fields: Vec<String> = COLUMNS
        .iter()
        .zip(row(i))
        .map(|(name, value)| match *name {
            "ts" | "channel" => format!("\"{name}\":\"{value}\""),
            _ => format!("\"{name}\":{value}"),
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Seconds per round of each streaming measurement.
struct Streaming {
    raw: Vec<f64>,
    packed: Vec<f64>,
    cairn: Vec<f64>,
}

/// Records accepted with a durable acknowledgement and landed in Parquet, against publishing
/// the same records to JetStream with nothing behind it (a record a message, and packed as
/// Cairn packs them).
async fn streaming(config: &CairnConfig, client: &Client) -> Streaming {
    let bus = cairn_bus::Bus::connect(&config.nats, ServiceKind::Monitor, cairn_telemetry::Metrics::new("b"))
        .await
        .unwrap();
    // The peer: async-nats publishing the same records, with the same headers, to a stream of
    // its own (file storage, like Cairn's) that nothing reads.
    let jetstream = bus.jetstream();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/datasets/bench/records", client.base_url());
    let mut times = Streaming { raw: Vec::new(), packed: Vec::new(), cairn: Vec::new() };
    for round in 0..rounds() {
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: "BENCH_RAW".into(),
                subjects: vec!["bench.raw".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let messages = (0..STREAM_ROWS).map(|i| (format!("raw-{i}"), json_record(i)));
        times.raw.push(publish_raw(jetstream, messages.collect()).await);
        let packed = (0..STREAM_ROWS.div_ceil(1000)).map(|m| {
            let lines: Vec<String> = (m * 1000..((m + 1) * 1000).min(STREAM_ROWS)).map(json_record).collect();
            (format!("packed-{m}"), lines.join("\n"))
        });
        times.packed.push(publish_raw(jetstream, packed.collect()).await);
        jetstream.delete_stream("BENCH_RAW").await.unwrap();

        let bodies: Vec<String> = (0..STREAM_ROWS / REQUEST_ROWS)
            .map(|c| (c * REQUEST_ROWS..(c + 1) * REQUEST_ROWS).map(|i| json_record(i) + "\n").collect())
            .collect();
        let before: u64 = landed(client).await;
        let started = Instant::now();
        for (c, body) in bodies.into_iter().enumerate() {
            let response = http
                .post(&url)
                .header("content-type", "application/x-ndjson")
                .header("idempotency-key", format!("bench-{round}-{c}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
        }
        while landed(client).await < before + STREAM_ROWS as u64 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        times.cairn.push(started.elapsed().as_secs_f64());
    }
    times
}

/// Seconds to publish `messages` (id, payload) to the peer's stream, 256 acknowledgements in
/// flight, until JetStream stored them all.
async fn publish_raw(jetstream: &async_nats::jetstream::Context, messages: Vec<(String, String)>) -> f64 {
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::with_capacity(256);
    for (id, payload) in messages {
        if in_flight.len() == 256 {
            let ack: async_nats::jetstream::context::PublishAckFuture = in_flight.pop_front().unwrap();
            ack.await.unwrap();
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        headers.insert("Content-Type", "application/json");
        in_flight
            .push_back(jetstream.publish_with_headers("bench.raw", headers, payload.into()).await.unwrap());
    }
    for ack in in_flight {
        ack.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Records of streamed micro-batches committed to the offline store so far.
async fn landed(client: &Client) -> u64 {
    let batches = client.batches("bench").await.unwrap();
    batches
        .iter()
        .filter(|b| b.format == "stream" && b.state == "committed")
        .filter_map(|b| b.report.as_ref().map(|r| r.rows_accepted))
        .sum()
}
