//! The child processes of `cairn up`: nats-server and the six service binaries.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// A process `cairn up` started and must stop.
pub(crate) struct ChildProcess {
    pub(crate) name: String,
    child: Child,
}

impl ChildProcess {
    /// Starts `binary` in its own process group, so a terminal's Ctrl-C reaches only `cairn`,
    /// which stops its children in order. Their log goes to `cairn`'s stderr.
    pub(crate) fn spawn(
        name: &str,
        binary: &Path,
        args: &[String],
        env: &[(String, String)],
        stderr: Stdio,
    ) -> anyhow::Result<Self> {
        let child = Command::new(binary)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { name: name.to_owned(), child })
    }

    /// The process id, while it runs.
    pub(crate) fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// SIGTERM, then wait `grace` for it to exit (SIGKILL after), so nothing is left behind.
    pub(crate) async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid.cast_signed()), Signal::SIGTERM);
        }
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            tracing::warn!(child = self.name, "did not stop within {grace:?}; killing it");
            let _ = self.child.kill().await;
        }
    }
}

/// Finds a binary: a path as given; else a name on PATH.
pub(crate) fn locate(binary: &str) -> Option<PathBuf> {
    let path = Path::new(binary);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_owned());
    }
    let path_dirs =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    path_dirs.into_iter().map(|dir| dir.join(binary)).find(|c| c.is_file())
}
