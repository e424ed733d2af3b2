//! `cairn`: every service and the command line in one binary. `cairn serve <service>` runs one
//! service in this process (how each runs in production and under `cairn up`); every other
//! subcommand is the command line's (cairn-cli).

use std::path::PathBuf;
use std::process::ExitCode;

use cairn_domain::ServiceKind;
use cairn_service::binary::serve;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cairn", version, about = "Cairn: from raw events to monitored models in production")]
struct Cairn {
    /// Configuration file (default: ./cairn.toml if present).
    #[arg(long, short = 'c', global = true, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one service in this process until SIGINT/SIGTERM: ingestion, feature-store,
    /// training, registry, serving or monitor.
    Serve { service: ServiceKind },
    /// Run a training worker in this process until SIGINT/SIGTERM: it takes trials from the
    /// work queue (NATS) one at a time and trains them. Run as many as you have cores and
    /// machines for.
    Worker,
    #[command(flatten)]
    Cli(Box<cairn_cli::Command>),
}

fn main() -> ExitCode {
    let cairn = Cairn::parse();
    let config = cairn.config.as_deref();
    match cairn.command {
        Command::Serve { service } => match service {
            ServiceKind::Ingestion => serve(service, config, cairn_ingestion::run),
            ServiceKind::FeatureStore => serve(service, config, cairn_feature_store::run),
            ServiceKind::Training => serve(service, config, cairn_training::run),
            ServiceKind::Registry => serve(service, config, cairn_registry::run),
            ServiceKind::Serving => serve(service, config, cairn_serving::run),
            ServiceKind::Monitor => serve(service, config, cairn_monitor::run),
        },
        Command::Worker => serve(ServiceKind::Training, config, cairn_training::work),
        Command::Cli(command) => cairn_cli::run(config, *command),
    }
}
