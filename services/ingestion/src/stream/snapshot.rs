//! Snapshots: the streamed records committed so far made a new version, on request or on a
//! schedule.

use std::time::Duration;

use cairn_api::DatasetVersion;
use cairn_db::DbError;

use crate::batches::BatchError;
use crate::catalog;
use crate::versions::{self, Added};
use crate::{Ingestion, datasets};

/// Makes every streamed record committed so far part of a new version. Returns the new version,
/// or `None` when nothing new arrived since the last one.
pub async fn snapshot(ingestion: &Ingestion, dataset: &str) -> Result<Option<DatasetVersion>, BatchError> {
    let declared = datasets::get(&ingestion.context, dataset.to_owned()).await?;
    let name = declared.name.to_string();
    let created = ingestion
        .context
        .db
        .run(move |conn| {
            cairn_db::write_transaction(conn, |conn| {
                let appended = versions::append(conn, &name, |conn, version| {
                    let batches = catalog::unversioned_batches(conn, &name)?;
                    let profiles = batches.iter().filter_map(|(_, profile)| profile.clone()).collect();
                    let ids: Vec<String> = batches.into_iter().map(|(id, _)| id).collect();
                    let (rows, files) = catalog::version_batches(conn, &name, version, &ids)?;
                    if rows == 0 {
                        return Ok::<_, DbError>(None);
                    }
                    Ok(Some(Added { rows, files, profiles, batch_id: None, lineage_json: None }))
                })?;
                match appended {
                    Some(row) => catalog::version(conn, &name, row.version),
                    None => Ok(None),
                }
            })
        })
        .await?;
    ingestion.context.outbox.wake();
    Ok(created.map(|(row, files)| row.to_api(&files)).transpose()?)
}

/// Snapshots every dataset with new streamed records, every `interval`, until shutdown; a failed
/// round is logged and the next comes as usual.
pub(crate) fn schedule_snapshots(ingestion: &Ingestion, interval: Duration) -> tokio::task::JoinHandle<()> {
    let shutdown = ingestion.context.shutdown.clone();
    let ingestion = ingestion.clone();
    cairn_service::every("ingestion snapshots", interval, shutdown, move || {
        let ingestion = ingestion.clone();
        async move { snapshot_all(&ingestion).await }
    })
}

/// One round of scheduled snapshots: a dataset that fails does not hold back the others.
async fn snapshot_all(ingestion: &Ingestion) -> Result<(), BatchError> {
    let datasets = ingestion.context.db.run(catalog::datasets_with_unversioned).await?;
    for dataset in datasets {
        if let Err(error) = snapshot(ingestion, &dataset).await {
            tracing::warn!(dataset, %error, "scheduled snapshot failed");
        }
    }
    Ok(())
}
