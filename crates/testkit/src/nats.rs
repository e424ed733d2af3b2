use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server` with JetStream, on its own port and storage directory.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    binary: PathBuf,
    args: Vec<String>,
}

impl NatsServer {
    /// Starts a server from `CAIRN_TEST_NATS_SERVER` or `nats-server` on PATH.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra command-line flags (e.g. `--user`, `--pass`).
    pub async fn start_with(args: &[&str]) -> Self {
        let binary = std::env::var_os("CAIRN_TEST_NATS_SERVER")
            .map_or_else(|| PathBuf::from("nats-server"), PathBuf::from);
        let port = free_port();
        let store = tempfile::tempdir().unwrap();
        let args = args.iter().map(|arg| (*arg).to_owned()).collect();
        let mut server = Self { child: None, port, store, binary, args };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Kills the server with SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and storage directory.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; install nats-server (apt install nats-server) or set \
                     CAIRN_TEST_NATS_SERVER",
                    self.binary.display()
                )
            });
        self.child = Some(child);
        self.wait_until_ready().await;
    }

    /// Ready means JetStream answers API requests, not merely that the port is open. (With TLS
    /// the harness holds no client certificate setup: an open port has to do.)
    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let tls = self.args.iter().any(|arg| arg == "--tls");
        while tls && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server on port {} did not listen", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            if tls {
                return;
            }
            let options = match (self.flag("--user"), self.flag("--pass"), self.flag("--auth")) {
                (Some(user), Some(pass), _) => async_nats::ConnectOptions::with_user_and_password(user, pass),
                (_, _, Some(token)) => async_nats::ConnectOptions::with_token(token),
                _ => async_nats::ConnectOptions::new(),
            };
            if let Ok(client) = options.connect(self.url()).await {
                let jetstream = async_nats::jetstream::new(client);
                let answer = jetstream.get_stream("cairn-testkit-probe").await;
                let responding = match answer {
                    Ok(_) => true,
                    Err(error) => error.to_string().contains("not found"),
                };
                if responding {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "nats-server on port {} did not become ready", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl NatsServer {
    fn flag(&self, name: &str) -> Option<String> {
        let at = self.args.iter().position(|arg| arg == name)?;
        self.args.get(at + 1).cloned()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
