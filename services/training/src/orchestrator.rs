//! The orchestrator: drives each run through its steps, one task per run. A step's outcome is
//! stored before the next begins, so a restarted orchestrator takes every unfinished run up again
//! at the step it was in (each step can be done again: the split is the same, trials already
//! handed out are not handed out twice, registration finds the version it made). A step that
//! fails because a service is away is tried again; one that cannot succeed fails the run,
//! saying why.

mod data;
mod judge;
mod register;
pub(crate) mod trials;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_api::RunState;
use cairn_bus::Bus;
use cairn_client::{Client, ClientError};
use cairn_runtime::Runtime;
use cairn_storage::OfflineStore;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::runs::{RunError, Runs};

/// The longest wait before a step that met an unavailable service is tried again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// What the steps use: the other services, the offline store, the runtime.
pub struct Services {
    pub ingestion: Client,
    pub features: Client,
    pub registry: Client,
    pub store: OfflineStore,
    pub runtime: Runtime,
    pub bus: Bus,
}

impl Services {
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), StepError> {
        self.store
            .write(path, bytes.into())
            .await
            .map_err(|error| StepError::Retry(format!("writing {path}: {error}")))
    }

    pub async fn read(&self, path: &str) -> Result<bytes::Bytes, StepError> {
        self.store.read(path).await.map_err(|error| StepError::Retry(format!("reading {path}: {error}")))
    }

    /// A model's metrics on `rows` (the run's `data`), measured off the async threads — a large
    /// holdout takes a while; the inner `Err` says why the model cannot be loaded or score them.
    pub async fn measure(
        &self,
        model: bytes::Bytes,
        rows: arrow_array::RecordBatch,
        task: cairn_api::Task,
        data: &crate::runs::Prepared,
    ) -> Result<Result<crate::evaluate::Measured, String>, StepError> {
        let (runtime, data) = (self.runtime.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            let model = cairn_runtime::Model::load(&runtime, &model, &crate::evaluate::session_options())
                .map_err(|error| format!("the model is not one ONNX Runtime can run: {error}"))?;
            let predictions = crate::evaluate::predict(&model, &rows, &data.features, task, &data.classes)
                .map_err(|error| format!("the model cannot score the rows: {error}"))?;
            crate::evaluate::measure(&rows, &data.label, task, &data.classes, &predictions)
        })
        .await
        .map_err(|error| StepError::Failed(error.to_string()))
    }
}

/// How a step ended when it did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Something it needs is away for now: the step is tried again.
    #[error("{0}")]
    Retry(String),
    /// It cannot succeed: the run fails.
    #[error("{0}")]
    Failed(String),
}

impl From<ClientError> for StepError {
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } if *status < 500 => {
                StepError::Failed(error.to_string())
            }
            _ => StepError::Retry(error.to_string()),
        }
    }
}

impl From<RunError> for StepError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Database(error) => StepError::Retry(error.to_string()),
            RunError::NotFound(message) | RunError::Conflict(message) => StepError::Failed(message),
        }
    }
}

pub struct Orchestrator {
    pub(crate) runs: Arc<Runs>,
    pub(crate) services: Services,
    /// Woken when a worker's report arrives.
    pub(crate) reports: Notify,
    driving: Mutex<HashSet<String>>,
}

impl Orchestrator {
    pub fn new(runs: Arc<Runs>, services: Services) -> Self {
        Self { runs, services, reports: Notify::new(), driving: Mutex::new(HashSet::new()) }
    }

    /// Takes up every unfinished run, then each run started or cancelled from now on.
    pub fn start(
        self: &Arc<Self>,
        mut started: mpsc::UnboundedReceiver<String>,
        shutdown: CancellationToken,
    ) {
        let orchestrator = Arc::clone(self);
        tokio::spawn(async move {
            let unfinished = loop {
                match orchestrator.runs.unfinished().await {
                    Ok(ids) => break ids,
                    Err(error) => {
                        tracing::warn!(%error, "listing unfinished runs; trying again");
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(2)) => {}
                        }
                    }
                }
            };
            for id in unfinished {
                orchestrator.drive(id, shutdown.clone());
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    id = started.recv() => match id {
                        Some(id) => orchestrator.drive(id, shutdown.clone()),
                        None => return,
                    },
                }
            }
        });
    }

    /// Drives run `id` in a task of its own, unless one already does (a cancellation wakes it).
    fn drive(self: &Arc<Self>, id: String, shutdown: CancellationToken) {
        let Ok(mut driving) = self.driving.lock() else { return };
        if !driving.insert(id.clone()) {
            self.reports.notify_waiters();
            return;
        }
        drop(driving);
        let orchestrator = Arc::clone(self);
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = orchestrator.run_steps(&id) => {}
            }
            if let Ok(mut driving) = orchestrator.driving.lock() {
                driving.remove(&id);
            }
        });
    }

    async fn run_steps(&self, id: &str) {
        let mut wait = Duration::from_secs(1);
        loop {
            let record = match self.runs.get(id).await {
                Ok(record) => record,
                Err(error) => {
                    tracing::warn!(run = id, %error, "reading the run");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            if record.run.state.finished() {
                return;
            }
            let outcome = if record.cancel_requested {
                self.cancel(id).await
            } else {
                match record.run.state {
                    RunState::Queued => self.enter(id, RunState::PreparingData).await,
                    RunState::PreparingData => self.prepare(id, &record).await,
                    RunState::Training => trials::run(self, id).await,
                    RunState::Evaluating => judge::run(self, id).await,
                    RunState::Registering => register::run(self, id).await,
                    RunState::Succeeded | RunState::Failed | RunState::Cancelled => return,
                }
            };
            match outcome {
                Ok(()) => wait = Duration::from_secs(1),
                Err(StepError::Retry(reason)) => {
                    tracing::warn!(run = id, %reason, "step interrupted; trying again in {wait:?}");
                    let _ = self.runs.update(id, |record| record.log(format!("retrying: {reason}"))).await;
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_WAIT);
                }
                Err(StepError::Failed(reason)) => {
                    if let Err(error) = self.runs.update(id, |record| record.fail(reason)).await {
                        tracing::warn!(run = id, %error, "recording the failure");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    async fn enter(&self, id: &str, state: RunState) -> Result<(), StepError> {
        self.runs.update(id, |record| record.enter(state)).await?;
        Ok(())
    }

    async fn prepare(&self, id: &str, record: &crate::runs::RunRecord) -> Result<(), StepError> {
        let (prepared, rows, log) = data::prepare(&self.services, record).await?;
        self.runs
            .update(id, |record| {
                for line in log {
                    record.log(line);
                }
                record.run.dataset = Some(format!("{}@{}", prepared.dataset, prepared.version));
                record.run.rows = Some(rows);
                record.data = Some(prepared);
                record.enter(RunState::Training);
            })
            .await?;
        Ok(())
    }

    async fn cancel(&self, id: &str) -> Result<(), StepError> {
        let (record, ()) = self
            .runs
            .update(id, |record| {
                for trial in &mut record.run.trials {
                    if trial.state == "queued" || trial.state == "running" {
                        trial.state = "cancelled".into();
                    }
                }
                record.log("cancelled");
                record.enter(RunState::Cancelled);
            })
            .await?;
        trials::close_tracking(self, &record, "KILLED").await;
        Ok(())
    }
}
