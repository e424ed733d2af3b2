//! Reading batches back: a page of a dataset's batches, one batch, and samples of the records
//! batches quarantined.

use cairn_api::{Batch, BatchPage, QuarantinedRecord};

use super::BatchError;
use crate::catalog;
use crate::paging::Page;
use crate::{Ingestion, datasets};

/// A page of a dataset's batches, oldest first, without their files.
pub(crate) async fn list(
    ingestion: &Ingestion,
    dataset: String,
    page: Page,
) -> Result<BatchPage, BatchError> {
    let dataset = datasets::get(&ingestion.context, dataset).await?;
    let rows = ingestion
        .context
        .db
        .run(move |conn| catalog::batches_of(conn, dataset.name.as_str(), page.offset, page.limit + 1))
        .await?;
    let (rows, next_page_token) = page.split(rows);
    let batches = rows.iter().map(|row| row.to_api(&[])).collect::<Result<_, _>>()?;
    Ok(BatchPage { batches, next_page_token })
}

/// One batch: its state, quality report, files and quarantine.
pub(crate) async fn get(ingestion: &Ingestion, dataset: String, id: String) -> Result<Batch, BatchError> {
    let wanted = id.clone();
    let found = ingestion.context.db.run(move |conn| catalog::batch(conn, &dataset, &id)).await?;
    let (row, files) = found.ok_or(BatchError::NotFound(wanted))?;
    Ok(row.to_api(&files)?)
}

/// At most `limit` quarantined records of a dataset (or of one of its batches), newest batch
/// first: each with its line, its values and the rules it broke.
pub(crate) async fn quarantined(
    ingestion: &Ingestion,
    dataset: String,
    batch: Option<String>,
    limit: usize,
) -> Result<Vec<QuarantinedRecord>, BatchError> {
    let dataset = datasets::get(&ingestion.context, dataset).await?;
    let files = ingestion
        .context
        .db
        .run(move |conn| catalog::quarantine_files(conn, dataset.name.as_str(), batch.as_deref()))
        .await?;
    let mut found = Vec::new();
    for file in files {
        if found.len() >= limit {
            break;
        }
        let records = ingestion.store.quarantined(&file.path, limit - found.len()).await?;
        found.extend(records.into_iter().map(|record| QuarantinedRecord {
            batch_id: file.batch_id.clone(),
            line: record.line,
            record: serde_json::from_str(&record.record).unwrap_or(serde_json::Value::String(record.record)),
            violations: record.violations,
        }));
    }
    Ok(found)
}
