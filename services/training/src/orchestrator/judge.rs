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
    let candidate = evaluate_candidate(services, model, holdout.clone(), &record, &data).await?;
    let mut results = Vec::new();
    for gate in &record.spec.evaluation.gates {
        results.push(judge(services, &record, &data, &holdout, &candidate, gate).await?);
    }
    let wanted = &record.spec.evaluation.metrics;
    let metrics: BTreeMap<String, f64> = candidate
        .measured
        .metrics
        .iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.contains(name))
        .map(|(name, value)| (name.clone(), *value))
        .collect();
    let mut report = candidate.measured.report;
    report["rows"] = serde_json::json!(holdout.num_rows());
    report["metrics"] = serde_json::json!(metrics);
    report["importance"] = serde_json::json!(candidate.importance);
    if !candidate.slices.is_empty() {
        let slices: Vec<serde_json::Value> = candidate
            .slices
            .into_iter()
            .map(
                |(column, (gap, groups))| serde_json::json!({"column": column, "gap": gap, "groups": groups}),
            )
            .collect();
        report["slices"] = serde_json::json!(slices);
    }
    orchestrator
        .runs
        .update(id, |record| {
            let summary: Vec<String> =
                metrics.iter().map(|(name, value)| format!("{name} {value:.6}")).collect();
            record.log(format!("holdout: {}", summary.join(", ")));
            record.run.metrics = metrics;
            record.report = Some(report);
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

/// What the gates need to know of the candidate, and what its report shows.
struct Candidate {
    measured: Measured,
    /// Permutation importance on the holdout, most important first.
    importance: Vec<(String, f64)>,
    /// Per slice gate's column and metric: the widest gap and every group's metrics.
    slices: BTreeMap<String, (Option<cairn_metrics::Gap>, serde_json::Value)>,
    /// The p99 of one-row predictions, when a serving gate asks.
    p99_ms: Option<f64>,
    bytes: usize,
}

/// Rows timed one at a time for a serving gate.
const TIMED_ROWS: usize = 500;

/// The candidate measured on the holdout, off the async threads (a large holdout takes a while).
async fn evaluate_candidate(
    services: &Services,
    model: bytes::Bytes,
    rows: RecordBatch,
    record: &RunRecord,
    data: &Prepared,
) -> Result<Candidate, StepError> {
    let runtime = services.runtime.clone();
    let (task, data, gates) = (record.spec.trainer.task, data.clone(), record.spec.evaluation.gates.clone());
    let objective = record
        .run
        .objective
        .as_ref()
        .map_or_else(|| evaluate::default_objective(task).to_owned(), |objective| objective.metric.clone());
    tokio::task::spawn_blocking(move || {
        let (size, bytes) = (model.len(), model);
        let model =
            Model::load(&runtime, &bytes, &evaluate::session_options()).map_err(|error| error.to_string())?;
        let predictions = evaluate::predict(&model, &rows, &data.features, task, &data.classes)?;
        let measured = evaluate::measure(&rows, &data.label, task, &data.classes, &predictions)?;
        let importance = evaluate::permutation_importance(
            &model,
            &rows,
            (&data.features, &data.label, task, &data.classes),
            &objective,
        )?;
        let mut slices = BTreeMap::new();
        let mut p99_ms = None;
        for gate in &gates {
            match gate {
                Gate::Slice { metric, column, min_rows, .. } => {
                    let gap = evaluate::slice_gap(
                        &rows,
                        (&data.label, task, &data.classes),
                        &predictions,
                        (column, metric, *min_rows),
                    )?;
                    slices.insert(column.clone(), gap);
                }
                Gate::Serving { p99_ms: Some(_), .. } if p99_ms.is_none() => {
                    // Timed as serving runs it: one thread a run.
                    let serving = Model::load(&runtime, &bytes, &SessionOptions::default())
                        .map_err(|error| error.to_string())?;
                    p99_ms = Some(evaluate::one_row_p99_ms(&serving, &rows, &data.features, TIMED_ROWS)?);
                }
                _ => {}
            }
        }
        Ok::<_, String>(Candidate { measured, importance, slices, p99_ms, bytes: size })
    })
    .await
    .map_err(|error| StepError::Failed(error.to_string()))?
    .map_err(StepError::Failed)
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

async fn judge(
    services: &Services,
    record: &RunRecord,
    data: &Prepared,
    holdout: &RecordBatch,
    candidate: &Candidate,
    gate: &Gate,
) -> Result<GateResult, StepError> {
    let result = |passed: bool, value: Option<f64>, required: Option<f64>, detail: String| GateResult {
        gate: gate.clone(),
        passed,
        value,
        required,
        detail,
    };
    if let Gate::Serving { p99_ms, max_bytes } = gate {
        let bytes = candidate.bytes as u64;
        if let Some(limit) = max_bytes.filter(|&limit| bytes > limit) {
            return Ok(result(
                false,
                Some(bytes as f64),
                Some(limit as f64),
                format!("the model is {bytes} bytes, over {limit}"),
            ));
        }
        return Ok(match (p99_ms, candidate.p99_ms) {
            (Some(limit), Some(p99)) if p99 > *limit => {
                result(false, Some(p99), Some(*limit), format!("one-row p99 {p99:.3} ms > {limit} ms"))
            }
            (Some(limit), Some(p99)) => result(
                true,
                Some(p99),
                Some(*limit),
                format!("one-row p99 {p99:.3} ms ≤ {limit} ms, {bytes} bytes"),
            ),
            _ => result(
                true,
                Some(bytes as f64),
                max_bytes.map(|limit| limit as f64),
                format!("{bytes} bytes"),
            ),
        });
    }
    let Some(metric) = gate.metric() else { return Ok(result(true, None, None, String::new())) };
    let value = candidate.measured.metrics.get(metric).copied();
    let higher = evaluate::higher_is_better(metric);
    let Some(value) = value else {
        return Ok(result(false, None, None, format!("{metric} is undefined on the holdout")));
    };
    let result =
        |passed: bool, required: Option<f64>, detail: String| result(passed, Some(value), required, detail);
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
        Gate::Slice { column, max_gap, .. } => {
            match candidate.slices.get(column).and_then(|(gap, _)| gap.as_ref()) {
                None => result(
                    false,
                    Some(*max_gap),
                    format!("{metric} by `{column}`: fewer than two groups large enough to compare"),
                ),
                Some(gap) => result(
                    gap.gap <= *max_gap,
                    Some(*max_gap),
                    format!(
                        "{metric} by `{column}`: {:.6} (`{}`) to {:.6} (`{}`), a gap of {:.6} against at most {max_gap}",
                        gap.lowest, gap.lowest_group, gap.highest, gap.highest_group, gap.gap
                    ),
                ),
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
            let theirs =
                match services.measure(bytes, holdout.clone(), record.spec.trainer.task, data).await? {
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
        Gate::Serving { .. } => result(true, None, String::new()),
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
