//! A batch's staging directory on local disk, and how its files leave it: recorded as pending
//! first (so an interrupted batch can be cleaned up), then uploaded to the offline store.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use cairn_storage::{StagedFile, StoredFile};
use futures::{Stream, StreamExt as _, TryStreamExt as _};

use super::BatchError;
use crate::Ingestion;
use crate::catalog::{self, BatchRow, FileRow, FileState};

/// Where a batch stages its files before they reach the store.
pub(crate) fn staging_root(data_dir: &Path) -> PathBuf {
    data_dir.join("staging").join("ingestion")
}

pub(super) async fn receive_to_file<S, E>(path: &Path, mut body: S) -> Result<(), BatchError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use tokio::io::AsyncWriteExt as _;
    let failed = |error: std::io::Error| BatchError::Upload(format!("staging the upload: {error}"));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    }
    let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| BatchError::Upload(error.to_string()))?;
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)
}

/// Records the staged files as pending (after the batch row itself when `insert_batch`), so that
/// an interrupted batch can be cleaned up, then uploads them; returns their rows with the sizes
/// and hashes measured on the way.
pub(crate) async fn upload_staged(
    ingestion: &Ingestion,
    batch: &BatchRow,
    insert_batch: bool,
    staged: &[(&str, &StagedFile)],
) -> Result<Vec<FileRow>, BatchError> {
    let pending: Vec<FileRow> = staged.iter().map(|(area, file)| file_row(batch, area, file, None)).collect();
    let receiving = insert_batch.then(|| batch.clone());
    ingestion
        .context
        .db
        .run(move |conn| {
            if let Some(receiving) = &receiving {
                catalog::insert_batch(conn, receiving)?;
            }
            catalog::insert_files(conn, &pending)
        })
        .await?;
    // A few at once: a batch spanning a month stages dozens of files, and each upload (a rename
    // in a local store, requests to S3) mostly waits.
    let uploads: Vec<_> = staged.iter().map(|(area, file)| upload(ingestion, batch, area, file)).collect();
    futures::stream::iter(uploads).buffered(UPLOADS).try_collect().await
}

async fn upload(
    ingestion: &Ingestion,
    batch: &BatchRow,
    area: &str,
    file: &StagedFile,
) -> Result<FileRow, BatchError> {
    let stored = ingestion.store.upload(file).await?;
    Ok(file_row(batch, area, file, Some(&stored)))
}

/// Staged files a batch uploads at once.
const UPLOADS: usize = 4;

pub(crate) fn file_row(
    batch: &BatchRow,
    area: &str,
    file: &StagedFile,
    stored: Option<&StoredFile>,
) -> FileRow {
    FileRow {
        path: file.object.clone(),
        batch_id: batch.id.clone(),
        dataset: batch.dataset.clone(),
        area: area.to_owned(),
        state: FileState::Pending.as_str().to_owned(),
        version: None,
        rows: i64::try_from(file.rows).unwrap_or(i64::MAX),
        bytes: stored.map_or(0, |s| i64::try_from(s.bytes).unwrap_or(i64::MAX)),
        sha256: stored.map(|s| s.sha256.clone()).unwrap_or_default(),
        min_event_micros: file.min_event_micros,
        max_event_micros: file.max_event_micros,
    }
}
