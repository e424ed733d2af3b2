//! The training step: the search's trials handed to the workers through the work queue, at most
//! `parallelism` at once, and each worker's report taken in — the model checked (its hash, that
//! ONNX Runtime loads it) and scored by the platform on its validation rows. A trial is handed out
//! under an id made of the run, the trial and the attempt, so handing it out again after a
//! restart is a duplicate JetStream drops; a trial no worker reports on within its timeout fails.

use std::collections::BTreeMap;
use std::time::Duration;

use arrow_array::RecordBatch;
use cairn_api::{RunState, Trial};
use cairn_domain::Timestamp;
use cairn_events::v1::{TrialFinished, TrialRequested};
use sha2::{Digest as _, Sha256};

use super::{Orchestrator, StepError};
use crate::evaluate;
use crate::runs::{Report, RunRecord};
use crate::search;
use crate::tracking::{self, Metric};

/// Beyond its trainer's timeout, how long a trial may go unreported (a worker that died holds
/// it for the queue's acknowledgement wait before another takes it).
const REPORT_GRACE: Duration = Duration::from_secs(120);
/// How often the step looks again when no report wakes it.
const POLL: Duration = Duration::from_millis(500);

pub async fn run(orchestrator: &Orchestrator, id: &str) -> Result<(), StepError> {
    set_up(orchestrator, id).await?;
    let mut validation = None;
    loop {
        let reported = orchestrator.reports.notified();
        tokio::pin!(reported);
        reported.as_mut().enable();
        let record = orchestrator.runs.get(id).await?;
        if record.cancel_requested || record.run.state != RunState::Training {
            return Ok(());
        }
        let reports: Vec<(u32, Report)> = record
            .run
            .trials
            .iter()
            .zip(&record.work)
            .filter(|(trial, _)| trial.state == "running")
            .filter_map(|(trial, work)| Some((trial.number, work.report.clone()?)))
            .collect();
        if !reports.is_empty() {
            for (number, report) in reports {
                take_in(orchestrator, &record, number, report, &mut validation).await?;
            }
            continue;
        }
        if overdue(orchestrator, &record).await? || dispatch(orchestrator, &record).await? {
            continue;
        }
        if record.run.trials.iter().all(|trial| trial.state == "succeeded" || trial.state == "failed") {
            if promote(orchestrator, &record).await? {
                continue;
            }
            return choose(orchestrator, id).await;
        }
        let _ = tokio::time::timeout(POLL, reported).await;
    }
}

/// The run's experiment and tracking run, and its trials, each with its own tracking run: made
/// once, each stored as soon as it exists, so that a restart makes none twice.
async fn set_up(orchestrator: &Orchestrator, id: &str) -> Result<(), StepError> {
    let registry = &orchestrator.services.registry;
    let record = orchestrator.runs.get(id).await?;
    let experiment = match &record.experiment_id {
        Some(experiment) => experiment.clone(),
        None => {
            let experiment =
                tracking::experiment(registry, &format!("pipeline-{}", record.run.pipeline)).await?;
            orchestrator.runs.update(id, |record| record.experiment_id = Some(experiment.clone())).await?;
            experiment
        }
    };
    let parent = match &record.run.tracking_run_id {
        Some(run) => run.clone(),
        None => {
            let tags = BTreeMap::from([
                (
                    "cairn.pipeline".to_owned(),
                    format!("{}@{}", record.run.pipeline, record.run.pipeline_version),
                ),
                ("cairn.pipeline_run".to_owned(), record.run.id.clone()),
            ]);
            let run = tracking::create_run(
                registry,
                &experiment,
                &format!("{}-{}", record.run.pipeline, short(id)),
                &tags,
            )
            .await?;
            orchestrator
                .runs
                .update(id, |record| {
                    record.run.tracking_run_id = Some(run.run_id.clone());
                    record.artifact_root = Some(run.artifact_root.clone());
                })
                .await?;
            run.run_id
        }
    };
    if record.run.trials.is_empty() {
        let draws = search::trials(&record.spec.trainer, record.spec.search.as_ref());
        let rung = halving(&record).map(|_| 0);
        let metric = objective(&record);
        let objective =
            cairn_api::Objective { higher_is_better: evaluate::higher_is_better(&metric), metric };
        orchestrator
            .runs
            .update(id, |record| {
                record.log(format!("{} trials, compared by validation {}", draws.len(), objective.metric));
                record.run.objective = Some(objective);
                for (index, params) in draws.into_iter().enumerate() {
                    record.run.trials.push(queued(index as u32 + 1, params, rung));
                    record.work.push(Default::default());
                }
            })
            .await?;
    }
    track_trials(orchestrator, id, &experiment, &parent).await
}

/// A tracking run for each trial that has none yet, nested under the run's, each stored as soon
/// as it exists.
async fn track_trials(
    orchestrator: &Orchestrator,
    id: &str,
    experiment: &str,
    parent: &str,
) -> Result<(), StepError> {
    let registry = &orchestrator.services.registry;
    let record = orchestrator.runs.get(id).await?;
    for trial in record.run.trials.iter().filter(|trial| trial.tracking_run_id.is_none()) {
        let tags = BTreeMap::from([
            ("mlflow.parentRunId".to_owned(), parent.to_owned()),
            ("cairn.pipeline_run".to_owned(), record.run.id.clone()),
            ("cairn.trial".to_owned(), trial.number.to_string()),
        ]);
        let name = format!("{}-{}-trial-{}", record.run.pipeline, short(id), trial.number);
        let run = tracking::create_run(registry, experiment, &name, &tags).await?;
        let number = trial.number;
        orchestrator
            .runs
            .update(id, |record| {
                if let Some((trial, _)) = record.trial(number) {
                    trial.tracking_run_id = Some(run.run_id.clone());
                }
            })
            .await?;
    }
    Ok(())
}

fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

/// Hands queued trials to the workers while fewer than `parallelism` run.
async fn dispatch(orchestrator: &Orchestrator, record: &RunRecord) -> Result<bool, StepError> {
    let limit = record.spec.search.as_ref().map_or(1, |search| search.parallelism) as usize;
    let running = record.run.trials.iter().filter(|trial| trial.state == "running").count();
    let Some(data) = &record.data else {
        return Err(StepError::Failed("the run's data is not prepared".into()));
    };
    let mut handed = false;
    for trial in
        record.run.trials.iter().filter(|trial| trial.state == "queued").take(limit.saturating_sub(running))
    {
        let attempt = trial.attempts + 1;
        let model_path = format!("training/runs/{}/trials/{}/model.onnx", record.run.id, trial.number);
        let request = TrialRequested {
            run_id: record.run.id.clone(),
            trial: trial.number,
            attempt,
            pipeline: record.run.pipeline.to_string(),
            trainer_json: json(&record.spec.trainer),
            params_json: json(&trial.params),
            train_path: data.train.clone(),
            validation_path: data.validation.clone(),
            label: data.label.clone(),
            features: data.features.clone(),
            classes_json: json(&data.classes),
            model_path: model_path.clone(),
        };
        let key = format!("{}:{}:{attempt}", record.run.id, trial.number);
        orchestrator
            .services
            .bus
            .publish_with_id(crate::derived_id(&key), &request)
            .await
            .map_err(|error| StepError::Retry(error.to_string()))?;
        let number = trial.number;
        orchestrator
            .runs
            .update(&record.run.id, |record| {
                if let Some((trial, work)) = record.trial(number) {
                    let now = Timestamp::now();
                    trial.state = "running".into();
                    trial.attempts = attempt;
                    trial.queued_at = Some(now);
                    work.model_path = Some(model_path);
                }
            })
            .await?;
        handed = true;
    }
    Ok(handed)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Fails the trials no worker reported on in time.
async fn overdue(orchestrator: &Orchestrator, record: &RunRecord) -> Result<bool, StepError> {
    let limit = Duration::from_secs(record.spec.trainer.timeout_seconds) + REPORT_GRACE;
    let now = Timestamp::now().as_micros();
    let late: Vec<u32> = record
        .run
        .trials
        .iter()
        .filter(|trial| {
            trial.state == "running"
                && trial.queued_at.is_some_and(|at| {
                    now - at.as_micros() > i64::try_from(limit.as_micros()).unwrap_or(i64::MAX)
                })
        })
        .map(|trial| trial.number)
        .collect();
    if late.is_empty() {
        return Ok(false);
    }
    let (record, ()) = orchestrator
        .runs
        .update(&record.run.id, |record| {
            for number in &late {
                if let Some((trial, _)) = record.trial(*number) {
                    trial.state = "failed".into();
                    trial.finished_at = Some(Timestamp::now());
                    trial.error = Some(format!("no worker reported within {} s", limit.as_secs()));
                }
            }
        })
        .await?;
    for number in late {
        if let Some(run) = record
            .run
            .trials
            .iter()
            .find(|trial| trial.number == number)
            .and_then(|trial| trial.tracking_run_id.clone())
        {
            tracking::finish(&orchestrator.services.registry, &run, "FAILED").await?;
        }
    }
    Ok(true)
}

/// A worker's report: the trial succeeds once the platform has checked and scored its model.
async fn take_in(
    orchestrator: &Orchestrator,
    record: &RunRecord,
    number: u32,
    report: Report,
    validation: &mut Option<RecordBatch>,
) -> Result<(), StepError> {
    let services = &orchestrator.services;
    let Some(trial) = record.run.trials.iter().find(|trial| trial.number == number) else { return Ok(()) };
    let outcome = if report.succeeded {
        score(orchestrator, record, &report, validation).await?
    } else {
        Err(report.error.clone())
    };
    let mut metrics: Vec<Metric> = history(&report.history_json);
    let mut tags = BTreeMap::from([("cairn.worker".to_owned(), report.worker.clone())]);
    if !report.reported_metrics_json.is_empty() {
        tags.insert(
            "cairn.trainer_metrics".into(),
            report.reported_metrics_json.chars().take(5000).collect(),
        );
    }
    if let Ok(measured) = &outcome {
        metrics.extend(measured.iter().map(|(key, &value)| Metric {
            key: format!("validation_{key}"),
            value,
            step: 0,
        }));
    }
    if let Some(run) = &trial.tracking_run_id {
        let params =
            trial.params.iter().map(|(key, value)| (key.clone(), crate::frame::text(value))).collect();
        tracking::log(&services.registry, run, &params, &metrics, &tags).await?;
        tracking::finish(&services.registry, run, if outcome.is_ok() { "FINISHED" } else { "FAILED" })
            .await?;
    }
    let objective = objective(record);
    orchestrator
        .runs
        .update(&record.run.id, |record| {
            let Some((trial, work)) = record.trial(number) else { return };
            trial.worker = Some(report.worker.clone());
            trial.seconds = Some(report.seconds);
            trial.finished_at = Some(Timestamp::now());
            work.report = None;
            match &outcome {
                Ok(measured) => match measured.get(&objective) {
                    Some(&score) => {
                        trial.state = "succeeded".into();
                        trial.score = Some(score);
                        trial.model_sha256 = Some(report.model_sha256.clone());
                    }
                    None => {
                        trial.state = "failed".into();
                        trial.error =
                            Some(format!("the objective `{objective}` is undefined on the validation rows"));
                    }
                },
                Err(error) => {
                    trial.state = "failed".into();
                    trial.error = Some(error.clone());
                }
            }
        })
        .await?;
    Ok(())
}

/// The metrics of the trial's model on the validation rows (read once per step, kept in `rows`),
/// or why the model is no good.
async fn score(
    orchestrator: &Orchestrator,
    record: &RunRecord,
    report: &Report,
    rows: &mut Option<RecordBatch>,
) -> Result<Result<BTreeMap<String, f64>, String>, StepError> {
    let services = &orchestrator.services;
    let Some(data) = &record.data else {
        return Err(StepError::Failed("the run's data is not prepared".into()));
    };
    let bytes = services.read(&report.model_path).await?;
    if cairn_storage::hex(&Sha256::digest(&bytes)) != report.model_sha256 {
        return Ok(Err("the model file does not have the hash the worker reported".into()));
    }
    let validation = match rows {
        Some(validation) => validation.clone(),
        None => {
            let path = if record.run.rows.is_some_and(|rows| rows.validation > 0) {
                &data.validation
            } else {
                &data.holdout
            };
            rows.insert(super::judge::read_rows(services, path).await?).clone()
        }
    };
    let measured = services.measure(bytes, validation, record.spec.trainer.task, data).await?;
    Ok(measured.map(|measured| measured.metrics))
}

/// The metric trials are compared by.
pub fn objective(record: &RunRecord) -> String {
    let task = record.spec.trainer.task;
    record
        .spec
        .search
        .as_ref()
        .and_then(|search| search.metric.clone())
        .or_else(|| record.spec.evaluation.metrics.first().cloned())
        .unwrap_or_else(|| evaluate::default_objective(task).to_owned())
}

/// A new trial, waiting for a worker.
fn queued(number: u32, params: search::Params, rung: Option<u32>) -> Trial {
    Trial {
        number,
        params,
        state: "queued".into(),
        attempts: 0,
        worker: None,
        score: None,
        model_sha256: None,
        seconds: None,
        queued_at: None,
        finished_at: None,
        error: None,
        tracking_run_id: None,
        rung,
    }
}

fn halving(record: &RunRecord) -> Option<search::Halving> {
    record
        .spec
        .search
        .as_ref()
        .and_then(|search| search::halving(&record.spec.trainer, search).ok().flatten())
}

/// Successive halving: once a rung is done, its best go on to the next with more resource, as
/// new trials (each with its tracking run). `false` when there is no next rung.
async fn promote(orchestrator: &Orchestrator, record: &RunRecord) -> Result<bool, StepError> {
    let (Some(plan), Some(objective)) = (halving(record), record.run.objective.clone()) else {
        return Ok(false);
    };
    let Some((rung, promoted)) = search::promote(&plan, &record.run.trials, &objective) else {
        return Ok(false);
    };
    let id = &record.run.id;
    orchestrator
        .runs
        .update(id, |record| {
            record.log(format!(
                "rung {rung}: {} trials with {} = {}",
                promoted.len(),
                plan.resource,
                plan.rungs[rung as usize]
            ));
            let first = record.run.trials.len() as u32 + 1;
            for (offset, params) in promoted.into_iter().enumerate() {
                record.run.trials.push(queued(first + offset as u32, params, Some(rung)));
                record.work.push(Default::default());
            }
        })
        .await?;
    let record = orchestrator.runs.get(id).await?;
    let (Some(experiment), Some(parent)) = (record.experiment_id.clone(), record.run.tracking_run_id.clone())
    else {
        return Err(StepError::Failed("the run has no tracking run".into()));
    };
    track_trials(orchestrator, id, &experiment, &parent).await?;
    Ok(true)
}

/// Every trial has ended: the best goes on to be judged, or the run fails when none succeeded.
async fn choose(orchestrator: &Orchestrator, id: &str) -> Result<(), StepError> {
    let record = orchestrator.runs.get(id).await?;
    let metric = objective(&record);
    let objective = cairn_api::Objective {
        higher_is_better: evaluate::higher_is_better(&metric),
        metric: metric.clone(),
    };
    // Halving's trials are comparable within a rung: the last rung's decide.
    let last_rung = record.run.trials.iter().filter_map(|trial| trial.rung).max();
    let best = record
        .run
        .trials
        .iter()
        .filter(|trial| trial.state == "succeeded" && trial.rung == last_rung)
        .filter_map(|trial| Some((trial.number, trial.score?)))
        .reduce(|best, next| if objective.better(next.1, best.1) { next } else { best });
    orchestrator
        .runs
        .update(id, |record| match best {
            Some((number, score)) => {
                record.log(format!("best trial {number}: validation {metric} {score:.6}"));
                record.run.best_trial = Some(number);
                record.enter(RunState::Evaluating);
            }
            None => {
                let first =
                    record.run.trials.iter().find_map(|trial| trial.error.clone()).unwrap_or_default();
                record.fail(format!("every trial failed (the first: {first})"));
            }
        })
        .await?;
    Ok(())
}

/// A worker's report, kept on its trial until the step takes it in (the first report of a
/// trial that is running; later ones — a redelivery, a slow worker — are dropped).
pub async fn reported(
    orchestrator: &Orchestrator,
    report: TrialFinished,
) -> Result<(), crate::runs::RunError> {
    let number = report.trial;
    let outcome = orchestrator
        .runs
        .update(&report.run_id, |record| {
            if let Some((trial, work)) = record.trial(number)
                && trial.state == "running"
                && work.report.is_none()
            {
                work.report = Some(Report {
                    attempt: report.attempt,
                    worker: report.worker,
                    succeeded: report.succeeded,
                    error: report.error,
                    model_path: report.model_path,
                    model_sha256: report.model_sha256,
                    seconds: report.seconds,
                    history_json: report.history_json,
                    reported_metrics_json: report.reported_metrics_json,
                });
            }
        })
        .await;
    match outcome {
        Ok(_) => {
            orchestrator.reports.notify_waiters();
            Ok(())
        }
        // A run this orchestrator does not hold (another installation's, or deleted): nothing to do.
        Err(crate::runs::RunError::NotFound(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Ends the run's tracking runs that are still open, with `status`.
pub async fn close_tracking(orchestrator: &Orchestrator, record: &RunRecord, status: &str) {
    let registry = &orchestrator.services.registry;
    let open = record
        .run
        .trials
        .iter()
        .filter(|trial| trial.state != "succeeded" && trial.state != "failed")
        .filter_map(|trial| trial.tracking_run_id.as_deref())
        .chain(record.run.tracking_run_id.as_deref());
    for run in open {
        if let Err(error) = tracking::finish(registry, run, status).await {
            tracing::warn!(run, %error, "closing a tracking run");
        }
    }
}

/// The trainer's per-iteration metrics: `[{"step": n, "<metric>": value, ...}, ...]`.
fn history(json: &str) -> Vec<Metric> {
    let Ok(serde_json::Value::Array(entries)) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|entry| {
            let step = entry.get("step").and_then(serde_json::Value::as_i64).unwrap_or(0);
            entry.iter().filter(|(key, _)| *key != "step").filter_map(move |(key, value)| {
                Some(Metric { key: key.clone(), value: value.as_f64()?, step })
            })
        })
        .collect()
}
