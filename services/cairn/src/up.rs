//! `cairn up`: the local platform in one process.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, shutdown_signal};
use indicatif::{ProgressBar, ProgressStyle};

use crate::nats_child::NatsChild;
use crate::status::service_url;

pub(crate) async fn run(mut config: CairnConfig, nats_url: Option<String>) -> anyhow::Result<ExitCode> {
    let _telemetry = cairn_telemetry::init("cairn", &config.telemetry)?;
    let nats = match nats_url {
        Some(url) => {
            config.nats.url = url;
            None
        }
        None => {
            let child = NatsChild::start(&config).await?;
            config.nats.url = child.url.clone();
            Some(child)
        }
    };

    let mut services = Vec::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let started = tokio::select! {
        result = start_all(&config, &mut services) => result,
        () = &mut signal => Err(anyhow::anyhow!("interrupted while starting")),
    };
    if let Err(error) = started {
        stop_all(services, nats).await;
        return Err(error);
    }

    println!();
    let mut rows = vec![vec!["SERVICE".to_owned(), "URL".to_owned()]];
    rows.extend(services.iter().map(|s| vec![s.kind.to_string(), format!("http://{}", s.addr())]));
    rows.push(vec!["nats".to_owned(), config.nats.url.clone()]);
    crate::table::print(&rows);
    println!("\nCairn is ready (data in {}). Press Ctrl-C to stop.", config.data_dir.display());

    signal.await;
    println!("stopping…");
    stop_all(services, nats).await;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn start_all(config: &CairnConfig, services: &mut Vec<RunningService>) -> anyhow::Result<()> {
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(100));
    for kind in ServiceKind::ALL {
        progress.set_message(format!("starting {kind}"));
        let service = cairn_cli::start_service(kind, config.clone())
            .await
            .with_context(|| format!("starting {kind}"))?;
        services.push(service);
    }
    let deadline = Instant::now() + Duration::from_secs(config.up.ready_timeout_secs);
    for kind in ServiceKind::ALL {
        progress.set_message(format!("waiting for {kind} to be ready"));
        let client = Client::new(service_url(config, kind));
        let client = match services.iter().find(|s| s.kind == kind) {
            // Port 0 in the configuration: ask the port the service really bound.
            Some(service) if config.services.get(kind).port == 0 => Client::new(service.url()),
            _ => client,
        };
        loop {
            let reasons = match client.readiness().await {
                Ok(report) if report.ready => break,
                Ok(report) => report.reasons.join("; "),
                Err(error) => error.to_string(),
            };
            if Instant::now() > deadline {
                progress.finish_and_clear();
                bail!("{kind} not ready after {}s: {reasons}", config.up.ready_timeout_secs);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    progress.finish_and_clear();
    Ok(())
}

async fn stop_all(services: Vec<RunningService>, nats: Option<NatsChild>) {
    futures::future::join_all(services.into_iter().map(RunningService::stop)).await;
    if let Some(nats) = nats {
        nats.stop().await;
    }
}
