//! The `cairn` command's client and local-platform commands, as a library: the `cairn` binary
//! (the workspace's top package) adds `cairn serve <service>` beside them and runs them here.

mod children;
mod config_show;
mod datasets;
mod demo;
mod drift;
mod endpoints;
mod features;
mod ingest;
mod models;
mod monitor;
mod nats_child;
mod output;
mod pipelines;
mod runs;
mod status;
mod table;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform locally: nats-server plus the six services (each `cairn serve
    /// <service>` in its own process), until Ctrl-C.
    Up {
        /// Use this NATS server instead of starting one.
        #[arg(long)]
        nats_url: Option<String>,
    },
    /// Ingest a CSV or JSON Lines file into a dataset as one batch (streamed, with progress).
    Ingest {
        /// A local file (uploaded), or a URL the ingestion service reads itself: s3://bucket/key,
        /// https://…, file:///path under its ingestion.import_roots.
        file: PathBuf,
        #[arg(long, short = 'd')]
        dataset: String,
        /// `csv`, `jsonl` or `parquet`; by default from the file extension.
        #[arg(long)]
        format: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Dataset declarations, versions and snapshots.
    Datasets {
        #[command(subcommand)]
        command: DatasetsCommand,
    },
    /// Feature definitions (entities, feature views, feature services) applied from files.
    Features {
        #[command(subcommand)]
        command: FeaturesCommand,
    },
    /// Registered models: versions, lineage, model cards, alias history, the audit log.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Training pipelines (data, trainer, search, evaluation, registration) applied from files.
    Pipelines {
        #[command(subcommand)]
        command: PipelinesCommand,
    },
    /// Run a pipeline and follow it: trials as workers finish them, the best score so far, the
    /// platform's holdout metrics and the gates. Exits 1 unless the run succeeds.
    Train {
        pipeline: String,
        /// The pipeline version; its latest by default.
        #[arg(long)]
        version: Option<i64>,
        /// Start the run and return at once.
        #[arg(long)]
        detach: bool,
        #[arg(long)]
        json: bool,
    },
    /// Runs: pipeline runs, and the tracked (MLflow) runs of an experiment — their parameters,
    /// metrics, data, code and the models registered from them.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Serve a registered model on an endpoint: MODEL@ALIAS follows the alias as it moves,
    /// MODEL@VERSION pins a version. The endpoint is named after the model unless --endpoint.
    Deploy {
        /// MODEL@ALIAS or MODEL@VERSION.
        target: String,
        #[arg(long, short = 'e')]
        endpoint: Option<String>,
        #[command(flatten)]
        rollout: Rollout,
        #[arg(long)]
        json: bool,
    },
    /// Score every row of a dataset version with a registered model (MODEL@ALIAS or
    /// MODEL@VERSION): the rows and their predictions become a new version of the output dataset.
    Score {
        /// MODEL@ALIAS or MODEL@VERSION.
        target: String,
        /// NAME or NAME@VERSION (the latest version when no version is given).
        #[arg(long, short = 'd')]
        dataset: String,
        /// The dataset the scored rows are added to; `<dataset>_scores` by default.
        #[arg(long, short = 'o')]
        output: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Whether a dataset version's columns are distributed as another's (drift), column by
    /// column with the test Evidently would pick, and for the dataset: DATASET@A DATASET@B.
    Drift {
        /// The reference: NAME or NAME@VERSION.
        reference: String,
        /// The version to check: NAME or NAME@VERSION.
        current: String,
        /// Only these columns (repeat, or comma separated).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Exit 1 when the dataset drifted (for scripts that gate on it).
        #[arg(long)]
        fail_on_drift: bool,
        #[arg(long)]
        json: bool,
    },
    /// The whole platform in a few minutes: data streamed in, features, training with tuning, a
    /// champion deployed, live traffic and labels, then drift — the loop retrains, canaries and
    /// promotes. Starts the local platform (or uses a running one); exits 0 only if every step
    /// did what it said.
    Demo {
        /// Leave the platform running afterwards, for exploring.
        #[arg(long)]
        keep: bool,
        /// A third of the data: a quicker check that the loop closes.
        #[arg(long)]
        small: bool,
    },
    /// What the monitor sees of an endpoint: each version's open window, the judged windows
    /// (drift per feature), live performance on the labels that arrived.
    Monitor {
        endpoint: String,
        #[arg(long)]
        json: bool,
    },
    /// Write an endpoint's drift and performance report as one HTML page.
    Report {
        endpoint: String,
        #[arg(long, short = 'o')]
        output: std::path::PathBuf,
    },
    /// An endpoint's continuous-training loop: retrain on drift, canary, promote or roll back.
    Loop {
        #[command(subcommand)]
        command: LoopCommand,
    },
    /// Endpoints of the serving service: what each serves.
    Endpoints {
        #[command(subcommand)]
        command: EndpointsCommand,
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
pub enum DatasetsCommand {
    /// Every declared dataset.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A dataset's schema and versions.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Declare a dataset from a JSON declaration, or from a schema inferred from a sample.
    Create {
        /// A declaration: {"name": ..., "schema": {...}}.
        #[arg(short = 'f', long, conflicts_with = "from_sample")]
        file: Option<PathBuf>,
        /// A CSV (with a header) or JSON Lines sample to infer the schema from.
        #[arg(long)]
        from_sample: Option<PathBuf>,
        /// The dataset's name (with --from-sample).
        #[arg(long)]
        name: Option<String>,
        /// Edit the inferred declaration in $EDITOR before creating it.
        #[arg(long)]
        edit: bool,
        /// Create without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the declaration as JSON instead of creating it (to edit and `create -f`).
        #[arg(long)]
        print: bool,
    },
    /// A version's manifest: its files with rows, size and SHA-256.
    Version {
        name: String,
        /// A version number, or `latest`.
        #[arg(default_value = "latest")]
        version: String,
        /// The version that was the latest at this time (RFC 3339), instead of the latest now.
        #[arg(long, conflicts_with = "version")]
        as_of: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Samples of quarantined records with the rules they broke, newest batch first.
    Quarantine {
        name: String,
        /// Only this batch's records.
        #[arg(long)]
        batch: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Evolve a dataset's schema: the file holds the new schema, which may only append nullable
    /// columns (anything else needs a new dataset).
    Evolve {
        name: String,
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Make every streamed record committed so far a new version.
    Snapshot {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// What applying the definitions would create, change and delete.
    Plan {
        /// A .toml or .json file of definitions, or a directory of them.
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Apply the definitions as a whole: prints the plan and asks first, unless --yes.
    Apply {
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Feature views (latest versions) and feature services.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Every version of a feature view.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Training data: an entity file (Parquet: join keys and a time column) with features joined
    /// as of each row's time, written to a Parquet file.
    Retrieve {
        /// The entity rows, a Parquet file.
        #[arg(long, required_unless_present_any = ["entity_dataset", "start"])]
        entities: Option<PathBuf>,
        /// The entity rows from a dataset version instead (`NAME` for its latest, `NAME@N`),
        /// every column kept.
        #[arg(long, conflicts_with = "entities")]
        entity_dataset: Option<String>,
        /// Or every row of the first view with an event time from --start (RFC 3339, inclusive)
        /// to --end (exclusive) as the entity rows.
        #[arg(long, requires = "end", conflicts_with_all = ["entities", "entity_dataset"])]
        start: Option<String>,
        #[arg(long, requires = "start")]
        end: Option<String>,
        /// `view:feature` references (repeat, or comma separated).
        #[arg(long, value_delimiter = ',')]
        features: Vec<String>,
        /// A feature service instead of --features.
        #[arg(long)]
        service: Option<String>,
        /// Name features `view__feature`.
        #[arg(long)]
        full_feature_names: bool,
        /// The entity rows' time column; `event_timestamp` in a file, the dataset's event time
        /// in --entity-dataset, by default.
        #[arg(long)]
        entity_timestamp: Option<String>,
        /// Where to write the training data.
        #[arg(short = 'o', long, required_unless_present = "to_dataset")]
        output: Option<PathBuf>,
        /// Write it as a new version of this dataset instead (declared from the result when it
        /// does not exist), with its lineage; needs --entity-dataset.
        #[arg(long, requires = "entity_dataset", conflicts_with = "output")]
        to_dataset: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Copy the latest feature values from the offline store to the online store, from each
    /// view's watermark (where its last materialization ended) to now unless told otherwise.
    Materialize {
        /// Feature views; every live one when none is named.
        views: Vec<String>,
        /// Start of the event time range (RFC 3339), inclusive.
        #[arg(long)]
        start: Option<String>,
        /// End of the event time range (RFC 3339), exclusive; now by default.
        #[arg(long)]
        end: Option<String>,
        /// The view version (one view only); the latest by default.
        #[arg(long)]
        version: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PipelinesCommand {
    /// What applying the spec would do, after the training service has checked it.
    Plan {
        /// A .toml or .json pipeline spec.
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Apply the spec (a new version when it changed): prints the plan and asks first, unless --yes.
    Apply {
        #[arg(short = 'f', long)]
        file: PathBuf,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every pipeline's latest version.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A pipeline's latest spec.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// A pipeline's runs (--pipeline), or an experiment's tracked runs with their metrics,
    /// newest first.
    List {
        /// The experiment's name.
        #[arg(required_unless_present = "pipeline")]
        experiment: Option<String>,
        /// A pipeline's runs instead.
        #[arg(long, conflicts_with = "experiment")]
        pipeline: Option<String>,
        /// MLflow's filter grammar, e.g. "metrics.auc > 0.8 AND params.depth = '6'".
        #[arg(long)]
        filter: Option<String>,
        /// One ordering, e.g. "metrics.auc DESC".
        #[arg(long)]
        order_by: Option<String>,
        #[arg(long, default_value_t = 100)]
        max_results: i64,
        #[arg(long)]
        json: bool,
    },
    /// One run: a pipeline run (steps, trials, metrics, gates), or a tracked run (parameters,
    /// metrics, tags, data and code, and the model versions registered from it).
    Show {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop a pipeline run at its next step.
    Cancel {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a pipeline run again: the same pipeline version, dataset version, split, trials and
    /// seeds (a built-in trainer makes the same model file, byte for byte); followed to its end.
    Reproduce {
        run_id: String,
        #[arg(long)]
        detach: bool,
        #[arg(long)]
        json: bool,
    },
    /// A pipeline run's steps with their timings and logs.
    Logs {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every registered model.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A model's versions, newest first.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// A version with its lineage: run, metrics, code version, datasets.
    Version {
        name: String,
        version: i64,
        #[arg(long)]
        json: bool,
    },
    /// A version's model card (Markdown, or HTML with --html).
    Card {
        name: String,
        version: i64,
        #[arg(long)]
        html: bool,
    },
    /// Which version an alias points at (or pointed at, with --at) and its history.
    Alias {
        name: String,
        alias: String,
        /// An RFC 3339 time, e.g. 2026-03-03T12:00:00Z.
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The registry's audit log, oldest first.
    Audit {
        /// Only this entity, e.g. `registered_model:churn` or `model_version:churn/2`.
        #[arg(long)]
        entity: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Protect an alias (approvers only): it then moves only through an approved request.
    Protect {
        name: String,
        alias: String,
        /// Lift the protection instead.
        #[arg(long)]
        remove: bool,
    },
    /// Ask for a protected alias to move to a version.
    Request {
        name: String,
        alias: String,
        version: i64,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Requests to move protected aliases.
    Approvals {
        /// pending, approved or rejected.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Approve a request (an approver other than the requester): the alias moves.
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Reject a request: the alias stays.
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Model versions trained on a dataset version.
    TrainedOn {
        dataset: String,
        version: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EndpointsCommand {
    /// Every endpoint, with the version it serves.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One endpoint.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Point an endpoint at MODEL@ALIAS or MODEL@VERSION (as `cairn deploy`).
    Set {
        name: String,
        target: String,
        #[command(flatten)]
        rollout: Rollout,
        #[arg(long)]
        json: bool,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LoopCommand {
    /// Set (or change) an endpoint's loop.
    Set {
        endpoint: String,
        #[command(flatten)]
        options: Box<monitor::LoopOptions>,
        #[arg(long)]
        json: bool,
    },
    /// An endpoint's loop: its policy and where its cycle stands.
    Show {
        endpoint: String,
        #[arg(long)]
        json: bool,
    },
    /// Every loop.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Every decision of an endpoint's loop, with what it saw.
    History {
        endpoint: String,
        #[arg(long, default_value_t = 200)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    Delete {
        endpoint: String,
    },
}

/// How an endpoint serves beyond its main version: a canary, a shadow, stream scoring.
#[derive(Debug, clap::Args)]
pub struct Rollout {
    /// VERSION:PERCENT — another version answers that share of requests (e.g. 3:10%).
    #[arg(long)]
    pub canary: Option<String>,
    /// A version that gets a copy of every request; its answers are logged, not returned.
    #[arg(long)]
    pub shadow: Option<i64>,
    /// Stream scoring: every record (a JSON object) published on this NATS subject is answered
    /// on --stream-output.
    #[arg(long, value_name = "SUBJECT", requires = "stream_output")]
    pub stream_input: Option<String>,
    #[arg(long, value_name = "SUBJECT", requires = "stream_input")]
    pub stream_output: Option<String>,
    /// The streamed records are entity keys, their features read from the online store.
    #[arg(long, requires = "stream_input")]
    pub entity_keys: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) with secrets redacted.
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// Runs one command with the configuration in `config_file` (else ./cairn.toml if present).
pub fn run(config_file: Option<&Path>, command: Command) -> ExitCode {
    let config = match cairn_config::load(config_file) {
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
        match command {
            Command::Up { nats_url } => up::run(config, config_file, nats_url).await,
            Command::Status { json } => status::run(&config, json).await,
            Command::Datasets { command } => match command {
                DatasetsCommand::List { json } => datasets::list(&config, json).await,
                DatasetsCommand::Show { name, json } => datasets::show(&config, &name, json).await,
                DatasetsCommand::Version { name, version, as_of, json } => {
                    datasets::version(&config, &name, &version, as_of.as_deref(), json).await
                }
                DatasetsCommand::Quarantine { name, batch, limit, json } => {
                    datasets::quarantine(&config, &name, batch.as_deref(), limit, json).await
                }
                DatasetsCommand::Evolve { name, file, json } => {
                    datasets::evolve(&config, &name, &file, json).await
                }
                DatasetsCommand::Snapshot { name, json } => datasets::snapshot(&config, &name, json).await,
                DatasetsCommand::Create { file, from_sample, name, edit, yes, print } => {
                    datasets::create(
                        &config,
                        file.as_deref(),
                        from_sample.as_deref(),
                        name.as_deref(),
                        edit,
                        yes,
                        print,
                    )
                    .await
                }
            },
            Command::Features { command } => match command {
                FeaturesCommand::Plan { file, json } => features::plan(&config, &file, json).await,
                FeaturesCommand::Apply { file, yes, json } => {
                    features::apply(&config, &file, yes, json).await
                }
                FeaturesCommand::List { json } => features::list(&config, json).await,
                FeaturesCommand::Show { name, json } => features::show(&config, &name, json).await,
                FeaturesCommand::Retrieve {
                    entities,
                    entity_dataset,
                    start,
                    end,
                    features: refs,
                    service,
                    full_feature_names,
                    entity_timestamp,
                    output,
                    to_dataset,
                    json,
                } => {
                    let (entity_dataset, entity_version) =
                        match entity_dataset.as_deref().map(features::dataset_ref) {
                            Some(Ok((name, version))) => (Some(name), version),
                            Some(Err(error)) => return Err(error),
                            None => (None, None),
                        };
                    let request = cairn_client::HistoricalRequest {
                        features: refs,
                        feature_service: service,
                        full_feature_names,
                        entity_timestamp,
                        entity_dataset,
                        entity_version,
                        start: features::time("start", start)?,
                        end: features::time("end", end)?,
                    };
                    match (to_dataset, output) {
                        (Some(dataset), _) => features::to_dataset(&config, &dataset, request, json).await,
                        (None, Some(output)) => {
                            features::retrieve(&config, entities.as_deref(), &request, &output, json).await
                        }
                        (None, None) => Err(anyhow::anyhow!("give -o FILE or --to-dataset NAME")),
                    }
                }
                FeaturesCommand::Materialize { views, start, end, version, json } => {
                    features::materialize(&config, views, start, end, version, json).await
                }
            },
            Command::Pipelines { command } => match command {
                PipelinesCommand::Plan { file, json } => pipelines::plan(&config, &file, json).await,
                PipelinesCommand::Apply { file, yes, json } => {
                    pipelines::apply(&config, &file, yes, json).await
                }
                PipelinesCommand::List { json } => pipelines::list(&config, json).await,
                PipelinesCommand::Show { name, json } => pipelines::show(&config, &name, json).await,
            },
            Command::Drift { reference, current, columns, fail_on_drift, json } => {
                drift::run(&config, &reference, &current, columns, fail_on_drift, json).await
            }
            Command::Train { pipeline, version, detach, json } => {
                pipelines::train(&config, &pipeline, version, detach, json).await
            }
            Command::Runs { command } => match command {
                RunsCommand::List { pipeline: Some(pipeline), max_results, json, .. } => {
                    pipelines::runs(&config, &pipeline, max_results, json).await
                }
                RunsCommand::List { experiment, filter, order_by, max_results, json, .. } => {
                    let experiment = experiment.unwrap_or_default();
                    runs::list(&config, &experiment, filter, order_by, max_results, json).await
                }
                RunsCommand::Show { run_id, json } => {
                    match pipelines::show_run(&config, &run_id, json).await? {
                        Some(code) => Ok(code),
                        None => runs::show(&config, &run_id, json).await,
                    }
                }
                RunsCommand::Cancel { run_id, json } => pipelines::cancel(&config, &run_id, json).await,
                RunsCommand::Logs { run_id, json } => pipelines::logs(&config, &run_id, json).await,
                RunsCommand::Reproduce { run_id, detach, json } => {
                    pipelines::reproduce(&config, &run_id, detach, json).await
                }
            },
            Command::Models { command } => match command {
                ModelsCommand::List { json } => models::list(&config, json).await,
                ModelsCommand::Show { name, json } => models::show(&config, &name, json).await,
                ModelsCommand::Version { name, version, json } => {
                    models::version(&config, &name, version, json).await
                }
                ModelsCommand::Card { name, version, html } => {
                    models::card(&config, &name, version, html).await
                }
                ModelsCommand::Alias { name, alias, at, json } => {
                    models::alias(&config, &name, &alias, at.as_deref(), json).await
                }
                ModelsCommand::Audit { entity, limit, json } => {
                    models::audit(&config, entity.as_deref(), limit, json).await
                }
                ModelsCommand::Protect { name, alias, remove } => {
                    models::protect(&config, &name, &alias, !remove).await
                }
                ModelsCommand::Request { name, alias, version, reason, json } => {
                    models::request(&config, &name, &alias, version, reason, json).await
                }
                ModelsCommand::Approvals { state, json } => {
                    models::approvals(&config, state.as_deref(), json).await
                }
                ModelsCommand::Approve { id, reason, json } => {
                    models::decide(&config, &id, true, reason, json).await
                }
                ModelsCommand::Reject { id, reason, json } => {
                    models::decide(&config, &id, false, reason, json).await
                }
                ModelsCommand::TrainedOn { dataset, version, json } => {
                    models::trained_on(&config, &dataset, version, json).await
                }
            },
            Command::Deploy { target, endpoint, rollout, json } => {
                endpoints::deploy(&config, &target, endpoint.as_deref(), &rollout, json).await
            }
            Command::Score { target, dataset, output, json } => {
                endpoints::score(&config, &target, &dataset, output.as_deref(), json).await
            }
            Command::Demo { keep, small } => demo::run(config, config_file, keep, small).await,
            Command::Monitor { endpoint, json } => monitor::show(&config, &endpoint, json).await,
            Command::Report { endpoint, output } => monitor::report(&config, &endpoint, &output).await,
            Command::Loop { command } => match command {
                LoopCommand::Set { endpoint, options, json } => {
                    monitor::set_loop(&config, &endpoint, *options, json).await
                }
                LoopCommand::Show { endpoint, json } => monitor::show_loop(&config, &endpoint, json).await,
                LoopCommand::List { json } => monitor::list_loops(&config, json).await,
                LoopCommand::History { endpoint, limit, json } => {
                    monitor::history(&config, &endpoint, limit, json).await
                }
                LoopCommand::Delete { endpoint } => monitor::delete_loop(&config, &endpoint).await,
            },
            Command::Endpoints { command } => match command {
                EndpointsCommand::List { json } => endpoints::list(&config, json).await,
                EndpointsCommand::Show { name, json } => endpoints::show(&config, &name, json).await,
                EndpointsCommand::Set { name, target, rollout, json } => {
                    endpoints::deploy(&config, &target, Some(&name), &rollout, json).await
                }
                EndpointsCommand::Delete { name } => endpoints::delete(&config, &name).await,
            },
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
