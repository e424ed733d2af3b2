//! Cleaning up after batches that never became visible: the files a crash or a key conflict
//! left in the store and the catalog.

use super::BatchError;
use crate::Ingestion;
use crate::catalog::{self, BatchState};

/// Removes what batches interrupted by a crash had written; they never became visible.
pub async fn clean_up_interrupted(ingestion: &Ingestion) -> Result<usize, BatchError> {
    let interrupted = ingestion.context.db.run(catalog::interrupted).await?;
    let count = interrupted.len();
    for (id, paths) in interrupted {
        let message = "interrupted by a restart; nothing of it was kept".to_owned();
        discard(ingestion, id, paths, BatchState::Aborted, message).await?;
    }
    let _ = tokio::fs::remove_dir_all(&ingestion.staging_root).await;
    Ok(count)
}

/// Deletes the files batch `id` wrote and ends it as `state`: it never became visible.
pub(crate) async fn discard(
    ingestion: &Ingestion,
    id: String,
    paths: Vec<String>,
    state: BatchState,
    message: String,
) -> Result<(), BatchError> {
    ingestion.store.delete(&paths).await?;
    ingestion
        .context
        .db
        .run(move |conn| {
            catalog::delete_files(conn, &paths)?;
            catalog::finish_batch(conn, &id, state, None, None, Some(message))
        })
        .await?;
    Ok(())
}
