//! `cairn up`: the local platform — a nats-server child and the six services, each its own
//! process (`cairn serve <service>`) as in production, started, watched and stopped by one command.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::shutdown_signal;
use indicatif::{ProgressBar, ProgressStyle};

use crate::children::ChildProcess;
use crate::status::service_url;

pub(crate) async fn run(
    config: CairnConfig,
    config_file: Option<&Path>,
    nats_url: Option<String>,
) -> anyhow::Result<ExitCode> {
    let _telemetry = cairn_telemetry::init("cairn", &config.telemetry)?;
    for kind in ServiceKind::ALL {
        if config.services.get(kind).port == 0 {
            bail!(
                "services.{}.port is 0: `cairn up` needs fixed ports to reach the services",
                kind.config_key()
            );
        }
    }
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let started = tokio::select! {
        result = Local::start(config, config_file, nats_url, None, &[]) => result,
        () = &mut signal => Err(anyhow::anyhow!("interrupted while starting")),
    };
    let Local { config, mut services, nats } = started?;
    println!();
    let mut rows = vec![vec!["SERVICE".to_owned(), "URL".to_owned()]];
    rows.extend(ServiceKind::ALL.map(|kind| vec![kind.to_string(), service_url(&config, kind)]));
    rows.push(vec!["nats".to_owned(), config.nats.url.clone()]);
    if config.up.workers > 0 {
        rows.push(vec!["training workers".to_owned(), config.up.workers.to_string()]);
    }
    crate::table::print(&rows);
    println!("\nCairn is ready (data in {}). Press Ctrl-C to stop.", config.data_dir.display());

    let died = tokio::select! {
        () = &mut signal => None,
        died = first_exit(&mut services) => Some(died),
    };
    println!("stopping…");
    stop_all(&config, services, nats).await;
    match died {
        None => {
            println!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Some(died) => bail!("{died}; stopped the rest"),
    }
}

/// A local platform started by this process: a nats-server child (unless one was given) and the
/// services and workers as child processes.
pub(crate) struct Local {
    pub config: CairnConfig,
    services: Vec<ChildProcess>,
    nats: Option<ChildProcess>,
}

impl Local {
    /// Starts it and waits until every service is ready; the children log to `log` (else to
    /// this process's standard error) and get `extra_env` besides this process's environment.
    pub(crate) async fn start(
        mut config: CairnConfig,
        config_file: Option<&Path>,
        nats_url: Option<String>,
        log: Option<std::fs::File>,
        extra_env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let cairn = cairn_executable()?;
        let nats = match nats_url {
            Some(url) => {
                config.nats.url = url;
                None
            }
            None => {
                let (child, url) = crate::nats_child::start(&config).await?;
                config.nats.url = url;
                Some(child)
            }
        };
        // The services read the same configuration (the same file, the same CAIRN__ variables,
        // inherited) with the NATS server decided here.
        let args = match config_file {
            Some(file) => vec!["--config".to_owned(), std::path::absolute(file)?.display().to_string()],
            None => Vec::new(),
        };
        let mut env = vec![("CAIRN__NATS__URL".to_owned(), config.nats.url.clone())];
        env.extend(extra_env.iter().cloned());
        let mut services = Vec::new();
        if let Err(error) = start_all(&config, &cairn, &args, &env, &mut services, log.as_ref()).await {
            stop_all(&config, services, nats).await;
            return Err(error);
        }
        Ok(Self { config, services, nats })
    }

    /// Stops the services (each drains its requests and events), then NATS.
    pub(crate) async fn stop(self) {
        stop_all(&self.config, self.services, self.nats).await;
    }

    /// Resolves when a child exits on its own, describing it.
    pub(crate) async fn exited(&mut self) -> String {
        first_exit(&mut self.services).await
    }
}

/// The executable that serves a service: this one (`cairn serve <service>`).
fn cairn_executable() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("cannot find the running cairn executable to start the services")
}

async fn start_all(
    config: &CairnConfig,
    cairn: &Path,
    args: &[String],
    env: &[(String, String)],
    services: &mut Vec<ChildProcess>,
    log: Option<&std::fs::File>,
) -> anyhow::Result<()> {
    let output = || -> anyhow::Result<Stdio> {
        Ok(match log {
            Some(file) => Stdio::from(file.try_clone()?),
            None => Stdio::inherit(),
        })
    };
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    for kind in ServiceKind::ALL {
        progress.set_message(format!("starting {kind}"));
        let args: Vec<String> =
            ["serve".to_owned(), kind.to_string()].into_iter().chain(args.iter().cloned()).collect();
        services.push(ChildProcess::spawn(&format!("cairn-{kind}"), cairn, &args, env, output()?)?);
    }
    let deadline = Instant::now() + Duration::from_secs(config.up.ready_timeout_secs);
    for (index, kind) in ServiceKind::ALL.into_iter().enumerate() {
        progress.set_message(format!("waiting for {kind} to be ready"));
        let url = service_url(config, kind);
        let client = Client::new(url.clone());
        loop {
            let reasons = match client.readiness().await {
                // Another process on the port (a second `cairn up`, say) answers for its own
                // service: ours cannot bind there and must not be reported ready.
                Ok(report) if services[index].id().is_some_and(|pid| pid != report.pid) => {
                    progress.finish_and_clear();
                    bail!(
                        "{url} is already in use by another process (pid {}, {}), not the {kind} \
                         started here: is another Cairn running?",
                        report.pid,
                        report.service
                    );
                }
                Ok(report) if report.ready => break,
                Ok(report) => report.reasons.join("; "),
                Err(error) => error.to_string(),
            };
            for service in services.iter_mut() {
                if let Some(status) = service.exited()? {
                    progress.finish_and_clear();
                    bail!("{} exited with {status} while starting (its log is above)", service.name);
                }
            }
            if Instant::now() > deadline {
                progress.finish_and_clear();
                bail!("{kind} not ready after {}s: {reasons}", config.up.ready_timeout_secs);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for index in 1..=config.up.workers {
        let args: Vec<String> = ["worker".to_owned()].into_iter().chain(args.iter().cloned()).collect();
        services.push(ChildProcess::spawn(&format!("cairn-worker-{index}"), cairn, &args, env, output()?)?);
    }
    progress.finish_and_clear();
    Ok(())
}

/// Resolves when a service exits on its own, describing it.
async fn first_exit(services: &mut [ChildProcess]) -> String {
    loop {
        for service in services.iter_mut() {
            match service.exited() {
                Ok(Some(status)) => return format!("{} exited with {status}", service.name),
                Ok(None) => {}
                Err(error) => return format!("{}: {error}", service.name),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Stops the services (each drains its requests and events), then NATS.
async fn stop_all(config: &CairnConfig, services: Vec<ChildProcess>, nats: Option<ChildProcess>) {
    let grace = Duration::from_secs(config.http.shutdown_timeout_secs + 5);
    futures::future::join_all(services.into_iter().map(|service| service.stop(grace))).await;
    if let Some(nats) = nats {
        nats.stop(Duration::from_secs(10)).await;
    }
}
