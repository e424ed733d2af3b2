//! Runs as Cairn's own API shows them: their data, code and datasets, with the model versions
//! registered from each — one statement for those however many runs a page holds.

use cairn_api::{Run, RunPage, TrainedModel};
use cairn_db::Database;

use super::registered::by_model;
use super::{ModelError, lineage_of, registered_from, timestamp};
use crate::tracking::{self, RunSearch};

/// A page of one experiment's runs, filtered and ordered in MLflow's grammar.
#[derive(Debug, Clone, Default)]
pub struct ExperimentRuns {
    /// The experiment's name.
    pub experiment: String,
    /// MLflow's filter grammar; empty for every run.
    pub filter: String,
    /// One ordering (`metrics.auc DESC`); newest first when absent.
    pub order_by: Option<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

pub async fn runs_with_models(db: &Database, query: ExperimentRuns) -> Result<RunPage, ModelError> {
    let experiment = tracking::experiment_by_name(db, query.experiment).await?;
    let search = RunSearch {
        experiment_ids: vec![experiment.id.to_string()],
        filter: query.filter,
        max_results: query.max_results,
        order_by: query.order_by.into_iter().collect(),
        page_token: query.page_token,
        ..RunSearch::default()
    };
    let page = tracking::search_runs(db, search).await?;
    let registered = registered_from(db, page.items.iter().map(|r| r.info.run_id.clone()).collect()).await?;
    let mut registered = by_model(registered.into_iter().map(|model| (model.run_id.clone(), model)));
    let runs = page
        .items
        .into_iter()
        .map(|run| {
            let models = registered.remove(&run.info.run_id).unwrap_or_default();
            view(run, &experiment.name, models)
        })
        .collect::<Result<_, _>>()?;
    Ok(RunPage { runs, next_page_token: page.next_page_token })
}

pub async fn run_with_models(db: &Database, run_id: String) -> Result<Run, ModelError> {
    let run = tracking::run(db, run_id).await?;
    let experiment = tracking::experiment(db, &run.info.experiment_id.to_string()).await?;
    let models = registered_from(db, vec![run.info.run_id.clone()]).await?;
    view(run, &experiment.name, models)
}

/// `run` as the API shows it, with `models`, the versions registered from it.
fn view(run: tracking::Run, experiment: &str, models: Vec<TrainedModel>) -> Result<Run, ModelError> {
    let lineage = lineage_of(&run, Some(experiment.to_owned()));
    let info = run.info;
    Ok(Run {
        code_version: lineage.code_version,
        feature_service: lineage.feature_service,
        datasets: lineage.datasets,
        params: lineage.params,
        metrics: lineage.metrics,
        models,
        name: info.name,
        experiment: experiment.to_owned(),
        status: info.status.as_str().to_owned(),
        user: info.user_id,
        started_at: timestamp(info.start_time)?,
        ended_at: info.end_time.map(timestamp).transpose()?,
        tags: run.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        run_id: info.run_id,
    })
}
