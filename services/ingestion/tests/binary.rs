//! A service binary runs alone, as it is deployed: configured from the environment, ready, and
//! stopped cleanly by SIGTERM. (Every service binary is the same `cairn_service::binary::main`.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_testkit::NatsServer;

#[tokio::test]
async fn the_binary_runs_alone_and_stops_on_sigterm() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ingestion"))
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

#[test]
fn a_bad_configuration_is_refused_at_start_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn-ingestion"))
        .env("CAIRN__HTTP__MAX_BODY_BYTES", "12")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("http.max_body_bytes"));
}
