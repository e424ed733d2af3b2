//! Materialization: the latest row of each entity, from a feature view's source files in the
//! offline store to the online store — for a time range or from the view version's watermark,
//! on demand and on a schedule — and the streaming path, which writes the rows of every batch
//! ingestion lands to the views already online, without a job.

mod latest;
mod records;
mod run;
mod schedule;
mod streaming;

use cairn_db::DbError;
use cairn_storage::StorageError;

use crate::online::OnlineError;
use crate::point_in_time::JoinError;
use crate::transform::TransformError;

pub(crate) use records::fail_interrupted;
pub(crate) use schedule::schedule;
pub(crate) use streaming::follow_batches;

#[derive(Debug, thiserror::Error)]
pub(crate) enum MaterializeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("reading the offline store: {0}")]
    Storage(#[from] StorageError),
    #[error("reading the offline store: {0}")]
    Rows(#[from] JoinError),
    #[error(transparent)]
    Online(#[from] OnlineError),
    #[error("the reader of the offline store stopped: {0}")]
    Reader(String),
    #[error(transparent)]
    Transform(#[from] TransformError),
}

/// The streaming path's failures, for the batch consumer: the batch's rows must reach the online
/// store, or its values stay stale until the next run, so whatever may pass — the database, the
/// offline or online store, a reader thread, a view's query over data still arriving — brings
/// the batch again (each attempt logged). A request's own mistakes never arise there.
impl cairn_bus::Disposition for MaterializeError {
    fn is_transient(&self) -> bool {
        match self {
            MaterializeError::NotFound(_) | MaterializeError::Invalid(_) => false,
            MaterializeError::Database(_)
            | MaterializeError::Storage(_)
            | MaterializeError::Rows(_)
            | MaterializeError::Online(_)
            | MaterializeError::Reader(_)
            | MaterializeError::Transform(_) => true,
        }
    }
}
