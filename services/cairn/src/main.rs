//! The `cairn` command.

mod config_show;
mod ingest;
mod nats_child;
mod status;
mod table;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cairn", version, about = "Cairn: from raw events to monitored models in production")]
struct Cli {
    /// Configuration file (default: ./cairn.toml if present).
    #[arg(long, short = 'c', global = true, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform locally: nats-server plus the six services, until Ctrl-C.
    Up {
        /// Use this NATS server instead of starting one.
        #[arg(long)]
        nats_url: Option<String>,
    },
    /// Ingest a CSV or JSON Lines file into a dataset as one batch (streamed, with progress).
    Ingest {
        file: PathBuf,
        #[arg(long, short = 'd')]
        dataset: String,
        /// `csv` or `jsonl`; by default from the file extension.
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show whether each service is ready.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) with secrets redacted.
    Show {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cairn_config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cairn: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cairn: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up { nats_url } => up::run(config, nats_url).await,
            Command::Status { json } => status::run(&config, json).await,
            Command::Ingest { file, dataset, format, json } => {
                ingest::run(&config, &file, &dataset, format.as_deref(), json).await
            }
            Command::Config { command: ConfigCommand::Show { json } } => config_show::run(&config, json),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("cairn: {error:#}");
            ExitCode::FAILURE
        }
    }
}
