//! A training worker (`cairn worker`; any number, on any machine that reaches NATS and the
//! offline store): takes one trial at a time from the work queue, trains it — a built-in trainer,
//! or the spec's command — uploads the model and reports on the bus. While it trains it tells
//! the queue it is alive, so a trial is taken back only from a worker that died (after the
//! queue's acknowledgement wait). A failure of the trainer itself (it crashed, ran past its
//! timeout, wrote no model) is reported and not retried; a failure around it (the store or NATS
//! away) is retried with backoff, and reported once the queue gives up on the trial.

mod builtin;
mod command;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::TrainerSpec;
use cairn_bus::{Bus, ConsumerHandle, Delivery, HandlerError};
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_events::topology::TRAINING_WORKERS;
use cairn_events::v1::{TrialFinished, TrialRequested};
use cairn_service::StartError;
use cairn_storage::OfflineStore;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

/// Why a trial has no model.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The trainer's own doing: reported as the trial's failure.
    Trainer(String),
    /// Around the trainer (storage, the bus): worth another try.
    Infrastructure(String),
}

/// What a trainer made.
pub(crate) struct Model {
    pub onnx: Vec<u8>,
    /// Metrics per iteration, as a JSON array.
    pub history: String,
    /// The trainer's own metrics (JSON), recorded only.
    pub reported: String,
}

/// Where an external trainer finds the trial's inputs.
pub(crate) struct Files {
    pub train: PathBuf,
    pub validation: PathBuf,
    pub params: PathBuf,
    pub label: String,
    pub features_json: String,
    pub task: String,
    pub classes_json: String,
}

struct Worker {
    bus: Bus,
    store: OfflineStore,
    name: String,
    scratch: PathBuf,
}

/// A started worker; `stop` lets the trial in hand finish (a worker killed instead gives it
/// back to the queue, which hands it to another after its acknowledgement wait).
pub struct RunningWorker {
    consumer: ConsumerHandle,
    shutdown: CancellationToken,
}

impl RunningWorker {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.consumer.stop().await;
    }
}

impl cairn_service::Stoppable for RunningWorker {
    async fn stop(self) {
        RunningWorker::stop(self).await;
    }
}

/// Starts a worker: it takes trials until stopped.
pub async fn work(config: CairnConfig) -> Result<RunningWorker, StartError> {
    let metrics = cairn_telemetry::Metrics::new("training-worker");
    let bus = Bus::connect(&config.nats, ServiceKind::Training, metrics).await?;
    bus.ensure_topology().await?;
    let store = OfflineStore::from_config(&config)
        .map_err(|error| StartError::Other(format!("the offline store: {error}")))?;
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    let worker = Arc::new(Worker {
        bus: bus.clone(),
        store,
        name: format!("{host}-{}", std::process::id()),
        scratch: config.data_dir.join("training").join("work"),
    });
    tracing::info!(worker = %worker.name, "taking trials");
    let shutdown = CancellationToken::new();
    let consumer = bus
        .work(&TRAINING_WORKERS, shutdown.clone(), move |delivery| Arc::clone(&worker).trial(delivery))
        .await?;
    Ok(RunningWorker { consumer, shutdown })
}

impl Worker {
    async fn trial(self: Arc<Self>, delivery: Delivery<TrialRequested>) -> Result<(), HandlerError> {
        let request = delivery.event;
        let last_try = delivery.delivered >= TRAINING_WORKERS.max_deliver;
        tracing::info!(run = %request.run_id, trial = request.trial, delivered = delivery.delivered, "training");
        let started = Instant::now();
        let outcome = match self.train(&request).await {
            Ok(model) => self.upload(&request, model).await,
            Err(failure) => Err(failure),
        };
        let (succeeded, error, sha256, history, reported) = match outcome {
            Ok((sha256, model)) => (true, String::new(), sha256, model.history, model.reported),
            Err(Failure::Trainer(error)) => (false, error, String::new(), String::new(), String::new()),
            Err(Failure::Infrastructure(error)) if !last_try => return Err(HandlerError::retry(error)),
            Err(Failure::Infrastructure(error)) => (
                false,
                format!("gave up after {} deliveries: {error}", delivery.delivered),
                String::new(),
                String::new(),
                String::new(),
            ),
        };
        let report = TrialFinished {
            run_id: request.run_id.clone(),
            trial: request.trial,
            attempt: request.attempt,
            worker: self.name.clone(),
            succeeded,
            error,
            model_path: request.model_path.clone(),
            model_sha256: sha256,
            seconds: started.elapsed().as_secs_f64(),
            history_json: history,
            reported_metrics_json: reported,
        };
        let key = format!("report:{}:{}:{}", request.run_id, request.trial, request.attempt);
        self.bus.publish_with_id(crate::derived_id(&key), &report).await.map_err(HandlerError::retry)?;
        Ok(())
    }

    async fn train(&self, request: &TrialRequested) -> Result<Model, Failure> {
        let trainer: TrainerSpec = serde_json::from_str(&request.trainer_json)
            .map_err(|error| Failure::Trainer(format!("the trial's trainer is unreadable: {error}")))?;
        let params: std::collections::BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&request.params_json).map_err(|error| {
                Failure::Trainer(format!("the trial's parameters are unreadable: {error}"))
            })?;
        let classes: Vec<serde_json::Value> = serde_json::from_str(&request.classes_json).unwrap_or_default();
        let read = |path: String| async move {
            self.store
                .read(&path)
                .await
                .map_err(|error| Failure::Infrastructure(format!("reading {path}: {error}")))
        };
        let (train, validation) =
            (read(request.train_path.clone()).await?, read(request.validation_path.clone()).await?);
        let timeout = Duration::from_secs(trainer.timeout_seconds);
        if let Some(builtin) = trainer.builtin {
            let trial = builtin::Trial {
                builtin,
                task: trainer.task,
                params,
                features: request.features.clone(),
                label: request.label.clone(),
                classes,
            };
            let training = tokio::task::spawn_blocking(move || builtin::train(&trial, train, validation));
            return match tokio::time::timeout(timeout, training).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => Err(Failure::Trainer(format!("the trainer stopped: {error}"))),
                Err(_) => Err(Failure::Trainer(format!(
                    "the trainer ran past its timeout of {} s",
                    timeout.as_secs()
                ))),
            };
        }
        let dir = self.scratch.join(format!("{}-{}-{}", request.run_id, request.trial, request.attempt));
        let local = |error: std::io::Error| Failure::Infrastructure(format!("{}: {error}", dir.display()));
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir).await.map_err(local)?;
        let files = Files {
            train: dir.join("train.parquet"),
            validation: dir.join("validation.parquet"),
            params: dir.join("params.json"),
            label: request.label.clone(),
            features_json: serde_json::to_string(&request.features).unwrap_or_default(),
            task: trainer.task.as_str().to_owned(),
            classes_json: request.classes_json.clone(),
        };
        tokio::fs::write(&files.train, &train).await.map_err(local)?;
        tokio::fs::write(&files.validation, &validation).await.map_err(local)?;
        tokio::fs::write(&files.params, serde_json::to_vec_pretty(&params).unwrap_or_default())
            .await
            .map_err(local)?;
        let outcome = command::train(&trainer.command, &files, &dir, timeout).await;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        outcome
    }

    async fn upload(&self, request: &TrialRequested, model: Model) -> Result<(String, Model), Failure> {
        let sha256 = cairn_storage::hex(&Sha256::digest(&model.onnx));
        self.store
            .write(&request.model_path, model.onnx.clone().into())
            .await
            .map_err(|error| Failure::Infrastructure(format!("uploading the model: {error}")))?;
        Ok((sha256, model))
    }
}
