use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server a benchmark or test started as a process of its own (in its own process group, as
/// `Command::process_group(0)` makes it), killed with its whole group when dropped: servers
/// such as `mlflow server` or MLServer run workers as children that would outlive them.
pub struct ServerProcess {
    pub name: &'static str,
    pub url: String,
    pub child: Child,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Peak resident memory of the server process, MB.
    pub fn peak_rss_mb(&self) -> f64 {
        crate::peak_rss_mb(self.child.id())
    }
}

/// A port free now, for a server to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `url` answers 2xx to a GET; fails if `child` exits or three minutes pass.
pub async fn wait_ready(url: &str, child: &mut Child) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    while !http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(child.try_wait().unwrap().is_none(), "{url}: the server exited");
        assert!(started.elapsed() < Duration::from_secs(180), "{url}: not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `cairn serve <service>` (the release or debug binary beside the running benchmark or test) on
/// a free port, connected to NATS at `nats_url`, its data under `data_dir`, with extra
/// `CAIRN__…` settings; its logs (warnings and worse) go to stderr, its stdout nowhere. Ready
/// when this returns.
pub async fn cairn_service(
    service: &str,
    nats_url: &str,
    data_dir: &std::path::Path,
    extra: &[(String, String)],
) -> ServerProcess {
    use std::os::unix::process::CommandExt as _;
    let port = free_port();
    let mut command = crate::serve(service);
    command
        .env("CAIRN__NATS__URL", nats_url)
        .env(format!("CAIRN__SERVICES__{}__PORT", service.replace('-', "_").to_uppercase()), port.to_string())
        .env("CAIRN__DATA_DIR", data_dir)
        .env("CAIRN__TELEMETRY__LOG_LEVEL", "warn")
        .envs(extra.iter().map(|(key, value)| (key.as_str(), value.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = command.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/readyz"), &mut child).await;
    ServerProcess { name: "cairn", url, child }
}
