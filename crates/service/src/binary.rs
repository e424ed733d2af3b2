//! The `main` of every service binary.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use clap::Parser;

use crate::{RunningService, StartError, shutdown_signal};

#[derive(Debug, Parser)]
struct Args {
    /// Configuration file (default: ./cairn.toml if present).
    #[arg(long, short = 'c', env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
}

/// Loads configuration, installs telemetry, runs the service until SIGINT/SIGTERM, stops it.
pub fn main<F, Fut>(kind: ServiceKind, run: F) -> ExitCode
where
    F: FnOnce(CairnConfig) -> Fut,
    Fut: Future<Output = Result<RunningService, StartError>>,
{
    let args = Args::parse();
    let config = match cairn_config::load(args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cairn-{kind}: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cairn-{kind}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match cairn_telemetry::init(&format!("cairn-{kind}"), &config.telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("cairn-{kind}: {error}");
                return ExitCode::from(2);
            }
        };
        let service = match run(config).await {
            Ok(service) => service,
            Err(error) => {
                tracing::error!(%error, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        shutdown_signal().await;
        service.stop().await;
        ExitCode::SUCCESS
    })
}
