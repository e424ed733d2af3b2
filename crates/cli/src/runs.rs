//! `cairn runs …`: an experiment's runs and one run with its data, code and the model versions
//! registered from it.

use std::process::ExitCode;

use cairn_client::RunQuery;
use cairn_config::CairnConfig;

use crate::models::{client, or_dash};
use crate::output::print_json;
use crate::table;

pub(crate) async fn list(
    config: &CairnConfig,
    experiment: &str,
    filter: Option<String>,
    order_by: Option<String>,
    max_results: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let query = RunQuery { filter, order_by, max_results: Some(max_results), page_token: None };
    let page = client(config).runs(experiment, &query).await?;
    if json {
        return print_json(&page);
    }
    // The metrics any run on the page has, as columns.
    let mut keys: Vec<&String> = page.runs.iter().flat_map(|run| run.metrics.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut header = vec!["RUN".to_owned(), "NAME".into(), "STATUS".into(), "STARTED".into()];
    header.extend(keys.iter().map(|key| key.to_uppercase()));
    header.push("MODELS".into());
    let mut rows = vec![header];
    for run in &page.runs {
        let mut row =
            vec![run.run_id.clone(), run.name.clone(), run.status.clone(), run.started_at.to_string()];
        row.extend(
            keys.iter().map(|key| run.metrics.get(*key).map_or_else(|| "—".into(), ToString::to_string)),
        );
        let models: Vec<String> = run.models.iter().map(|m| format!("{} v{}", m.model, m.version)).collect();
        row.push(or_dash(Some(&models.join(", "))));
        rows.push(row);
    }
    table::print(&rows);
    if page.next_page_token.is_some() {
        println!("(more runs: raise --max-results or narrow --filter)");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn show(config: &CairnConfig, run_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let run = client(config).run(run_id).await?;
    if json {
        return print_json(&run);
    }
    let datasets: Vec<String> = run.datasets.iter().map(|d| format!("{}@{}", d.dataset, d.version)).collect();
    let models: Vec<String> =
        run.models.iter().map(|m| format!("{} version {}", m.model, m.version)).collect();
    table::print(&[
        vec!["run".to_owned(), format!("{} ({})", run.name, run.run_id)],
        vec!["experiment".into(), run.experiment.clone()],
        vec!["status".into(), run.status.clone()],
        vec!["user".into(), or_dash(Some(&run.user))],
        vec!["started".into(), run.started_at.to_string()],
        vec!["ended".into(), run.ended_at.map_or_else(|| "—".into(), |t| t.to_string())],
        vec!["code version".into(), or_dash(run.code_version.as_deref())],
        vec!["datasets".into(), or_dash(Some(&datasets.join(", ")))],
        vec!["feature service".into(), or_dash(run.feature_service.as_deref())],
        vec!["models".into(), or_dash(Some(&models.join(", ")))],
    ]);
    for (title, items) in [
        ("PARAM", run.params.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>()),
        ("METRIC", run.metrics.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect()),
        ("TAG", run.tags.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect()),
    ] {
        if !items.is_empty() {
            println!();
            let mut rows = vec![vec![title.to_owned(), "VALUE".into()]];
            rows.extend(items);
            table::print(&rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}
