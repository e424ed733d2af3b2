//! A service binary runs alone, as it is deployed: configured from the environment, ready, and
//! stopped cleanly by SIGTERM. (Every service binary is the same `cairn_service::binary::main`.)
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_testkit::NatsServer;

#[tokio::test]
async fn the_binary_runs_alone_and_stops_on_sigterm() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = cairn_testkit::serve("ingestion")
        .current_dir(dir.path())
        .env("CAIRN__NATS__URL", nats.url())
        .env("CAIRN__SERVICES__INGESTION__PORT", port.to_string())
        .env("CAIRN__DATA_DIR", dir.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    loop {
        if reqwest::get(&url).await.is_ok_and(|response| response.status().is_success()) {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the binary exited");
        assert!(started.elapsed() < Duration::from_secs(30), "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dir.path().join("data/ingestion.db").exists(), "its SQLite file is under the data dir");

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "port released");
}

fn spawn(dir: &std::path::Path, nats: &NatsServer, port: u16) -> std::process::Child {
    cairn_testkit::serve("ingestion")
        .current_dir(dir)
        .env("CAIRN__NATS__URL", nats.url())
        .env("CAIRN__SERVICES__INGESTION__PORT", port.to_string())
        .env("CAIRN__DATA_DIR", dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(port: u16) {
    let started = Instant::now();
    while !reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(started.elapsed() < Duration::from_secs(30), "not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_batch_cut_off_by_kill_9_leaves_nothing_behind() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = spawn(dir.path(), &nats, port);
    wait_ready(port).await;
    let client = cairn_client::Client::new(format!("http://127.0.0.1:{port}"));
    let dataset = serde_json::json!({"name": "events", "schema": {"columns": [
        {"name": "n", "type": "int64", "nullable": false},
        {"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts"}});
    client.post::<_, serde_json::Value>("/v1/datasets", &dataset).await.unwrap();

    // An upload that keeps streaming until the service dies under it.
    let (sender, body) = futures::channel::mpsc::unbounded::<Result<bytes::Bytes, std::io::Error>>();
    sender.unbounded_send(Ok("n,ts\n".into())).unwrap();
    let upload =
        tokio::spawn(
            async move { client.ingest("events", "text/csv", reqwest::Body::wrap_stream(body)).await },
        );
    for chunk in 0..200 {
        let rows: String =
            (0..1000).map(|i| format!("{},2026-03-01T00:00:00Z\n", chunk * 1000 + i)).collect();
        sender.unbounded_send(Ok(rows.into())).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(upload.await.unwrap().is_err(), "the upload saw the service die");

    let mut child = spawn(dir.path(), &nats, port);
    wait_ready(port).await;
    let client = cairn_client::Client::new(format!("http://127.0.0.1:{port}"));
    let batches = client.batches("events").await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].state, "aborted");
    assert!(client.versions("events").await.unwrap().is_empty());
    let data = dir.path().join("data/offline/datasets/events/data");
    assert!(!data.exists() || std::fs::read_dir(&data).unwrap().next().is_none(), "no data file");
    let staging = dir.path().join("data/staging/ingestion");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(), "staging cleared");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_configuration_is_refused_at_start_naming_the_key() {
    let output = cairn_testkit::serve("ingestion").env("CAIRN__HTTP__MAX_BODY_BYTES", "12").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("http.max_body_bytes"));
}
