//! `cairn features …`: definitions applied from files (TOML or JSON), like `terraform plan|apply`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn_api::{Action, Definitions, Materialization, MaterializationState, MaterializeRequest, Plan};
use cairn_client::{Client, ClientError};
use cairn_config::CairnConfig;
use cairn_domain::{Name, ServiceKind, Timestamp};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::output::{confirm, print_json};
use crate::status::service_url;

fn client(config: &CairnConfig) -> Client {
    Client::new(service_url(config, ServiceKind::FeatureStore))
}

/// The file each object (kind, name) came from.
type Origins = BTreeMap<(String, String), PathBuf>;

/// The definitions of `path` — a `.toml` or `.json` file, or a directory of them (not descended
/// into) — merged, with the file each object came from.
fn read(path: &Path) -> anyhow::Result<(Definitions, Origins)> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|file| matches!(file.extension().and_then(|e| e.to_str()), Some("toml" | "json")))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{} holds no .toml or .json definitions", path.display());
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut all = Definitions::default();
    let mut origins = BTreeMap::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let parsed: Definitions = if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        } else {
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        };
        let mut origin = |kind: &str, name: String| {
            origins.entry((kind.to_owned(), name)).or_insert_with(|| file.clone());
        };
        parsed.entities.iter().for_each(|e| origin("entity", e.name.to_string()));
        parsed.feature_views.iter().for_each(|v| origin("feature_view", v.name.to_string()));
        parsed.feature_services.iter().for_each(|s| origin("feature_service", s.name.to_string()));
        all.entities.extend(parsed.entities);
        all.feature_views.extend(parsed.feature_views);
        all.feature_services.extend(parsed.feature_services);
    }
    Ok((all, origins))
}

/// A refusal of the definitions, prefixed with the file that holds the object it names.
fn named(error: ClientError, origins: &Origins) -> anyhow::Error {
    if let ClientError::Api { body, .. } = &error
        && let Some(details) = &body.error.details
        && let (Some(kind), Some(name)) = (details["kind"].as_str(), details["name"].as_str())
        && let Some(file) = origins.get(&(kind.to_owned(), name.to_owned()))
    {
        return anyhow::anyhow!("{}: {}", file.display(), body.error.message);
    }
    error.into()
}

fn print_plan(plan: &Plan) {
    let mut rows =
        vec![vec!["KIND".to_owned(), "NAME".into(), "ACTION".into(), "VERSION".into(), "CHANGED".into()]];
    for change in &plan.changes {
        let action = match change.action {
            Action::Create => "create",
            Action::NewVersion => "new version",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Unchanged => "unchanged",
        };
        let version = match (change.from_version, change.to_version) {
            (Some(from), Some(to)) if from != to => format!("{from} → {to}"),
            (_, Some(to)) => to.to_string(),
            (Some(from), None) => from.to_string(),
            (None, None) => String::new(),
        };
        rows.push(vec![
            change.kind.clone(),
            change.name.to_string(),
            action.into(),
            version,
            change.fields.join(","),
        ]);
    }
    crate::table::print(&rows);
}

pub(crate) async fn plan(config: &CairnConfig, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (definitions, origins) = read(path)?;
    let plan = client(config).plan_features(&definitions).await.map_err(|e| named(e, &origins))?;
    if json {
        return print_json(&plan);
    }
    print_plan(&plan);
    Ok(ExitCode::SUCCESS)
}

/// Prints the plan, asks unless `yes`, and applies exactly that plan.
pub(crate) async fn apply(
    config: &CairnConfig,
    path: &Path,
    yes: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (definitions, origins) = read(path)?;
    let client = client(config);
    let plan = client.plan_features(&definitions).await.map_err(|e| named(e, &origins))?;
    if plan.is_empty() {
        if json {
            return print_json(&plan);
        }
        println!("nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        if json {
            bail!("--json needs --yes: there is no one to ask");
        }
        print_plan(&plan);
        if !confirm("apply this plan?")? {
            println!("nothing applied");
            return Ok(ExitCode::FAILURE);
        }
    }
    let applied =
        client.apply_features(&definitions, Some(plan.digest)).await.map_err(|e| named(e, &origins))?;
    if json {
        return print_json(&applied);
    }
    if yes {
        print_plan(&applied);
    }
    let changed = applied.changes.iter().filter(|c| c.action != Action::Unchanged).count();
    println!("applied: {changed} change{}", if changed == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}

/// Feature views (latest versions), then feature services.
pub(crate) async fn list(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let client = client(config);
    let (views, services) = (client.feature_views().await?, client.feature_services().await?);
    if json {
        return print_json(&serde_json::json!({"feature_views": views, "feature_services": services}));
    }
    let mut rows = vec![vec![
        "FEATURE VIEW".to_owned(),
        "VERSION".into(),
        "SOURCE".into(),
        "JOIN KEYS".into(),
        "FEATURES".into(),
        "TTL".into(),
    ]];
    for view in views.iter().filter(|view| !view.deleted) {
        let definition = &view.definition;
        let keys: Vec<String> = view.join_keys.iter().map(ToString::to_string).collect();
        rows.push(vec![
            definition.name.to_string(),
            view.version.to_string(),
            definition.source.to_string(),
            keys.join(","),
            definition.features.len().to_string(),
            if definition.ttl_seconds == 0 { "-".into() } else { format!("{}s", definition.ttl_seconds) },
        ]);
    }
    crate::table::print(&rows);
    println!();
    let mut rows = vec![vec!["FEATURE SERVICE".to_owned(), "VERSION".into(), "FEATURES".into()]];
    for service in services.iter().filter(|service| !service.deleted) {
        let features: Vec<String> = service
            .projections
            .iter()
            .map(|p| format!("{}@{}[{}]", p.feature_view, p.version, p.features.len()))
            .collect();
        rows.push(vec![service.name.to_string(), service.version.to_string(), features.join(" ")]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

/// Every version of a feature view with its features.
pub(crate) async fn show(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let versions = client(config).feature_view_versions(name).await?;
    if json {
        return print_json(&versions);
    }
    let mut rows =
        vec![vec!["VERSION".to_owned(), "CREATED".into(), "FEATURES".into(), "TTL".into(), "STATE".into()]];
    for view in &versions {
        let features: Vec<String> = view.definition.features.iter().map(|f| f.name.to_string()).collect();
        let ttl = view.definition.ttl_seconds;
        rows.push(vec![
            view.version.to_string(),
            view.created_at.to_string(),
            features.join(","),
            if ttl == 0 { "-".into() } else { format!("{ttl}s") },
            if view.deleted { "deleted" } else { "" }.into(),
        ]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn time(flag: &str, value: Option<String>) -> anyhow::Result<Option<Timestamp>> {
    value
        .map(|text| {
            Timestamp::parse_rfc3339(&text)
                .map_err(|error| anyhow::anyhow!("--{flag} `{text}` is not an RFC 3339 time: {error}"))
        })
        .transpose()
}

/// Materializes the views (every live one when none is named) side by side, a progress bar
/// each, then prints what each run did.
pub(crate) async fn materialize(
    config: &CairnConfig,
    mut views: Vec<String>,
    start: Option<String>,
    end: Option<String>,
    version: Option<i64>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = client(config);
    if views.is_empty() {
        views = client
            .feature_views()
            .await?
            .into_iter()
            .filter(|view| !view.deleted)
            .map(|view| view.definition.name.to_string())
            .collect();
        if views.is_empty() {
            bail!("no feature views: apply definitions first (cairn features apply -f DIR)");
        }
    }
    if version.is_some() && views.len() != 1 {
        bail!("--version needs exactly one feature view");
    }
    let request = MaterializeRequest { version, start: time("start", start)?, end: time("end", end)? };
    let mut runs = Vec::with_capacity(views.len());
    for view in &views {
        runs.push(client.materialize(view, &request).await?);
    }
    let bars = if json {
        MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    };
    let style = ProgressStyle::with_template("{prefix:<24} [{bar:30}] {pos}/{len} files  {msg}")?
        .progress_chars("=> ");
    let mut finished: Vec<Materialization> = Vec::with_capacity(runs.len());
    let tracked: Vec<(Materialization, ProgressBar)> = runs
        .into_iter()
        .map(|run| {
            let bar = bars.add(ProgressBar::new(run.files).with_style(style.clone()));
            bar.set_prefix(format!("{}@{}", run.feature_view, run.version));
            (run, bar)
        })
        .collect();
    for (run, bar) in tracked {
        let run = loop {
            let now = client.materialization(&run.id).await?;
            bar.set_position(now.files_read);
            bar.set_message(format!("{} rows read, {} written", now.rows_read, now.rows_written));
            if now.state != MaterializationState::Running {
                break now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        bar.finish_and_clear();
        finished.push(run);
    }
    let failed = finished.iter().any(|run| run.state == MaterializationState::Failed);
    if json {
        print_json(&finished)?;
    } else {
        let mut rows = vec![vec![
            "FEATURE VIEW".to_owned(),
            "VERSION".into(),
            "FROM".into(),
            "TO".into(),
            "FILES".into(),
            "ROWS READ".into(),
            "ENTITIES".into(),
            "WRITTEN".into(),
            "STATE".into(),
        ]];
        for run in &finished {
            rows.push(vec![
                run.feature_view.to_string(),
                run.version.to_string(),
                run.start.map_or("-".into(), |start| start.to_string()),
                run.end.to_string(),
                run.files.to_string(),
                run.rows_read.to_string(),
                run.entities.to_string(),
                run.rows_written.to_string(),
                match &run.error {
                    Some(error) => format!("failed: {error}"),
                    None => run.state.as_str().into(),
                },
            ]);
        }
        crate::table::print(&rows);
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Training data written as a new version of `dataset`: asked of the feature store, then waited
/// for until ingestion has added it.
pub(crate) async fn to_dataset(
    config: &CairnConfig,
    dataset: &str,
    request: cairn_client::HistoricalRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if request.features.is_empty() == request.feature_service.is_none() {
        bail!("give --features or --service");
    }
    let entity_dataset = request.entity_dataset.clone().context("--to-dataset needs --entity-dataset")?;
    let parse = |name: &str| Name::parse(name).map_err(|error| anyhow::anyhow!("`{name}`: {error}"));
    let training = cairn_api::TrainingDataRequest {
        dataset: parse(dataset)?,
        features: request.features,
        feature_service: request.feature_service,
        full_feature_names: request.full_feature_names,
        entity_dataset: parse(&entity_dataset)?,
        entity_version: request.entity_version,
        entity_timestamp: request.entity_timestamp,
    };
    let progress = if json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    progress.set_message(format!("joining features onto {entity_dataset}"));
    let written = client(config).training_data(&training).await;
    let written = match written {
        Ok(written) => written,
        Err(error) => {
            progress.finish_and_clear();
            return Err(error.into());
        }
    };
    progress.set_message(format!(
        "{} rows written; waiting for ingestion to add them to {dataset}",
        written.rows
    ));
    let ingestion = Client::new(service_url(config, ServiceKind::Ingestion));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let version = loop {
        if let Ok(Some(version)) = ingestion.version_holding(dataset, &written.id).await {
            break version;
        }
        if std::time::Instant::now() > deadline {
            progress.finish_and_clear();
            bail!(
                "training data {} was written, but no version of `{dataset}` holds it after 10 minutes: see the ingestion service's log",
                written.id
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    progress.finish_and_clear();
    if json {
        return print_json(&version);
    }
    let lineage = &written.lineage;
    crate::table::print(&[
        vec!["DATASET".to_owned(), format!("{dataset}@{}", version.version)],
        vec!["rows".into(), version.rows.to_string()],
        vec!["training data".into(), written.id.clone()],
        vec!["feature service".into(), lineage.feature_service.clone().unwrap_or_else(|| "-".into())],
        vec!["feature views".into(), lineage.feature_views.join(", ")],
        vec!["entity rows".into(), lineage.entity_rows.clone()],
        vec!["sources".into(), lineage.sources.join(", ")],
    ]);
    Ok(ExitCode::SUCCESS)
}

/// `NAME` or `NAME@VERSION`.
pub(crate) fn dataset_ref(reference: &str) -> anyhow::Result<(String, Option<i64>)> {
    match reference.split_once('@') {
        None => Ok((reference.to_owned(), None)),
        Some((name, version)) => {
            let version = version.parse().with_context(|| format!("`{version}` is not a version number"))?;
            Ok((name.to_owned(), Some(version)))
        }
    }
}

/// Joins features onto entity rows (a file, or a dataset version the service reads itself) and
/// writes the training data.
pub(crate) async fn retrieve(
    config: &CairnConfig,
    entities: Option<&Path>,
    request: &cairn_client::HistoricalRequest,
    output: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if request.features.is_empty() == request.feature_service.is_none() {
        bail!("give --features or --service");
    }
    let (upload, source) = match entities {
        Some(entities) => {
            let file = tokio::fs::File::open(entities)
                .await
                .with_context(|| format!("cannot read {}", entities.display()))?;
            // Streamed: the service stages it on disk, and neither side holds it whole.
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
            (reqwest::Body::wrap_stream(stream), entities.display().to_string())
        }
        None => {
            let source = match (&request.entity_dataset, request.start, request.end) {
                (Some(dataset), _, _) => dataset.clone(),
                (None, Some(start), Some(end)) => format!("the rows from {start} to {end}"),
                _ => String::new(),
            };
            (reqwest::Body::from(Vec::new()), source)
        }
    };
    let progress = if json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    progress.set_message(format!("joining features onto {source}"));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let started = std::time::Instant::now();
    let answer = client(config).historical_features(request, upload).await;
    progress.finish_and_clear();
    let (parquet, views) = answer?;
    tokio::fs::write(output, &parquet).await.with_context(|| format!("cannot write {}", output.display()))?;
    let summary = serde_json::json!({
        "output": output.display().to_string(),
        "bytes": parquet.len(),
        "feature_views": views,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if json {
        return print_json(&summary);
    }
    crate::table::print(&[
        vec!["TRAINING DATA".to_owned(), output.display().to_string()],
        vec!["bytes".into(), parquet.len().to_string()],
        vec!["feature views".into(), views.join(", ")],
        vec!["seconds".into(), format!("{:.2}", started.elapsed().as_secs_f64())],
    ]);
    Ok(ExitCode::SUCCESS)
}
