//! One service in this process: what `cairn serve <service>` runs.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;

use crate::{RunningService, StartError, shutdown_signal};

/// Something started that runs until stopped: a service, a worker.
pub trait Stoppable {
    fn stop(self) -> impl Future<Output = ()>;
}

impl Stoppable for RunningService {
    fn stop(self) -> impl Future<Output = ()> {
        RunningService::stop(self)
    }
}

/// Loads configuration (`config`, else ./cairn.toml if present), installs telemetry, runs the
/// service until SIGINT/SIGTERM, stops it. Exit code 2 for configuration errors.
pub fn serve<F, Fut, S>(kind: ServiceKind, config: Option<&Path>, run: F) -> ExitCode
where
    F: FnOnce(CairnConfig) -> Fut,
    Fut: Future<Output = Result<S, StartError>>,
    S: Stoppable,
{
    let config = match cairn_config::load(config) {
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
