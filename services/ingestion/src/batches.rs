//! Batch ingestion: a streamed upload decoded, validated and written to the offline store, made
//! visible as a new dataset version all at once — or not at all.

mod commit;
mod decode;
mod format;
mod parquet;
mod queries;
mod reader;
mod recovery;
mod staging;
mod threads;

use std::path::PathBuf;

use bytes::Bytes;
use cairn_api::Batch;
use cairn_bus::Disposition;
use cairn_db::DbError;
use cairn_domain::BatchId;
use cairn_records::DecodeError;
use cairn_storage::{SourceError, StorageError, open_source};
use futures::Stream;

pub(crate) use commit::{ingested_event, quality_event, record_keys};
pub use format::Format;
pub(crate) use queries::{get, list, quarantined};
pub(crate) use recovery::{clean_up_interrupted, discard};
pub(crate) use staging::{staging_root, upload_staged};
pub(crate) use threads::{decode_threads, in_shards};

use crate::catalog::{self, BatchRow, BatchState};
use crate::sink::KnownKeys;
use crate::{DatasetError, Ingestion, datasets};

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Unreadable(DecodeError),
    #[error("the batch holds no records")]
    Empty,
    #[error("the upload was interrupted: {0}")]
    Upload(String),
    #[error("records cannot be stored now (retry later): {0}")]
    Unavailable(String),
    #[error("batch {} failed: {share:.1}% of records quarantined, more than the {threshold:.1}% allowed", batch.id)]
    QualityFailed { batch: Box<Batch>, share: f64, threshold: f64 },
    #[error("offline store: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the batch worker stopped unexpectedly")]
    Worker,
    #[error(
        "a concurrent batch committed some of the same keys (entity keys + event timestamp) while this \
         one was checked; nothing of this batch was kept: send it again"
    )]
    KeyConflict,
    #[error("no batch {0}")]
    NotFound(String),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl From<diesel::result::Error> for BatchError {
    fn from(error: diesel::result::Error) -> Self {
        BatchError::Database(DbError::Query(error))
    }
}

/// Whether a consumer that met the error should handle its event again.
impl Disposition for BatchError {
    fn is_transient(&self) -> bool {
        match self {
            BatchError::Dataset(error) => error.is_transient(),
            BatchError::Database(error) => error.is_transient(),
            BatchError::Source(SourceError::Unreachable { .. }) => true,
            BatchError::Source(
                SourceError::Unsupported(_) | SourceError::NotFound(_) | SourceError::Forbidden(_),
            ) => false,
            // The store, the bus or a worker may do better next time; a concurrent batch's keys
            // are read on the next try.
            BatchError::Upload(_)
            | BatchError::Unavailable(_)
            | BatchError::Storage(_)
            | BatchError::Worker
            | BatchError::KeyConflict => true,
            BatchError::Unreadable(_)
            | BatchError::Empty
            | BatchError::QualityFailed { .. }
            | BatchError::NotFound(_) => false,
        }
    }
}

/// Ingests one batch from `body`. Returns the committed batch; every failure leaves nothing
/// visible (and an unreadable batch leaves nothing at all).
pub async fn ingest<S, E>(
    ingestion: &Ingestion,
    dataset: &str,
    format: Format,
    body: S,
) -> Result<Batch, BatchError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    ingest_from(ingestion, dataset, format, Input { body, local: None }, None).await
}

/// [`ingest`] from where the batch already is: S3, an HTTP(S) URL or a local path under the
/// import roots. A local Parquet file is read where it lies, not copied.
pub async fn import(
    ingestion: &Ingestion,
    dataset: &str,
    format: Format,
    url: &str,
) -> Result<Batch, BatchError> {
    // The dataset is checked first: an unknown one is a 404 before any source is touched.
    datasets::get(&ingestion.context, dataset.to_owned()).await?;
    let source = open_source(url, &ingestion.s3, &ingestion.import_roots).await?;
    let input = Input { body: source.stream, local: source.local.filter(|_| format == Format::Parquet) };
    ingest_from(ingestion, dataset, format, input, None).await
}

/// What Cairn computed a batch from: its origin (`training_data:<id>`, `predictions:<id>`) and
/// lineage as JSON.
pub(crate) type Origin = (String, String);

/// [`ingest`], recording where the batch came from; its version carries the lineage.
pub(crate) async fn ingest_from<S, E>(
    ingestion: &Ingestion,
    dataset: &str,
    format: Format,
    input: Input<S>,
    origin: Option<Origin>,
) -> Result<Batch, BatchError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let declared = datasets::get(&ingestion.context, dataset.to_owned()).await?;
    let batch_id = BatchId::new();
    let mut row = BatchRow::receiving(batch_id, &declared.name, format.as_str());
    if let Some((origin, lineage_json)) = origin {
        row.origin = Some(origin);
        row.lineage_json = Some(lineage_json);
    }
    let inserted = row.clone();
    ingestion.context.db.run(move |conn| catalog::insert_batch(conn, &inserted)).await?;

    let staging = ingestion.staging_root.join(batch_id.to_string());
    let known = KnownKeys::of(ingestion, &declared);
    let processed =
        decode::process(&staging, &declared.name, &declared.schema, batch_id, format, input, known).await;
    let result = match processed {
        Ok(processed) => commit::publish(ingestion, row, processed).await,
        Err(error) => {
            let message = error.to_string();
            let id = batch_id.to_string();
            ingestion
                .context
                .db
                .run(move |conn| {
                    catalog::finish_batch(conn, &id, BatchState::Rejected, None, None, Some(message))
                })
                .await?;
            Err(error)
        }
    };
    // What a committed batch leaves in staging (an upload's copy, empty directories) is of no
    // use to anyone: it goes after the answer (or at the next start). A rejected batch clears
    // its own before answering, so that it leaves nothing behind.
    if result.is_ok() {
        tokio::spawn(async move {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        });
    } else {
        let _ = tokio::fs::remove_dir_all(&staging).await;
    }
    result
}

/// A batch's bytes, and the file they are when it is local Parquet.
pub(crate) struct Input<S> {
    pub(crate) body: S,
    pub(crate) local: Option<PathBuf>,
}
