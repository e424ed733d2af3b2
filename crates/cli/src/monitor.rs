//! `cairn monitor ENDPOINT` (what the monitor sees of an endpoint's prediction log), `cairn
//! report ENDPOINT -o FILE.html` (its report) and `cairn loop …` (its continuous-training loop).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use cairn_api::{LoopPolicy, LoopStatus};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use serde_json::{Map, Value, json};

use crate::output::print_json;
use crate::status::service_url;
use crate::table;

fn client(config: &CairnConfig) -> Client {
    Client::new(service_url(config, ServiceKind::Monitor))
}

fn shown(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{value:.4}"))
}

pub(crate) async fn show(config: &CairnConfig, endpoint: &str, json: bool) -> anyhow::Result<ExitCode> {
    let seen = client(config).endpoint_monitor(endpoint, 20).await?;
    if json {
        return print_json(&seen);
    }
    let mut rows = vec![
        ["VERSION", "WINDOW", "PREDICTIONS", "STARTED", "REFERENCE", "FEATURES"].map(str::to_owned).to_vec(),
    ];
    for open in &seen.open {
        rows.push(vec![
            format!("{}@{}", open.model, open.version),
            format!("#{} (open)", open.number),
            open.predictions.to_string(),
            open.started_at.map_or_else(|| "—".to_owned(), |at| at.to_string()),
            open.reference.clone().or_else(|| open.note.clone()).unwrap_or_else(|| "—".into()),
            open.features.join(", "),
        ]);
    }
    table::print(&rows);
    println!();
    let mut rows = vec![
        ["WINDOW", "ENDED", "PREDICTIONS", "DRIFTED", "SHARE", "VERDICT", "MOST DRIFTED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for window in &seen.windows {
        let most = window
            .features
            .iter()
            .filter(|feature| feature.drifted)
            .map(|feature| format!("{} {} {:.3}", feature.column, feature.method, feature.value))
            .next()
            .unwrap_or_default();
        rows.push(vec![
            window.id.clone(),
            window.ended_at.to_string(),
            window.predictions.to_string(),
            format!("{} of {}", window.drifted_features, window.features.len()),
            format!("{:.2}", window.share),
            if window.dataset_drift { "DRIFT".into() } else { "no drift".into() },
            most,
            window.prediction.as_ref().map_or_else(
                || "—".to_owned(),
                |drift| {
                    format!(
                        "{} {:.3}{}",
                        drift.method,
                        drift.value,
                        if drift.drifted { " DRIFT" } else { "" }
                    )
                },
            ),
        ]);
    }
    table::print(&rows);
    if !seen.performance.is_empty() {
        println!();
        let mut rows =
            vec![["WINDOW", "LABELLED", "METRIC", "LIVE", "HOLDOUT", "VERDICT"].map(str::to_owned).to_vec()];
        for window in &seen.performance {
            rows.push(vec![
                window.window_id.clone(),
                window.labelled.to_string(),
                window.metric.clone(),
                shown(window.live),
                shown(window.holdout),
                if window.degraded { "DEGRADED".into() } else { "holds".into() },
            ]);
        }
        table::print(&rows);
        let feedback = &seen.feedback;
        println!(
            "\nfeedback: {} rows in {} versions, {} joined, {} naming no logged request",
            feedback.rows, feedback.versions, feedback.matched, feedback.unknown
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn report(config: &CairnConfig, endpoint: &str, output: &Path) -> anyhow::Result<ExitCode> {
    let html = client(config).endpoint_report(endpoint).await?;
    std::fs::write(output, html).with_context(|| format!("writing {}", output.display()))?;
    println!("wrote {} — open it in a browser", output.display());
    Ok(ExitCode::SUCCESS)
}

/// The options of `cairn loop set`, only those given (the rest keep the policy's defaults).
#[derive(Debug, clap::Args)]
pub struct LoopOptions {
    /// The training pipeline that proposes challengers.
    #[arg(long)]
    pub pipeline: String,
    /// What starts a cycle: drift, degradation, new_data, schedule (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub on: Vec<String>,
    /// The dataset whose new versions start a cycle (with `new_data`).
    #[arg(long)]
    pub data: Option<String>,
    /// The period of `schedule`.
    #[arg(long)]
    pub every_secs: Option<u64>,
    /// The alias the endpoint follows and a promotion moves.
    #[arg(long)]
    pub alias: Option<String>,
    /// The challenger's share while it is a canary: 10% or 0.1.
    #[arg(long)]
    pub canary: Option<String>,
    /// Predictions the canary answers before it is judged (500).
    #[arg(long)]
    pub canary_predictions: Option<u64>,
    /// Labels each side needs before live metrics are compared (0: not compared).
    #[arg(long)]
    pub canary_labels: Option<u64>,
    /// How long the canary may take to be judged before it is rolled back (3600).
    #[arg(long)]
    pub canary_max_secs: Option<u64>,
    /// How far (relative) the canary's live metric may fall behind the champion's (0.02).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// The share of the canary's requests that may fail (0.01).
    #[arg(long)]
    pub max_error_rate: Option<f64>,
    /// No cycle starts this long after one ended (3600).
    #[arg(long)]
    pub cooldown_secs: Option<u64>,
    /// Promotion waits for an approver.
    #[arg(long)]
    pub approval: bool,
}

fn policy(options: LoopOptions) -> anyhow::Result<LoopPolicy> {
    let mut given = Map::new();
    given.insert("pipeline".into(), json!(options.pipeline));
    if !options.on.is_empty() {
        given.insert("on".into(), json!(options.on));
    }
    if let Some(canary) = options.canary {
        let weight = match canary.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|percent| percent / 100.0),
            None => canary.trim().parse::<f64>(),
        }
        .with_context(|| format!("--canary {canary}: give a share, 10% or 0.1"))?;
        given.insert("canary_weight".into(), json!(weight));
    }
    for (key, value) in [
        ("data", options.data.map(Value::from)),
        ("every_secs", options.every_secs.map(Value::from)),
        ("alias", options.alias.map(Value::from)),
        ("canary_predictions", options.canary_predictions.map(Value::from)),
        ("canary_labels", options.canary_labels.map(Value::from)),
        ("canary_max_secs", options.canary_max_secs.map(Value::from)),
        ("tolerance", options.tolerance.map(Value::from)),
        ("max_error_rate", options.max_error_rate.map(Value::from)),
        ("cooldown_secs", options.cooldown_secs.map(Value::from)),
    ] {
        if let Some(value) = value {
            given.insert(key.into(), value);
        }
    }
    given.insert("approval".into(), json!(options.approval));
    Ok(serde_json::from_value(Value::Object(given))?)
}

fn print_status(status: &LoopStatus) {
    let policy = &status.policy;
    let rows = vec![
        vec!["endpoint".to_owned(), status.endpoint.clone()],
        vec!["pipeline".into(), policy.pipeline.clone()],
        vec!["on".into(), policy.on.join(", ")],
        vec![
            "canary".into(),
            format!(
                "{:.0} % until {} predictions{}, at most {} s",
                policy.canary_weight * 100.0,
                policy.canary_predictions,
                if policy.canary_labels > 0 {
                    format!(" and {} labels a side", policy.canary_labels)
                } else {
                    String::new()
                },
                policy.canary_max_secs
            ),
        ],
        vec![
            "promotion".into(),
            format!("moves `{}`{}", policy.alias, if policy.approval { " after an approval" } else { "" }),
        ],
        vec!["cool-down".into(), format!("{} s", policy.cooldown_secs)],
        vec!["phase".into(), format!("{} (cycle {}, since {})", status.phase, status.cycle, status.since)],
        vec!["signal".into(), status.signal.clone().unwrap_or_else(|| "—".into())],
        vec![
            "versions".into(),
            match (&status.model, status.champion, status.challenger) {
                (Some(model), champion, challenger) => format!(
                    "{model}: champion {}, challenger {}",
                    champion.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                    challenger.map_or_else(|| "—".to_owned(), |v| v.to_string())
                ),
                _ => "—".into(),
            },
        ],
        vec![
            "cooling down until".into(),
            status.cooldown_until.map_or_else(|| "—".to_owned(), |at| at.to_string()),
        ],
    ];
    table::print(&rows);
}

pub(crate) async fn set_loop(
    config: &CairnConfig,
    endpoint: &str,
    options: LoopOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let status = client(config).put_loop(endpoint, &policy(options)?).await?;
    if json {
        return print_json(&status);
    }
    print_status(&status);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show_loop(config: &CairnConfig, endpoint: &str, json: bool) -> anyhow::Result<ExitCode> {
    let status = client(config).loop_status(endpoint).await?;
    if json {
        return print_json(&status);
    }
    print_status(&status);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list_loops(config: &CairnConfig, json: bool) -> anyhow::Result<ExitCode> {
    let loops = client(config).loops().await?;
    if json {
        return print_json(&loops);
    }
    let mut rows =
        vec![["ENDPOINT", "PIPELINE", "ON", "PHASE", "CYCLE", "SINCE"].map(str::to_owned).to_vec()];
    for status in &loops {
        rows.push(vec![
            status.endpoint.clone(),
            status.policy.pipeline.clone(),
            status.policy.on.join(","),
            status.phase.clone(),
            status.cycle.to_string(),
            status.since.to_string(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn history(
    config: &CairnConfig,
    endpoint: &str,
    limit: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let events = client(config).loop_history(endpoint, limit).await?;
    if json {
        return print_json(&events);
    }
    let mut rows = vec![["AT", "CYCLE", "STEP", "WHAT AND WHY"].map(str::to_owned).to_vec()];
    for event in &events {
        rows.push(vec![
            event.at.to_string(),
            event.cycle.to_string(),
            event.step.to_uppercase(),
            event.detail.clone(),
        ]);
    }
    table::print(&rows);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn delete_loop(config: &CairnConfig, endpoint: &str) -> anyhow::Result<ExitCode> {
    client(config).delete_loop(endpoint).await?;
    println!("endpoint `{endpoint}` has no loop any more (its history stays)");
    Ok(ExitCode::SUCCESS)
}
