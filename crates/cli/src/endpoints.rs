//! `cairn deploy` and `cairn endpoints …`: what the serving service serves, by endpoint name.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cairn_api::{Canary, Endpoint, EndpointSpec};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;

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

/// What `cairn deploy` is asked to do.
#[derive(Debug)]
pub(crate) struct Deploy<'a> {
    pub target: &'a str,
    pub endpoint: Option<&'a str>,
    pub canary: Option<&'a str>,
    pub shadow: Option<i64>,
}

pub(crate) async fn deploy(config: &CairnConfig, deploy: Deploy<'_>, json: bool) -> anyhow::Result<ExitCode> {
    let Deploy { target, endpoint, canary: canary_text, shadow } = deploy;
    let mut spec = spec(target)?;
    spec.canary = canary_text.map(canary).transpose()?;
    spec.shadow = shadow;
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
