//! `cairn datasets …`: declarations, versions and snapshots.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn_api::{Dataset, DatasetVersion, NewDataset, QuarantinedRecord};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::{Name, Schema, ServiceKind, Timestamp};
use cairn_records::infer;

use crate::output::{confirm, print_json};
use crate::status::service_url;

fn client(config: &CairnConfig) -> Client {
    Client::new(service_url(config, ServiceKind::Ingestion))
}

pub(crate) async fn list(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let datasets = client(config).datasets().await?;
    if json {
        return print_json(&datasets);
    }
    let mut rows = vec![vec![
        "NAME".to_owned(),
        "COLUMNS".into(),
        "EVENT TIME".into(),
        "ENTITY KEYS".into(),
        "CREATED".into(),
    ]];
    for dataset in &datasets {
        let keys: Vec<String> = dataset.schema.entity_keys.iter().map(ToString::to_string).collect();
        rows.push(vec![
            dataset.name.to_string(),
            dataset.schema.columns.len().to_string(),
            dataset.schema.event_timestamp.to_string(),
            keys.join(","),
            dataset.created_at.to_string(),
        ]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let client = client(config);
    let dataset = client.dataset(name).await?;
    let versions = client.versions(name).await?;
    if json {
        return print_json(&serde_json::json!({"dataset": dataset, "versions": versions}));
    }
    print_schema(&dataset);
    println!();
    let mut rows = vec![vec!["VERSION".to_owned(), "ROWS".into(), "BATCH".into(), "CREATED".into()]];
    for version in &versions {
        rows.push(vec![
            version.version.to_string(),
            version.rows.to_string(),
            version.batch_id.clone().unwrap_or_else(|| "(snapshot)".into()),
            version.created_at.to_string(),
        ]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn version(
    config: &CairnConfig,
    name: &str,
    version: &str,
    as_of: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = client(config);
    let found = match as_of {
        Some(time) => {
            let time = Timestamp::parse_rfc3339(time).with_context(|| format!("--as-of `{time}`"))?;
            client.version_as_of(name, time).await?
        }
        None => client.get::<DatasetVersion>(&format!("/v1/datasets/{name}/versions/{version}")).await?,
    };
    if json {
        return print_json(&found);
    }
    println!("{name} version {}: {} rows, created {}", found.version, found.rows, found.created_at);
    let mut rows = vec![vec!["FILE".to_owned(), "ROWS".into(), "BYTES".into(), "SHA-256".into()]];
    for file in &found.files {
        rows.push(vec![
            file.path.clone(),
            file.rows.to_string(),
            file.bytes.to_string(),
            file.sha256.clone(),
        ]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn quarantine(
    config: &CairnConfig,
    name: &str,
    batch: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut path = format!("/v1/datasets/{name}/quarantine?limit={limit}");
    if let Some(batch) = batch {
        path.push_str(&format!("&batch={batch}"));
    }
    let records: Vec<QuarantinedRecord> = client(config).get(&path).await?;
    if json {
        return print_json(&records);
    }
    let mut rows = vec![vec!["BATCH".to_owned(), "LINE".into(), "VIOLATIONS".into(), "RECORD".into()]];
    for record in &records {
        let violations: Vec<String> =
            record.violations.iter().map(|v| format!("{} {} ({})", v.column, v.rule, v.value)).collect();
        rows.push(vec![
            record.batch_id.clone(),
            record.line.to_string(),
            violations.join("; "),
            record.record.to_string(),
        ]);
    }
    crate::table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn evolve(
    config: &CairnConfig,
    name: &str,
    file: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let schema: Schema =
        serde_json::from_str(&text).with_context(|| format!("{} is not a schema", file.display()))?;
    let dataset = client(config).evolve_schema(name, &schema).await?;
    if json {
        return print_json(&dataset);
    }
    print_schema(&dataset);
    Ok(ExitCode::SUCCESS)
}

fn print_schema(dataset: &Dataset) {
    let schema = &dataset.schema;
    let mut rows = vec![vec!["COLUMN".to_owned(), "TYPE".into(), "NULLABLE".into(), "ROLE".into()]];
    for column in &schema.columns {
        let role = if column.name == schema.event_timestamp {
            "event time"
        } else if schema.entity_keys.contains(&column.name) {
            "entity key"
        } else {
            ""
        };
        let column_type = serde_json::to_value(&column.column_type)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .unwrap_or_default();
        rows.push(vec![
            column.name.to_string(),
            column_type,
            if column.nullable { "yes" } else { "no" }.into(),
            role.into(),
        ]);
    }
    println!("dataset {}", dataset.name);
    crate::table::print(&rows);
}

pub(crate) async fn snapshot(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let created: Option<DatasetVersion> = client(config).snapshot(name).await?;
    match (created, json) {
        (Some(version), true) => print_json(&version),
        (Some(version), false) => {
            println!("{name}: version {} ({} rows)", version.version, version.rows);
            Ok(ExitCode::SUCCESS)
        }
        (None, true) => print_json(&serde_json::Value::Null),
        (None, false) => {
            println!("{name}: nothing new since the last version");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Creates a dataset from a declaration file, or from a schema inferred from a sample that the
/// user confirms (or edits in `$EDITOR` with `--edit`).
pub(crate) async fn create(
    config: &CairnConfig,
    file: Option<&Path>,
    sample: Option<&Path>,
    name: Option<&str>,
    edit: bool,
    yes: bool,
    print: bool,
) -> anyhow::Result<ExitCode> {
    let mut declaration: NewDataset = match (file, sample) {
        (Some(file), None) => {
            let text =
                std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a dataset declaration", file.display()))?
        }
        (None, Some(sample)) => {
            let Some(name) = name else { bail!("--from-sample needs --name") };
            let name = Name::parse(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let opened =
                std::fs::File::open(sample).with_context(|| format!("opening {}", sample.display()))?;
            let reader = std::io::BufReader::new(opened);
            let jsonl =
                sample.extension().and_then(|e| e.to_str()).is_some_and(|e| e == "jsonl" || e == "ndjson");
            let schema = if jsonl { infer::infer_json_lines(reader) } else { infer::infer_csv(reader) };
            NewDataset { name, schema: schema.map_err(|e| anyhow::anyhow!("{}: {e}", sample.display()))? }
        }
        _ => bail!("give either -f DECLARATION.json or --from-sample FILE --name NAME"),
    };
    if print {
        return print_json(&declaration);
    }
    if edit {
        declaration = edit_in_editor(&declaration)?;
    } else if !yes {
        print_schema(&Dataset {
            name: declaration.name.clone(),
            schema: declaration.schema.clone(),
            created_at: Timestamp::now(),
        });
        if !confirm("create it?")? {
            println!("not created");
            return Ok(ExitCode::FAILURE);
        }
    }
    let created = client(config).create_dataset(&declaration).await?;
    println!("created dataset {}", created.name);
    Ok(ExitCode::SUCCESS)
}

fn edit_in_editor(declaration: &NewDataset) -> anyhow::Result<NewDataset> {
    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
    let path = std::env::temp_dir().join(format!("cairn-{}.json", declaration.name));
    std::fs::write(&path, serde_json::to_string_pretty(declaration)?)?;
    let status = std::process::Command::new(&editor)
        .arg(&path)
        .status()
        .with_context(|| format!("running {editor}"))?;
    if !status.success() {
        bail!("{editor} exited with {status}; nothing created");
    }
    let text = std::fs::read_to_string(&path)?;
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).context("the edited declaration is not valid")
}
