//! Batch scoring: a model version scores every row of a dataset version, and the rows with their
//! predictions become a new version of another dataset, with lineage to both. A job reads the
//! version's files from the offline store batch by batch (memory holds one batch), runs them
//! through the same runtime as requests, writes one Parquet file and hands it to ingestion
//! (`PredictionsWritten`, staged with the job's state in one transaction), then waits until
//! ingestion has made it a version. Jobs are rows of the database; one whose replica stopped is
//! taken over, from the start, by a replica that sees its heartbeat stale. Transport-neutral:
//! the handlers decode a [`ScoringRequest`] and map the error.

mod rows;
mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::{ScoringJob, ScoringRequest};
use cairn_client::{Client, ClientError};
use cairn_db::{Database, DbError};
use cairn_domain::{Name, Timestamp};
use cairn_events::v1::PredictionsWritten;
use cairn_service::Outbox;
use cairn_storage::{OfflineStore, StagedFile};
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::models::{LoadError, Models};
pub use rows::Scorer;

/// A running job not heard of for this long is taken over.
const ABANDONED_AFTER: Duration = Duration::from_secs(60);
/// How often progress (the heartbeat) is written.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How long a job waits for ingestion to add its rows, asking this often.
const ADOPTION_LIMIT: Duration = Duration::from_secs(600);
const ADOPTION_POLL: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<LoadError> for ScoringError {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::NotFound { .. } | LoadError::NoAlias { .. } | LoadError::NoModelFile { .. } => {
                Self::NotFound(error.to_string())
            }
            LoadError::Corrupt { .. } | LoadError::Model { .. } => Self::Invalid(error.to_string()),
            LoadError::Registry(_) | LoadError::Cache { .. } => Self::Unavailable(error.to_string()),
        }
    }
}

pub struct Scoring {
    db: Database,
    outbox: Outbox,
    models: Arc<Models>,
    ingestion: Client,
    store: OfflineStore,
    scratch: PathBuf,
}

impl Scoring {
    pub fn new(
        db: Database,
        outbox: Outbox,
        models: Arc<Models>,
        ingestion: Client,
        store: OfflineStore,
        scratch: PathBuf,
    ) -> Self {
        Self { db, outbox, models, ingestion, store, scratch }
    }

    /// Checks the request — the model version exists and takes the rows' columns — and starts
    /// the job.
    pub async fn submit(self: &Arc<Self>, request: ScoringRequest) -> Result<ScoringJob, ScoringError> {
        let version = match (&request.alias, request.version) {
            (Some(alias), None) => self.models.resolve_alias(&request.model, alias).await?,
            (None, Some(version)) => version,
            _ => {
                return Err(ScoringError::Invalid(
                    "give the model's `alias` or `version`, one of them".into(),
                ));
            }
        };
        let dataset = request.dataset.as_str();
        let input = match request.dataset_version {
            Some(version) => self.ingestion.version(dataset, version).await,
            None => self.ingestion.latest_version(dataset).await,
        }
        .map_err(|error| match error {
            ClientError::Api { status: 404, .. } => ScoringError::NotFound(match request.dataset_version {
                Some(version) => format!("dataset `{dataset}` has no version {version}"),
                None => format!("dataset `{dataset}` has no version yet"),
            }),
            error => ScoringError::Unavailable(format!("ingestion: {error}")),
        })?;
        let loaded = self.models.load(&request.model, version).await?;
        rows::layout(&loaded, &input.schema).map_err(ScoringError::Invalid)?;
        let output = match request.output {
            Some(output) => output,
            None => Name::parse(format!("{}_scores", request.dataset))
                .map_err(|error| ScoringError::Invalid(format!("name the `output` dataset: {error}")))?,
        };
        let now = Timestamp::now();
        let job = ScoringJob {
            id: uuid::Uuid::now_v7().to_string(),
            model: request.model,
            version,
            dataset: request.dataset,
            dataset_version: input.version,
            output,
            state: "running".into(),
            rows: input.rows,
            rows_scored: 0,
            output_version: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let job = store::insert(&self.db, job).await?;
        tracing::info!(job = %job.id, model = %job.model, version, dataset = %job.dataset, "scoring job started");
        self.spawn(job.clone());
        Ok(job)
    }

    pub async fn get(&self, id: &str) -> Result<ScoringJob, ScoringError> {
        store::get(&self.db, id.to_owned())
            .await?
            .ok_or_else(|| ScoringError::NotFound(format!("no scoring job `{id}`")))
    }

    /// The latest hundred jobs, newest first.
    pub async fn list(&self) -> Result<Vec<ScoringJob>, ScoringError> {
        Ok(store::list(&self.db, 100).await?)
    }

    /// Takes over abandoned jobs now and every half minute, until `shutdown`.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        let scoring = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match store::take_abandoned(&scoring.db, ABANDONED_AFTER).await {
                    Ok(jobs) => {
                        for job in jobs {
                            tracing::info!(job = %job.id, "taking over an abandoned scoring job");
                            scoring.spawn(job);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot look for abandoned scoring jobs"),
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ABANDONED_AFTER / 2) => {}
                }
            }
        });
    }

    fn spawn(self: &Arc<Self>, job: ScoringJob) {
        let scoring = Arc::clone(self);
        tokio::spawn(async move {
            let written = if job.state == "running" { scoring.score(&job).await } else { Ok(()) };
            let outcome = match written {
                Ok(()) => scoring.adopted(&job).await,
                Err(error) => Err(error),
            };
            if let Err(error) = &outcome {
                tracing::warn!(job = %job.id, %error, "scoring job failed");
            }
            if let Err(error) = store::finish(&scoring.db, job.id.clone(), outcome).await {
                tracing::warn!(job = %job.id, %error, "cannot record the end of a scoring job");
            }
        });
    }

    /// Scores the rows into a file and hands it to ingestion.
    async fn score(&self, job: &ScoringJob) -> Result<(), String> {
        let input = self
            .ingestion
            .version(job.dataset.as_str(), job.dataset_version)
            .await
            .map_err(|error| format!("reading the input version: {error}"))?;
        let model = self.models.load(&job.model, job.version).await.map_err(|error| error.to_string())?;
        std::fs::create_dir_all(&self.scratch)
            .map_err(|error| format!("{}: {error}", self.scratch.display()))?;
        let scratch = tempfile::tempdir_in(&self.scratch).map_err(|error| error.to_string())?;
        let path = scratch.path().join("scores.parquet");
        let mut scorer = Scorer::new(model, input.schema.clone(), &path)?;
        let columns: Vec<String> =
            input.schema.columns.iter().map(|column| column.name.to_string()).collect();
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        let (mut scored, mut reported) = (0_u64, Instant::now());
        for file in &input.files {
            let parquet = self.store.parquet_file(&file.path).await.map_err(|error| error.to_string())?;
            let mut batches = self
                .store
                .stream_columns(&parquet, &columns, 0..parquet.row_groups())
                .map_err(|error| error.to_string())?;
            while let Some(batch) = batches.next().await {
                let batch = batch.map_err(|error| error.to_string())?;
                scored += batch.num_rows() as u64;
                scorer = tokio::task::spawn_blocking(move || scorer.push(&batch).map(|()| scorer))
                    .await
                    .map_err(|error| error.to_string())??;
                if reported.elapsed() >= PROGRESS_EVERY {
                    store::progress(&self.db, job.id.clone(), scored)
                        .await
                        .map_err(|error| error.to_string())?;
                    reported = Instant::now();
                }
            }
        }
        let (schema, rows) = tokio::task::spawn_blocking(move || scorer.finish())
            .await
            .map_err(|error| error.to_string())??
            .ok_or_else(|| format!("version {} of `{}` holds no rows", job.dataset_version, job.dataset))?;
        self.check_output(job, &schema).await?;
        let object = format!("scores/{}.parquet", job.id);
        let staged = StagedFile {
            local: path,
            object: object.clone(),
            rows,
            min_event_micros: 0,
            max_event_micros: 0,
            written: None,
        };
        self.store.upload(&staged).await.map_err(|error| error.to_string())?;
        let event = PredictionsWritten {
            id: job.id.clone(),
            dataset: job.output.to_string(),
            schema_json: serde_json::to_string(&schema).map_err(|error| error.to_string())?,
            path: object,
            rows: i64::try_from(rows).unwrap_or(i64::MAX),
            model: job.model.clone(),
            model_version: job.version,
            input: format!("{}@{}", job.dataset, job.dataset_version),
            written_at_unix_micros: Timestamp::now().as_micros(),
        };
        store::written(&self.db, job.id.clone(), rows, event).await.map_err(|error| error.to_string())?;
        self.outbox.wake();
        Ok(())
    }

    /// An existing output dataset must have exactly the columns the scored rows have.
    async fn check_output(&self, job: &ScoringJob, schema: &cairn_domain::Schema) -> Result<(), String> {
        match self.ingestion.dataset(job.output.as_str()).await {
            Ok(existing) if existing.schema.columns != schema.columns => Err(format!(
                "dataset `{}` exists with other columns than the scored rows have: name another output",
                job.output
            )),
            Ok(_) | Err(ClientError::Api { status: 404, .. }) => Ok(()),
            Err(error) => Err(format!("ingestion: {error}")),
        }
    }

    /// Waits for ingestion to add the job's rows: the version that holds them.
    async fn adopted(&self, job: &ScoringJob) -> Result<i64, String> {
        let deadline = Instant::now() + ADOPTION_LIMIT;
        loop {
            match self.ingestion.version_holding(job.output.as_str(), &job.id).await {
                Ok(Some(version)) => return Ok(version.version),
                Ok(None) => {}
                Err(error) => tracing::debug!(job = %job.id, %error, "waiting for the scored rows' version"),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the predictions were written, but ingestion has not added them to `{}` in {} minutes: see its log",
                    job.output,
                    ADOPTION_LIMIT.as_secs() / 60
                ));
            }
            if let Err(error) = store::touch(&self.db, job.id.clone()).await {
                tracing::warn!(job = %job.id, %error, "cannot renew a scoring job's heartbeat");
            }
            tokio::time::sleep(ADOPTION_POLL).await;
        }
    }
}
