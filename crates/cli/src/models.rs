//! `cairn models …`: registered models, a version's lineage and card, alias history, the audit
//! log, and which models were trained on a dataset version.

use std::process::ExitCode;

use anyhow::Context as _;
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::{ServiceKind, Timestamp};

use crate::output::print_json;
use crate::status::service_url;
use crate::table;

/// The registry's client, authenticated as `CAIRN_USER` with `CAIRN_TOKEN` when they are set.
pub(crate) fn client(config: &CairnConfig) -> Client {
    let client = Client::new(service_url(config, ServiceKind::Registry));
    match (std::env::var("CAIRN_USER"), std::env::var("CAIRN_TOKEN")) {
        (Ok(user), Ok(token)) => client.with_credentials(user, token),
        (Ok(user), Err(_)) => client.with_credentials(user, ""),
        _ => client,
    }
}

pub(crate) fn or_dash(text: Option<&str>) -> String {
    text.filter(|t| !t.is_empty()).unwrap_or("—").to_owned()
}

pub(crate) async fn list(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let models = client(config).models().await?;
    if json {
        return print_json(&models);
    }
    let mut rows =
        vec![vec!["NAME".to_owned(), "VERSIONS".into(), "LATEST".into(), "ALIASES".into(), "UPDATED".into()]];
    for model in &models {
        let aliases: Vec<String> = model.aliases.iter().map(|(alias, v)| format!("{alias}→{v}")).collect();
        rows.push(vec![
            model.name.clone(),
            model.versions.len().to_string(),
            model.versions.first().map_or_else(|| "—".into(), |v| v.version.to_string()),
            or_dash(Some(&aliases.join(", "))),
            model.updated_at.to_string(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let model = client(config).model(name).await?;
    if json {
        return print_json(&model);
    }
    println!(
        "{}{}",
        model.name,
        if model.description.is_empty() { String::new() } else { format!(": {}", model.description) }
    );
    println!();
    let mut rows = vec![vec![
        "VERSION".to_owned(),
        "STAGE".into(),
        "ALIASES".into(),
        "RUN".into(),
        "CREATED".into(),
        "BY".into(),
    ]];
    for v in &model.versions {
        rows.push(vec![
            v.version.to_string(),
            v.stage.clone(),
            or_dash(Some(&v.aliases.join(", "))),
            or_dash(v.run_id.as_deref()),
            v.created_at.to_string(),
            v.created_by.clone(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn version(
    config: &CairnConfig,
    name: &str,
    version: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let v = client(config).model_version(name, version).await?;
    if json {
        return print_json(&v);
    }
    let lineage = &v.lineage;
    let datasets: Vec<String> =
        lineage.datasets.iter().map(|d| format!("{}@{}", d.dataset, d.version)).collect();
    let rows = vec![
        vec!["model".to_owned(), format!("{} version {}", v.name, v.version)],
        vec!["stage".into(), v.stage.clone()],
        vec!["aliases".into(), or_dash(Some(&v.aliases.join(", ")))],
        vec!["registered".into(), format!("{} by {}", v.created_at, v.created_by)],
        vec!["source".into(), v.source.clone()],
        vec!["files".into(), v.storage_location.clone()],
        vec!["run".into(), or_dash(lineage.run_id.as_deref())],
        vec!["experiment".into(), or_dash(lineage.experiment.as_deref())],
        vec!["code version".into(), or_dash(lineage.code_version.as_deref())],
        vec!["datasets".into(), or_dash(Some(&datasets.join(", ")))],
        vec!["feature service".into(), or_dash(lineage.feature_service.as_deref())],
    ];
    table::print(&rows);
    if !lineage.metrics.is_empty() {
        println!();
        let mut metrics = vec![vec!["METRIC".to_owned(), "VALUE".into()]];
        metrics.extend(lineage.metrics.iter().map(|(k, value)| vec![k.clone(), value.to_string()]));
        table::print(&metrics);
    }
    if let Some(signature) = &v.signature {
        println!();
        let mut tensors = vec![vec!["SIGNATURE".to_owned(), "NAME".into(), "TYPE".into(), "SHAPE".into()]];
        for (side, list) in [("input", &signature.inputs), ("output", &signature.outputs)] {
            tensors.extend(
                list.iter().map(|t| vec![side.to_owned(), t.name.clone(), t.r#type.clone(), t.shape_text()]),
            );
        }
        table::print(&tensors);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn card(
    config: &CairnConfig,
    name: &str,
    version: i64,
    html: bool,
) -> anyhow::Result<ExitCode> {
    let card = client(config).model_card(name, version, if html { "html" } else { "markdown" }).await?;
    print!("{card}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn alias(
    config: &CairnConfig,
    name: &str,
    alias: &str,
    at: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let at = at
        .map(|text| {
            Timestamp::parse_rfc3339(text).with_context(|| format!("`{text}` is not an RFC 3339 time"))
        })
        .transpose()?;
    let found = client(config).alias_at(name, alias, at).await?;
    if json {
        return print_json(&found);
    }
    match found.version {
        Some(version) => println!("{name}@{alias} was version {version} at {}", found.at),
        None => println!("{name}@{alias} pointed at no version at {}", found.at),
    }
    println!();
    let mut rows = vec![vec!["CHANGED".to_owned(), "VERSION".into(), "BY".into()]];
    for m in &found.history {
        rows.push(vec![
            m.changed_at.to_string(),
            m.version.map_or_else(|| "removed".into(), |v| v.to_string()),
            m.changed_by.clone(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn audit(
    config: &CairnConfig,
    entity: Option<&str>,
    limit: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let entries = client(config).audit(entity, 0, limit).await?;
    if json {
        return print_json(&entries);
    }
    let mut rows =
        vec![vec!["SEQ".to_owned(), "AT".into(), "ACTOR".into(), "ACTION".into(), "ENTITY".into()]];
    for e in &entries {
        rows.push(vec![
            e.seq.to_string(),
            e.at.to_string(),
            e.actor.clone(),
            e.action.clone(),
            e.entity.clone(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn trained_on(
    config: &CairnConfig,
    dataset: &str,
    version: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let models = client(config).trained_on(dataset, version).await?;
    if json {
        return print_json(&models);
    }
    let mut rows = vec![vec!["MODEL".to_owned(), "VERSION".into(), "RUN".into()]];
    rows.extend(models.iter().map(|m| vec![m.model.clone(), m.version.to_string(), m.run_id.clone()]));
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn protect(
    config: &CairnConfig,
    name: &str,
    alias: &str,
    protected: bool,
) -> anyhow::Result<ExitCode> {
    client(config).protect_alias(name, alias, protected).await?;
    println!("{name}@{alias} is {}protected", if protected { "" } else { "no longer " });
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn request(
    config: &CairnConfig,
    name: &str,
    alias: &str,
    version: i64,
    reason: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let request = client(config)
        .request_alias_move(name, alias, &cairn_api::NewAliasRequest { version, reason })
        .await?;
    if json {
        return print_json(&request);
    }
    println!("requested {name}@{alias} → version {version}: request {} awaits an approver", request.id);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn approvals(
    config: &CairnConfig,
    state: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let requests = client(config).approvals(state).await?;
    if json {
        return print_json(&requests);
    }
    let mut rows = vec![vec![
        "ID".to_owned(),
        "MODEL".into(),
        "ALIAS".into(),
        "VERSION".into(),
        "BY".into(),
        "STATE".into(),
        "DECIDED BY".into(),
    ]];
    for r in &requests {
        rows.push(vec![
            r.id.clone(),
            r.model.clone(),
            r.alias.clone(),
            r.version.to_string(),
            r.requested_by.clone(),
            r.state.clone(),
            or_dash(r.decided_by.as_deref()),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn decide(
    config: &CairnConfig,
    id: &str,
    approve: bool,
    reason: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let decided = client(config).decide(id, approve, &cairn_api::Decision { reason }).await?;
    if json {
        return print_json(&decided);
    }
    println!(
        "request {id} {}: {}@{} → version {}",
        decided.state, decided.model, decided.alias, decided.version
    );
    Ok(ExitCode::SUCCESS)
}
