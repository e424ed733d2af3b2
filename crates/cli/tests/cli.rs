//! The `cairn` binary as a user runs it.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cairn_client::Client;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `count` distinct free ports: every listener is held until all are chosen, so the system
/// cannot hand out one port twice.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
}

struct Ports {
    services: Vec<u16>,
    nats: u16,
}

/// A cairn.toml with free ports and the data directory inside `dir`.
fn write_config(dir: &Path) -> Ports {
    let mut services = free_ports(7);
    let nats = services.pop().unwrap_or_default();
    let names = ["ingestion", "feature_store", "training", "registry", "serving", "monitor"];
    let mut toml = format!("data_dir = \"{}\"\n[up]\nnats_port = {nats}\n", dir.join("data").display());
    toml.push_str(&format!("[nats]\nurl = \"nats://127.0.0.1:{nats}\"\n"));
    toml.push_str(&format!("[ingestion]\nimport_roots = [\"{}\"]\n", dir.display()));
    for (name, port) in names.iter().zip(&services) {
        toml.push_str(&format!("[services.{name}]\nport = {port}\n"));
    }
    std::fs::write(dir.join("cairn.toml"), toml).unwrap();
    Ports { services, nats }
}

fn cairn(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(cairn_testkit::cairn());
    command.current_dir(dir).args(args).env_remove("CAIRN_CONFIG");
    command
}

/// `cairn up` as a test runs it: stopped when the test ends, passed or failed, unless it has
/// stopped already — by SIGTERM, so that it stops its services too (they run in process groups
/// of their own, and would outlive a SIGKILL of `cairn up`).
struct Up(Child);

impl std::ops::Deref for Up {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Up {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(self.0.id().cast_signed()), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(40);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_up(dir: &Path, args: &[&str]) -> Up {
    let mut all = vec!["up"];
    all.extend_from_slice(args);
    let log = std::fs::File::create(dir.join("cairn-up.log")).unwrap();
    Up(cairn(dir, &all).stdout(Stdio::piped()).stderr(log).spawn().unwrap())
}

/// Waits until `cairn up` says it is ready (it has then seen every `/readyz` answer 200), and
/// checks that every service indeed answers ready. `Err` carries its log when it stopped first.
async fn wait_ready(dir: &Path, ports: &[u16], mut up: Up) -> Result<(Up, Duration), String> {
    let started = Instant::now();
    let stdout = up.stdout.take().unwrap();
    let (sender, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("Cairn is ready") {
                let _ = sender.send(());
            }
        }
    });
    if ready.recv_timeout(Duration::from_secs(60)).is_err() {
        drop(up);
        return Err(std::fs::read_to_string(dir.join("cairn-up.log")).unwrap_or_default());
    }
    let took = started.elapsed();
    for port in ports {
        let report = Client::new(format!("http://127.0.0.1:{port}")).readiness().await.unwrap();
        assert!(report.ready, "port {port}: {:?}", report.reasons);
    }
    Ok((up, took))
}

/// Starts `cairn up` on free ports until it is ready. Ports are picked by binding and
/// releasing them, so another process can take one in between: that attempt is retried (the
/// harness's race, not the product's); any other failure fails the test with the log.
async fn start_up(dir: &Path, args: &[&str]) -> (Ports, Up, Duration) {
    for _ in 0..3 {
        let ports = write_config(dir);
        match wait_ready(dir, &ports.services, spawn_up(dir, args)).await {
            Ok((up, took)) => return (ports, up, took),
            Err(log) if log.contains("in use") => continue,
            Err(log) => panic!("cairn up did not report ready; its log:\n{log}"),
        }
    }
    panic!("no free ports in three attempts");
}

/// PIDs of nats-server processes whose command line mentions `marker`.
fn nats_servers_under(marker: &Path) -> Vec<u32> {
    let marker = marker.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("nats-server") && cmdline.contains(&marker)
        })
        .collect()
}

/// PIDs of service processes (`cairn serve …`) running in `dir`.
/// Processes started from `dir` as `cairn <subcommand> …`.
fn processes_in(dir: &Path, subcommand: &str) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let runs = cmdline.split(|&byte| byte == 0).nth(1) == Some(subcommand.as_bytes());
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
            runs && cwd.as_deref() == Some(dir.as_path())
        })
        .collect()
}

/// `cairn serve …` processes started from `dir`.
fn services_in(dir: &Path) -> Vec<u32> {
    processes_in(dir, "serve")
}

/// `cairn worker` processes started from `dir`.
fn workers_in(dir: &Path) -> Vec<u32> {
    processes_in(dir, "worker")
}

fn stop(up: &mut Child, signal: Signal) -> std::process::ExitStatus {
    kill(Pid::from_raw(up.id().cast_signed()), signal).unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(status) = up.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "cairn up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn up_brings_six_services_to_ready_and_sigterm_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut up, took) = start_up(dir.path(), &[]).await;
    assert!(took < Duration::from_secs(30), "ready in {took:?}");
    assert_eq!(nats_servers_under(dir.path()).len(), 1, "one nats-server child");
    assert_eq!(services_in(dir.path()).len(), 6, "six service processes");
    assert_eq!(workers_in(dir.path()).len(), 1, "one training worker");
    assert!(dir.path().join("data/nats/jetstream").is_dir(), "JetStream storage under the data dir");

    let status: Output = cairn(dir.path(), &["status", "--json"]).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["ready"], true);
    assert_eq!(report["services"].as_array().unwrap().len(), 6);
    let table = cairn(dir.path(), &["status"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.lines().next().unwrap().starts_with("SERVICE"), "{table}");
    assert_eq!(table.lines().count(), 7, "{table}");

    // A file ingested with the CLI becomes version 1 of its dataset.
    let ingestion = Client::new(format!("http://127.0.0.1:{}", ports.services[0]));
    let dataset = serde_json::json!({"name": "clicks", "schema": {"columns": [
        {"name": "user", "type": "int64", "nullable": false},
        {"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts"}});
    ingestion.post::<_, serde_json::Value>("/v1/datasets", &dataset).await.unwrap();
    let csv: String = std::iter::once("user,ts\n".to_owned())
        .chain((0..5000).map(|i| format!("{i},2026-03-0{}T10:00:00Z\n", 1 + i % 3)))
        .collect();
    std::fs::write(dir.path().join("clicks.csv"), csv).unwrap();
    let ingested =
        cairn(dir.path(), &["ingest", "clicks.csv", "--dataset", "clicks", "--json"]).output().unwrap();
    assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));
    let batch: serde_json::Value = serde_json::from_slice(&ingested.stdout).unwrap();
    assert_eq!((batch["state"].as_str(), batch["version"].as_i64()), (Some("committed"), Some(1)));
    assert_eq!(batch["report"]["rows_accepted"], 5000);
    let table = cairn(dir.path(), &["ingest", "clicks.csv", "--dataset", "clicks"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.contains("version") && table.contains("rows/s"), "{table}");
    // A URL is read by the service itself.
    let url = format!("file://{}", dir.path().join("clicks.csv").display());
    let imported = cairn(dir.path(), &["ingest", &url, "--dataset", "clicks", "--json"]).output().unwrap();
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let imported: serde_json::Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert_eq!(
        (imported["version"].as_i64(), imported["report"]["rows_accepted"].as_u64()),
        (Some(3), Some(5000))
    );

    // Datasets from the CLI: a schema inferred from a sample, listing, showing, snapshots.
    let printed = cairn(
        dir.path(),
        &["datasets", "create", "--from-sample", "clicks.csv", "--name", "inferred", "--print"],
    )
    .output()
    .unwrap();
    let declaration: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(declaration["schema"]["event_timestamp"], "ts");
    assert_eq!(declaration["schema"]["columns"][0]["type"], "int64");
    let created = cairn(
        dir.path(),
        &["datasets", "create", "--from-sample", "clicks.csv", "--name", "inferred", "--yes"],
    )
    .output()
    .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let listed = cairn(dir.path(), &["datasets", "list", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["clicks", "inferred"]);
    let shown = cairn(dir.path(), &["datasets", "show", "clicks"]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(shown.contains("event time") && shown.contains("VERSION"), "{shown}");
    let snapshot = cairn(dir.path(), &["datasets", "snapshot", "clicks"]).output().unwrap();
    assert!(String::from_utf8_lossy(&snapshot.stdout).contains("nothing new"));
    let latest = cairn(dir.path(), &["datasets", "version", "clicks"]).output().unwrap();
    let latest = String::from_utf8_lossy(&latest.stdout).to_string();
    assert!(latest.contains("clicks version 3: 15000 rows") && latest.contains("SHA-256"), "{latest}");
    let first = cairn(dir.path(), &["datasets", "version", "clicks", "1", "--json"]).output().unwrap();
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let created = first["created_at"].as_str().unwrap();
    let then =
        cairn(dir.path(), &["datasets", "version", "clicks", "--as-of", created, "--json"]).output().unwrap();
    let then: serde_json::Value = serde_json::from_slice(&then.stdout).unwrap();
    assert_eq!(then, first, "the dataset as of version 1's creation is version 1");
    std::fs::write(dir.path().join("bad.csv"), "user,ts\n1,2026-03-01T10:00:00Z\n,2026-03-01T10:00:00Z\n")
        .unwrap();
    let failed = cairn(dir.path(), &["ingest", "bad.csv", "--dataset", "clicks"]).output().unwrap();
    assert!(!failed.status.success(), "half the batch is quarantined: it fails");
    let quarantine = cairn(dir.path(), &["datasets", "quarantine", "clicks"]).output().unwrap();
    let quarantine = String::from_utf8_lossy(&quarantine.stdout).to_string();
    assert!(quarantine.starts_with("BATCH") && quarantine.contains("user not_null"), "{quarantine}");
    let mut evolved = dataset["schema"].clone();
    evolved["columns"].as_array_mut().unwrap().push(serde_json::json!({"name": "page", "type": "string"}));
    std::fs::write(dir.path().join("evolved.json"), evolved.to_string()).unwrap();
    let shown = cairn(dir.path(), &["datasets", "evolve", "clicks", "-f", "evolved.json"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("page"),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );

    // Feature definitions from a directory of TOML files, planned and applied.
    let defs = dir.path().join("features");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(
        defs.join("pages.toml"),
        "[[entity]]\nname = \"user\"\njoin_keys = [\"user\"]\n\n\
         [[feature_view]]\nname = \"pages\"\nsource = \"clicks\"\nentities = [\"user\"]\n\
         features = [{ name = \"page\", type = \"string\" }]\nttl_seconds = 3600\n",
    )
    .unwrap();
    std::fs::write(
        defs.join("services.toml"),
        "[[feature_service]]\nname = \"ranking\"\nfeatures = [\"pages:page\"]\n",
    )
    .unwrap();
    let started = Instant::now();
    let planned = loop {
        // Until the feature store has heard of the dataset's new column.
        let planned = cairn(dir.path(), &["features", "plan", "-f", "features"]).output().unwrap();
        if planned.status.success() || started.elapsed() > Duration::from_secs(20) {
            break planned;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let table = String::from_utf8_lossy(&planned.stdout).to_string();
    assert!(
        table.starts_with("KIND") && table.contains("create"),
        "{table}{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let unattended = cairn(dir.path(), &["features", "apply", "-f", "features", "--json"]).output().unwrap();
    assert!(!unattended.status.success(), "--json without --yes has no one to ask");
    let applied = cairn(dir.path(), &["features", "apply", "-f", "features", "--yes"]).output().unwrap();
    let out = String::from_utf8_lossy(&applied.stdout).to_string();
    assert!(out.contains("applied: 3 changes"), "{out}{}", String::from_utf8_lossy(&applied.stderr));
    let again = cairn(dir.path(), &["features", "apply", "-f", "features", "--yes"]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    let listed = cairn(dir.path(), &["features", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.contains("pages") && listed.contains("pages@1[1]"), "{listed}");
    let shown = cairn(dir.path(), &["features", "show", "pages", "--json"]).output().unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown[0]["join_keys"], serde_json::json!(["user"]));
    let materialized = cairn(dir.path(), &["features", "materialize", "--json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&materialized.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&materialized.stderr)));
    assert_eq!(
        (runs[0]["feature_view"].as_str(), runs[0]["state"].as_str()),
        (Some("pages"), Some("succeeded"))
    );
    let again = cairn(dir.path(), &["features", "materialize", "pages"]).output().unwrap();
    let table = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(table.starts_with("FEATURE VIEW") && table.contains("succeeded"), "{table}");
    assert!(
        table.contains(runs[0]["end"].as_str().unwrap()),
        "the second run starts where the first ended: {table}"
    );
    // Training data, with one of the dataset's own files as the entity rows.
    let entities = parquet_under(&dir.path().join("data/offline/datasets/clicks/data")).expect("a data file");
    let retrieved = cairn(
        dir.path(),
        &["features", "retrieve", "--entities", entities.to_str().unwrap(), "--features", "pages:page"]
            .into_iter()
            .chain(["--entity-timestamp", "ts", "-o", "training.parquet", "--json"])
            .collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&retrieved.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&retrieved.stderr)));
    assert_eq!(summary["feature_views"], serde_json::json!(["pages@1"]));
    let written = std::fs::read(dir.path().join("training.parquet")).unwrap();
    assert!(written.starts_with(b"PAR1") && written.len() as u64 == summary["bytes"].as_u64().unwrap());
    // ... and as a new dataset: the rows of version 1 with the features, added by ingestion with
    // their lineage.
    let args = ["features", "retrieve", "--entity-dataset", "clicks@1", "--features", "pages:page"];
    let to_dataset = cairn(dir.path(), &[&args[..], &["--to-dataset", "clicks_training", "--json"]].concat())
        .output()
        .unwrap();
    let version: serde_json::Value = serde_json::from_slice(&to_dataset.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&to_dataset.stderr)));
    assert_eq!(
        (version["dataset"].as_str(), version["rows"].as_u64()),
        (Some("clicks_training"), Some(5000))
    );
    assert_eq!(version["lineage"]["entity_rows"], "clicks@1");
    assert_eq!(version["lineage"]["feature_views"], serde_json::json!(["pages@1"]));
    std::fs::write(
        dir.path().join("broken.toml"),
        "[[entity]]\nname = \"user\"\njoin_keys = [\"user\"]\n[[feature_view]]\nname = \"broken\"\n\
         source = \"clicks\"\nentities = [\"user\"]\nfeatures = [{ name = \"referrer\", type = \"string\" }]\n",
    )
    .unwrap();
    let refused = cairn(dir.path(), &["features", "apply", "-f", "broken.toml", "--yes"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(!refused.status.success());
    assert!(
        stderr.contains(
            "broken.toml: feature_view `broken`, features[0]: dataset `clicks` has no column `referrer`"
        ),
        "{stderr}"
    );
    std::fs::write(dir.path().join("garbled.toml"), "[[feature_view]\n").unwrap();
    let garbled = cairn(dir.path(), &["features", "plan", "-f", "garbled.toml"]).output().unwrap();
    assert!(String::from_utf8_lossy(&garbled.stderr).contains("garbled.toml"), "the file is named");

    // A pipeline applied from a file and trained by the worker `cairn up` started.
    let visits = serde_json::json!({"name": "visits", "schema": {"columns": [
        {"name": "user", "type": "int64", "nullable": false},
        {"name": "ts", "type": "timestamp", "nullable": false},
        {"name": "pages", "type": "float64"}, {"name": "minutes", "type": "float64"},
        {"name": "bought", "type": "int64", "nullable": false}], "event_timestamp": "ts"}});
    ingestion.post::<_, serde_json::Value>("/v1/datasets", &visits).await.unwrap();
    let csv: String = std::iter::once("user,ts,pages,minutes,bought\n".to_owned())
        .chain((0..400).map(|i| {
            let (pages, minutes) = (i % 17, (i * 7) % 23);
            format!("{i},2026-03-01T10:00:00Z,{pages},{minutes},{}\n", i64::from(pages + minutes > 19))
        }))
        .collect();
    std::fs::write(dir.path().join("visits.csv"), csv).unwrap();
    let ingested = cairn(dir.path(), &["ingest", "visits.csv", "--dataset", "visits"]).output().unwrap();
    assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));
    std::fs::write(
        dir.path().join("buyers.toml"),
        "name = \"buyers\"\n[data]\ndataset = \"visits\"\nlabel = \"bought\"\n[trainer]\ntask = \"binary\"\n\
         builtin = \"linear\"\n[evaluation]\ngates = [{ kind = \"threshold\", metric = \"roc_auc\", min = 0.8 }]\n\
         [registration]\nmodel = \"buyers\"\nalias = \"champion\"\n",
    )
    .unwrap();
    let planned = cairn(dir.path(), &["pipelines", "plan", "-f", "buyers.toml"]).output().unwrap();
    let table = String::from_utf8_lossy(&planned.stdout).to_string();
    assert!(
        table.starts_with("PIPELINE") && table.contains("create"),
        "{table}{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let applied = cairn(dir.path(), &["pipelines", "apply", "-f", "buyers.toml", "--yes"]).output().unwrap();
    assert!(String::from_utf8_lossy(&applied.stdout).contains("version 1"));
    let trained = cairn(dir.path(), &["train", "buyers", "--json"]).output().unwrap();
    let run: serde_json::Value = serde_json::from_slice(&trained.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&trained.stderr)));
    assert!(trained.status.success(), "{run}");
    assert_eq!((run["state"].as_str(), run["model_version"].as_str()), (Some("succeeded"), Some("buyers@1")));
    let logs = cairn(dir.path(), &["runs", "logs", run["id"].as_str().unwrap()]).output().unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout).to_string();
    assert!(logs.contains("preparing_data") && logs.contains("registered buyers v1"), "{logs}");
    let listed = cairn(dir.path(), &["runs", "list", "--pipeline", "buyers"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("succeeded"));

    let exit = stop(&mut up, Signal::SIGTERM);
    assert!(exit.success(), "{exit}");
    assert!(nats_servers_under(dir.path()).is_empty(), "the nats-server child was reaped");
    assert!(services_in(dir.path()).is_empty(), "every service process stopped");
    assert!(workers_in(dir.path()).is_empty(), "the worker stopped");
    for port in ports.services.iter().chain([&ports.nats]) {
        assert!(TcpListener::bind(("127.0.0.1", *port)).is_ok(), "port {port} released");
    }
    let status = cairn(dir.path(), &["status"]).output().unwrap();
    assert!(!status.status.success(), "status reports the stopped platform as not ready");
}

#[tokio::test]
async fn up_uses_an_existing_nats_server_when_given_one() {
    let nats = cairn_testkit::NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut up, _) = start_up(dir.path(), &["--nats-url", &nats.url()]).await;
    assert!(nats_servers_under(dir.path()).is_empty(), "no child server was started");

    // A second `cairn up` on the same ports finds them answered by the first one's services:
    // it must say so and stop, not report the other platform as its own.
    let second = cairn(dir.path(), &["up", "--nats-url", &nats.url()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&second.stdout), String::from_utf8_lossy(&second.stderr));
    assert!(!second.status.success(), "{stdout}");
    assert!(!stdout.contains("Cairn is ready"), "{stdout}");
    assert!(stderr.contains("already in use by another process"), "{stderr}");
    let exit = stop(&mut up, Signal::SIGINT);
    assert!(exit.success(), "{exit}");
    assert!(services_in(dir.path()).is_empty(), "every service process stopped");
}

#[test]
fn up_names_the_package_to_install_when_nats_server_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let output = cairn(dir.path(), &["up"])
        .env("CAIRN__UP__NATS_SERVER_BIN", "/nonexistent/nats-server")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("apt install nats-server"), "{stderr}");
}

#[test]
fn config_show_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let output = cairn(dir.path(), &["config", "show"])
        .env("CAIRN__DATABASE__URL", "postgres://cairn:hunter2@db/cairn")
        .env("CAIRN__NATS__TOKEN", "t0ken-value")
        .env("CAIRN__SERVICES__REGISTRY__PORT", "9440")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("hunter2") && !stdout.contains("t0ken-value"), "{stdout}");
    assert!(stdout.contains("[redacted]"));
    assert!(stdout.contains("port = 9440"), "{stdout}");

    let output = cairn(dir.path(), &["config", "show", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["services"]["ingestion"]["port"], 7410);
}

#[test]
fn invalid_configuration_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        cairn(dir.path(), &["config", "show"]).env("CAIRN__NATS__URL", "http://wrong").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nats.url"), "{stderr}");
}

/// The first Parquet file under `dir`, looking into subdirectories.
fn parquet_under(dir: &Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    entries
        .iter()
        .find(|path| path.extension().is_some_and(|e| e == "parquet"))
        .cloned()
        .or_else(|| entries.iter().filter(|path| path.is_dir()).find_map(|path| parquet_under(path)))
}

/// `cairn demo --small` (the README's run command, on a third of its data) starts its own
/// platform, closes the whole loop — drift, retraining, a canary held on live labels, promotion —
/// exits 0, writes its report, and leaves no process behind.
#[tokio::test]
async fn demo_closes_the_loop_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let mut command = tokio::process::Command::from(cairn(dir.path(), &["demo", "--small"]));
    let output = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let log = std::fs::read_to_string(dir.path().join("data/demo/services.log")).unwrap_or_default();
    let tail: String =
        log.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(
        output.status.success(),
        "{stdout}\n{}\nservices' log (tail):\n{tail}",
        String::from_utf8_lossy(&output.stderr)
    );
    for shown in ["[8/9]", "promoted", "drifted", "canary", "The loop closed by itself"] {
        assert!(stdout.contains(shown), "`{shown}` in:\n{stdout}");
    }
    let report = std::fs::read_to_string(dir.path().join("data/demo/report.html")).unwrap();
    assert!(report.contains("class=\"chart loop-timeline\""));
    assert!(services_in(dir.path()).is_empty() && workers_in(dir.path()).is_empty(), "children left running");
}
