//! The evaluation step: the best trial's model scored by the platform on the holdout it kept,
//! through the runtime serving uses, and held to the spec's gates — thresholds, and beating the
//! version an alias points at on the same rows. A gate that fails ends the run, saying which and
//! by how much; nothing is registered and no alias moves.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use cairn_api::{Gate, GateResult, RunState};
use cairn_runtime::{Model, SessionOptions};

use super::{Orchestrator, Services, StepError};
use crate::evaluate::{self, Measured};
use crate::runs::{Prepared, RunRecord};

pub async fn run(orchestrator: &Orchestrator, id: &str) -> Result<(), StepError> {
    let services = &orchestrator.services;
    let record = orchestrator.runs.get(id).await?;
    let (data, model) = candidate(services, &record).await?;
    let holdout = read_rows(services, &data.holdout).await?;
    let measured =
        measure(services, model, holdout.clone(), &record, &data).await?.map_err(StepError::Failed)?;
    let mut results = Vec::new();
    for gate in &record.spec.evaluation.gates {
        results.push(judge(services, &record, &data, &holdout, &measured, gate).await?);
    }
    let wanted = &record.spec.evaluation.metrics;
    let metrics: BTreeMap<String, f64> = measured
        .metrics
        .iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.contains(name))
        .map(|(name, value)| (name.clone(), *value))
        .collect();
    orchestrator
        .runs
        .update(id, |record| {
            let summary: Vec<String> =
                metrics.iter().map(|(name, value)| format!("{name} {value:.6}")).collect();
            record.log(format!("holdout: {}", summary.join(", ")));
            record.run.metrics = metrics;
            record.report = Some(measured.report);
            let failed: Vec<String> =
                results.iter().filter(|result| !result.passed).map(|result| result.detail.clone()).collect();
            for result in &results {
                record.log(format!(
                    "gate {}: {}",
                    if result.passed { "passed" } else { "failed" },
                    result.detail
                ));
            }
            record.run.gates = results;
            if failed.is_empty() {
                record.enter(RunState::Registering);
            } else {
                record.fail(format!("gate failed: {}", failed.join("; ")));
            }
        })
        .await?;
    Ok(())
}

/// The run's data and its best trial's model file.
pub async fn candidate(
    services: &Services,
    record: &RunRecord,
) -> Result<(Prepared, bytes::Bytes), StepError> {
    let data =
        record.data.clone().ok_or_else(|| StepError::Failed("the run's data is not prepared".into()))?;
    let best = record.run.best_trial.ok_or_else(|| StepError::Failed("no trial was chosen".into()))?;
    let path = record
        .run
        .trials
        .iter()
        .zip(&record.work)
        .find(|(trial, _)| trial.number == best)
        .and_then(|(_, work)| work.model_path.clone())
        .ok_or_else(|| StepError::Failed(format!("trial {best} has no model")))?;
    Ok((data, services.read(&path).await?))
}

/// A Parquet file of the run's, whole.
pub async fn read_rows(services: &Services, path: &str) -> Result<RecordBatch, StepError> {
    let batches = services
        .store
        .read_batches(path)
        .await
        .map_err(|error| StepError::Retry(format!("reading {path}: {error}")))?;
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .ok_or_else(|| StepError::Failed(format!("{path} holds no rows")))?;
    arrow_select::concat::concat_batches(&schema, &batches)
        .map_err(|error| StepError::Failed(error.to_string()))
}

/// The metrics of `model` on `rows` (off the async threads: a large holdout takes a while).
async fn measure(
    services: &Services,
    model: bytes::Bytes,
    rows: RecordBatch,
    record: &RunRecord,
    data: &Prepared,
) -> Result<Result<Measured, String>, StepError> {
    let runtime = services.runtime.clone();
    let (task, data) = (record.spec.trainer.task, data.clone());
    tokio::task::spawn_blocking(move || {
        let model =
            Model::load(&runtime, &model, &SessionOptions::default()).map_err(|error| error.to_string())?;
        let predictions = evaluate::predict(&model, &rows, &data.features, task, &data.classes)?;
        evaluate::measure(&rows, &data.label, task, &data.classes, &predictions)
    })
    .await
    .map_err(|error| StepError::Failed(error.to_string()))
}

async fn judge(
    services: &Services,
    record: &RunRecord,
    data: &Prepared,
    holdout: &RecordBatch,
    measured: &Measured,
    gate: &Gate,
) -> Result<GateResult, StepError> {
    let metric = gate.metric();
    let value = measured.metrics.get(metric).copied();
    let higher = evaluate::higher_is_better(metric);
    let result = |passed: bool, required: Option<f64>, detail: String| GateResult {
        gate: gate.clone(),
        passed,
        value,
        required,
        detail,
    };
    let Some(value) = value else {
        return Ok(result(false, None, format!("{metric} is undefined on the holdout")));
    };
    Ok(match gate {
        Gate::Threshold { min, max, .. } => {
            if let Some(min) = min.filter(|&min| value < min) {
                result(false, Some(min), format!("{metric} {value:.6} < {min} (short by {:.6})", min - value))
            } else if let Some(max) = max.filter(|&max| value > max) {
                result(false, Some(max), format!("{metric} {value:.6} > {max} (over by {:.6})", value - max))
            } else {
                let bound = min.or(*max);
                result(true, bound, format!("{metric} {value:.6} within [{}, {}]", text(*min), text(*max)))
            }
        }
        Gate::Beat { alias, by, .. } => {
            let model = &record.spec.registration.model;
            let Some(version) = alias_version(services, model, alias).await? else {
                return Ok(result(
                    true,
                    None,
                    format!("no version of `{model}` is `{alias}` yet: nothing to beat"),
                ));
            };
            let found = services.registry.model_version(model, version).await?;
            let Some(file) = found.model_file else {
                return Ok(result(
                    false,
                    None,
                    format!("`{model}` v{version} (`{alias}`) has no model file to compare with"),
                ));
            };
            let bytes = services.registry.artifact(&file.path).await?;
            let theirs = match measure(services, bytes, holdout.clone(), record, data).await? {
                Ok(measured) => measured.metrics.get(metric).copied(),
                Err(error) => {
                    return Ok(result(
                        false,
                        None,
                        format!("`{alias}` (v{version}) cannot score the holdout: {error}"),
                    ));
                }
            };
            let Some(theirs) = theirs else {
                return Ok(result(
                    false,
                    None,
                    format!("`{alias}` (v{version}): {metric} is undefined on the holdout"),
                ));
            };
            let required = if higher { theirs + by } else { theirs - by };
            let passed = if higher { value >= required } else { value <= required };
            let margin = if higher { value - theirs } else { theirs - value };
            result(
                passed,
                Some(required),
                format!(
                    "{metric} {value:.6} against `{alias}` (v{version}) {theirs:.6}: better by {margin:.6}, {by} required"
                ),
            )
        }
    })
}

async fn alias_version(services: &Services, model: &str, alias: &str) -> Result<Option<i64>, StepError> {
    match services.registry.model(model).await {
        Ok(found) => Ok(found.aliases.get(alias).copied()),
        Err(error) if matches!(&error, cairn_client::ClientError::Api { status: 404, .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn text(bound: Option<f64>) -> String {
    bound.map_or_else(|| "-".to_owned(), |bound| bound.to_string())
}
