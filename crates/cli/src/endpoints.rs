//! `cairn deploy` and `cairn endpoints …`: what the serving service serves, by endpoint name; and
//! `cairn score`, its batch scoring.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cairn_api::{Canary, Endpoint, EndpointSpec, ScoringRequest, StreamScoring};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::{Name, ServiceKind};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Rollout;
use crate::models::or_dash;
use crate::output::print_json;
use crate::status::service_url;
use crate::table;

fn client(config: &CairnConfig) -> Client {
    Client::new(service_url(config, ServiceKind::Serving))
}

/// `V:10%` (or `V:0.1`): version V answers that share of requests.
fn canary(text: &str) -> anyhow::Result<Canary> {
    let parsed = text.split_once(':').and_then(|(version, share)| {
        let version = version.parse::<i64>().ok()?;
        let weight = match share.strip_suffix('%') {
            Some(percent) => percent.parse::<f64>().ok()? / 100.0,
            None => share.parse::<f64>().ok()?,
        };
        Some(Canary { version, weight })
    });
    parsed.with_context(|| format!("--canary `{text}`: give VERSION:PERCENT, e.g. 3:10%"))
}

/// `MODEL@ALIAS` or `MODEL@VERSION` as an endpoint's spec.
pub(crate) fn spec(target: &str) -> anyhow::Result<EndpointSpec> {
    let Some((model, at)) = target.rsplit_once('@') else {
        bail!("`{target}`: give MODEL@ALIAS (follows the alias) or MODEL@VERSION");
    };
    if model.is_empty() || at.is_empty() {
        bail!("`{target}`: give MODEL@ALIAS or MODEL@VERSION");
    }
    Ok(match at.parse::<i64>() {
        Ok(version) => EndpointSpec::version(model, version),
        Err(_) => EndpointSpec::alias(model, at),
    })
}

/// `cairn deploy` (and `cairn endpoints set`): `target` on the endpoint `endpoint` (the model's
/// name by default), with `rollout`.
pub(crate) async fn deploy(
    config: &CairnConfig,
    target: &str,
    endpoint: Option<&str>,
    rollout: &Rollout,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut spec = spec(target)?;
    spec.canary = rollout.canary.as_deref().map(canary).transpose()?;
    spec.shadow = rollout.shadow;
    spec.stream = match (&rollout.stream_input, &rollout.stream_output) {
        (Some(input), Some(output)) => Some(StreamScoring {
            input: input.clone(),
            output: output.clone(),
            entity_keys: rollout.entity_keys,
        }),
        _ => None,
    };
    let name = endpoint.unwrap_or(&spec.model).to_owned();
    let deployed =
        client(config).put_endpoint(&name, &spec).await.with_context(|| format!("deploying {target}"))?;
    if json {
        return print_json(&deployed);
    }
    print_one(&deployed);
    Ok(if deployed.state == "ready" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub(crate) async fn list(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let endpoints = client(config).endpoints().await?;
    if json {
        return print_json(&endpoints);
    }
    let mut rows = vec![vec![
        "ENDPOINT".to_owned(),
        "MODEL".into(),
        "FOLLOWS".into(),
        "SERVING".into(),
        "STATE".into(),
        "UPDATED".into(),
    ]];
    for endpoint in &endpoints {
        rows.push(vec![
            endpoint.name.clone(),
            endpoint.spec.model.clone(),
            follows(&endpoint.spec),
            endpoint.serving.map_or_else(|| "—".to_owned(), |v| v.to_string()),
            endpoint.state.clone(),
            endpoint.updated_at.to_string(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(config: &CairnConfig, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let endpoint = client(config).endpoint(name).await?;
    if json {
        return print_json(&endpoint);
    }
    print_one(&endpoint);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn delete(config: &CairnConfig, name: &str) -> anyhow::Result<ExitCode> {
    client(config).delete_endpoint(name).await?;
    println!("deleted endpoint {name}");
    Ok(ExitCode::SUCCESS)
}

fn follows(spec: &EndpointSpec) -> String {
    let mut text = match (&spec.alias, spec.version) {
        (Some(alias), _) => format!("@{alias}"),
        (None, Some(version)) => format!("version {version}"),
        (None, None) => "—".to_owned(),
    };
    if let Some(canary) = &spec.canary {
        text.push_str(&format!(", canary {} at {}%", canary.version, canary.weight * 100.0));
    }
    if let Some(shadow) = spec.shadow {
        text.push_str(&format!(", shadow {shadow}"));
    }
    if let Some(stream) = &spec.stream {
        let records = if stream.entity_keys { "entity keys" } else { "records" };
        text.push_str(&format!(", {records} on {} → {}", stream.input, stream.output));
    }
    text
}

fn print_one(endpoint: &Endpoint) {
    table::print(&[
        vec!["endpoint".to_owned(), endpoint.name.clone()],
        vec!["model".to_owned(), endpoint.spec.model.clone()],
        vec!["follows".to_owned(), follows(&endpoint.spec)],
        vec!["serving".to_owned(), endpoint.serving.map_or_else(|| "—".to_owned(), |v| v.to_string())],
        vec!["state".to_owned(), endpoint.state.clone()],
        vec!["error".to_owned(), or_dash(endpoint.error.as_deref())],
        vec!["updated".to_owned(), endpoint.updated_at.to_string()],
    ]);
}

/// `cairn score`: starts a scoring job and follows it to the version that holds the predictions.
pub(crate) async fn score(
    config: &CairnConfig,
    target: &str,
    dataset: &str,
    output: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let model = spec(target)?;
    let (dataset, dataset_version) = crate::features::dataset_ref(dataset)?;
    let name = |name: &str| Name::parse(name).map_err(|error| anyhow::anyhow!("`{name}`: {error}"));
    let request = ScoringRequest {
        model: model.model,
        alias: model.alias,
        version: model.version,
        dataset: name(&dataset)?,
        dataset_version,
        output: output.map(name).transpose()?,
    };
    let serving = client(config);
    let mut job =
        serving.score(&request).await.with_context(|| format!("scoring {dataset} with {target}"))?;
    let progress = if json { ProgressBar::hidden() } else { ProgressBar::new(job.rows) };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    progress.set_message(format!(
        "{}@{} scoring {}@{}",
        job.model, job.version, job.dataset, job.dataset_version
    ));
    progress.enable_steady_tick(Duration::from_millis(120));
    while !job.finished() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        job = serving.scoring_job(&job.id).await?;
        progress.set_position(job.rows_scored);
        if job.state == "written" {
            progress.set_message(format!("waiting for ingestion to add the rows to {}", job.output));
        }
    }
    progress.finish_and_clear();
    if json {
        print_json(&job)?;
    } else {
        table::print(&[
            vec![
                "SCORED".to_owned(),
                format!("{}@{}", job.output, or_dash(job.output_version.map(|v| v.to_string()).as_deref())),
            ],
            vec!["rows".to_owned(), job.rows_scored.to_string()],
            vec!["model".to_owned(), format!("{}@{}", job.model, job.version)],
            vec!["input".to_owned(), format!("{}@{}", job.dataset, job.dataset_version)],
            vec!["job".to_owned(), job.id.clone()],
            vec!["state".to_owned(), job.state.clone()],
            vec!["error".to_owned(), or_dash(job.error.as_deref())],
        ]);
    }
    Ok(if job.state == "succeeded" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
