//! Pipeline runs: each a persisted state machine (queued → preparing data → training →
//! evaluating → registering → succeeded, or failed / cancelled) stored whole after every step, so
//! that the orchestrator resumes a run after a restart from the last step it completed. Every
//! change goes through [`Runs::update`], one at a time per process, and the state changes are
//! events (`PipelineRunChanged`, `TrialChanged`) staged with them.

mod store;

use std::collections::BTreeMap;

use cairn_api::{NewPipelineRun, PipelineRun, PipelineSpec, RunState, RunStep, Trial};
use cairn_db::{Database, DbError};
use cairn_domain::{Name, Timestamp};
use cairn_events::v1::{PipelineRunChanged, TrialChanged};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};

pub use store::Announce;

/// A run as stored: what users see, and what the orchestrator needs to go on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: PipelineRun,
    /// The spec of the pipeline version the run started with.
    pub spec: PipelineSpec,
    /// The split, once the data is prepared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Prepared>,
    /// The orchestrator's side of each trial, by the trials' order.
    #[serde(default)]
    pub work: Vec<TrialWork>,
    /// The registry's experiment holding the run's tracking runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    /// Where the run's tracking run keeps its artifacts in the registry's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_root: Option<String>,
    /// The holdout metrics' supporting material (calibration, confusion, residuals, importance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
    #[serde(default)]
    pub cancel_requested: bool,
    /// The data a reproduction must train on: the reproduced run's dataset version (and its
    /// feature service's features), not whatever is latest now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Pinned>,
}

/// A dataset version a run is held to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pinned {
    pub dataset: Name,
    pub version: i64,
    pub feature_service: Option<String>,
    pub features: Vec<String>,
}

/// The rows a run trains and is measured on, as the platform split them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepared {
    pub dataset: Name,
    pub version: i64,
    /// `name@version` of the feature service the features came from.
    pub feature_service: Option<String>,
    pub features: Vec<String>,
    pub label: String,
    /// The label's classes in order (classification): a class's code is its index.
    pub classes: Vec<serde_json::Value>,
    /// Offline store paths of the three parts (Parquet).
    pub train: String,
    pub validation: String,
    pub holdout: String,
}

/// What the orchestrator knows of a trial beyond its public view.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrialWork {
    /// A worker's report, not yet taken in.
    pub report: Option<Report>,
    /// Where its model is in the offline store.
    pub model_path: Option<String>,
}

/// A worker's report on a trial (`TrialFinished`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub attempt: u32,
    pub worker: String,
    pub succeeded: bool,
    pub error: String,
    pub model_path: String,
    pub model_sha256: String,
    pub seconds: f64,
    pub history_json: String,
    pub reported_metrics_json: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

pub struct Runs {
    db: Database,
    /// One change at a time: the orchestrator, the reports of workers and cancellations all
    /// rewrite a run's record.
    writing: Mutex<()>,
    /// Runs to drive, for the orchestrator.
    started: mpsc::UnboundedSender<String>,
}

impl Runs {
    pub fn new(db: Database) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (started, receiver) = mpsc::unbounded_channel();
        (Self { db, writing: Mutex::new(()), started }, receiver)
    }

    /// A new run of version `version` of `pipeline` (whose spec is `spec`), queued.
    pub async fn start(
        &self,
        pipeline: Name,
        version: i64,
        spec: PipelineSpec,
        request: NewPipelineRun,
    ) -> Result<PipelineRun, RunError> {
        let trigger = request.trigger.unwrap_or_else(|| "manual".into());
        self.queue(new_record(pipeline, version, spec, trigger)).await
    }

    /// Run `id` again: the same pipeline version and spec (its split, trials and seeds) on the
    /// same dataset version.
    pub async fn reproduce(&self, id: &str) -> Result<PipelineRun, RunError> {
        let original = self.get(id).await?;
        let Some(data) = original.data else {
            return Err(RunError::Conflict(format!(
                "pipeline run `{id}` never prepared its data: there is nothing to reproduce"
            )));
        };
        let run = &original.run;
        let mut record =
            new_record(run.pipeline.clone(), run.pipeline_version, original.spec, "reproduce".into());
        record.run.reproduces = Some(id.to_owned());
        record.pinned = Some(Pinned {
            dataset: data.dataset,
            version: data.version,
            feature_service: data.feature_service,
            features: data.features,
        });
        self.queue(record).await
    }

    async fn queue(&self, record: RunRecord) -> Result<PipelineRun, RunError> {
        let announce = Announce { run: Some(changed(&record, None)), trials: Vec::new() };
        store::insert(&self.db, &record, announce).await?;
        let _ = self.started.send(record.run.id.clone());
        Ok(record.run)
    }

    pub async fn get(&self, id: &str) -> Result<RunRecord, RunError> {
        store::get(&self.db, id.to_owned())
            .await?
            .ok_or_else(|| RunError::NotFound(format!("no pipeline run `{id}`")))
    }

    pub async fn list(&self, pipeline: Option<&str>, limit: i64) -> Result<Vec<PipelineRun>, RunError> {
        let records = store::list(&self.db, pipeline.map(str::to_owned), limit).await?;
        Ok(records.into_iter().map(|record| record.run).collect())
    }

    /// The runs a starting orchestrator takes up again.
    pub async fn unfinished(&self) -> Result<Vec<String>, RunError> {
        Ok(store::unfinished(&self.db).await?)
    }

    /// Applies `change` to the stored run and stores it with the events its state changes
    /// announce; returns the run as changed.
    pub async fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut RunRecord) -> T,
    ) -> Result<(RunRecord, T), RunError> {
        let _writing = self.writing.lock().await;
        let mut record = self.get(id).await?;
        let (state, trials) = (record.run.state, record.run.trials.clone());
        let value = change(&mut record);
        record.run.updated_at = Timestamp::now();
        let announce = Announce {
            run: (record.run.state != state).then(|| changed(&record, Some(state))),
            trials: record
                .run
                .trials
                .iter()
                .filter(|trial| {
                    trials
                        .iter()
                        .find(|before| before.number == trial.number)
                        .is_none_or(|before| before.state != trial.state || before.attempts != trial.attempts)
                })
                .map(|trial| trial_changed(&record.run.id, trial))
                .collect(),
        };
        store::save(&self.db, &record, announce).await?;
        Ok((record, value))
    }

    /// Asks a run to stop; it stops at its next step (trials in flight are dropped).
    pub async fn cancel(&self, id: &str) -> Result<PipelineRun, RunError> {
        let (record, finished) = self
            .update(id, |record| {
                let finished = record.run.state.finished();
                if !finished {
                    record.cancel_requested = true;
                }
                finished
            })
            .await?;
        if finished {
            return Err(RunError::Conflict(format!(
                "pipeline run `{id}` has already {}",
                record.run.state.as_str()
            )));
        }
        let _ = self.started.send(id.to_owned());
        Ok(record.run)
    }
}

fn new_record(pipeline: Name, version: i64, spec: PipelineSpec, trigger: String) -> RunRecord {
    let now = Timestamp::now();
    RunRecord {
        run: PipelineRun {
            id: uuid::Uuid::now_v7().to_string(),
            pipeline,
            pipeline_version: version,
            state: RunState::Queued,
            trigger,
            reproduces: None,
            dataset: None,
            rows: None,
            trials: Vec::new(),
            objective: None,
            best_trial: None,
            metrics: BTreeMap::new(),
            gates: Vec::new(),
            model_version: None,
            tracking_run_id: None,
            error: None,
            steps: vec![RunStep {
                step: RunState::Queued,
                started_at: now,
                finished_at: None,
                log: Vec::new(),
            }],
            created_at: now,
            updated_at: now,
        },
        spec,
        data: None,
        work: Vec::new(),
        experiment_id: None,
        artifact_root: None,
        report: None,
        cancel_requested: false,
        pinned: None,
    }
}

impl RunRecord {
    /// Moves the run to `state`: the current step ends and the next begins.
    pub fn enter(&mut self, state: RunState) {
        let now = Timestamp::now();
        if let Some(step) = self.run.steps.last_mut() {
            step.finished_at.get_or_insert(now);
        }
        self.run.state = state;
        if !state.finished() {
            self.run.steps.push(RunStep { step: state, started_at: now, finished_at: None, log: Vec::new() });
        }
    }

    /// A line of the current step's log.
    pub fn log(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(run = %self.run.id, "{line}");
        if let Some(step) = self.run.steps.last_mut() {
            step.log.push(line);
        }
    }

    /// The run ends as failed, saying why.
    pub fn fail(&mut self, error: impl Into<String>) {
        let error = error.into();
        self.log(format!("failed: {error}"));
        self.run.error = Some(error);
        self.enter(RunState::Failed);
    }

    pub fn trial(&mut self, number: u32) -> Option<(&mut Trial, &mut TrialWork)> {
        let index = self.run.trials.iter().position(|trial| trial.number == number)?;
        Some((self.run.trials.get_mut(index)?, self.work.get_mut(index)?))
    }
}

fn changed(record: &RunRecord, previous: Option<RunState>) -> PipelineRunChanged {
    let run = &record.run;
    PipelineRunChanged {
        run_id: run.id.clone(),
        pipeline: run.pipeline.to_string(),
        pipeline_version: run.pipeline_version,
        previous_state: previous.map(|state| state.as_str().to_owned()).unwrap_or_default(),
        state: run.state.as_str().to_owned(),
        model_version: run.model_version.clone().unwrap_or_default(),
        message: run.error.clone().unwrap_or_default(),
        changed_at_unix_micros: run.updated_at.as_micros(),
    }
}

fn trial_changed(run: &str, trial: &Trial) -> TrialChanged {
    TrialChanged {
        run_id: run.to_owned(),
        trial: trial.number,
        state: trial.state.clone(),
        attempts: trial.attempts,
        score: trial.score.unwrap_or(f64::NAN),
        error: trial.error.clone().unwrap_or_default(),
    }
}
