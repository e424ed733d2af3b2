//! Committing a processed batch: its files uploaded, then in one transaction its version (or,
//! past the quality threshold, only its quarantine) and the events that announce it.

use cairn_api::Batch;
use cairn_db::AnyConnection;
use cairn_events::v1::{DataQualityViolated, DatasetBatchIngested};
use cairn_records::QualityReport;
use cairn_service::Outbox;
use cairn_storage::StagedFile;

use super::BatchError;
use super::recovery::discard;
use super::staging::upload_staged;
use crate::Ingestion;
use crate::catalog::{self, BatchRow, BatchState, DATA, FileRow, KeysRecorded, QUARANTINE};
use crate::sink::Processed;
use crate::versions::{self, Added};

/// Uploads the staged files and commits the batch — or, past the quality threshold, keeps only
/// its quarantine for inspection and fails it.
pub(super) async fn publish(
    ingestion: &Ingestion,
    row: BatchRow,
    processed: Processed,
) -> Result<Batch, BatchError> {
    let report = processed.report;
    let share = report.quarantined_share();
    let threshold = ingestion.quarantine_threshold;
    let failed = share > threshold;
    let mut staged: Vec<(&str, &StagedFile)> = processed.quarantine.iter().map(|f| (QUARANTINE, f)).collect();
    if !failed {
        staged.extend(processed.files.iter().map(|f| (DATA, f)));
    }
    let uploaded = upload_staged(ingestion, &row, false, &staged).await?;

    let report_json = serde_json::to_string(&report).ok();
    let batch_id = row.id.clone();
    let dataset = row.dataset.clone();
    let committed = uploaded.clone();
    let report_for_event = report.clone();
    let batch_profile = processed.profile;
    let keys = processed.keys;
    let committing = ingestion
        .context
        .db
        .call(move |conn| {
            cairn_db::write_transaction(conn, |conn| {
                if failed {
                    catalog::commit_files(conn, &committed, None)?;
                    catalog::finish_batch(conn, &batch_id, BatchState::Failed, None, report_json, None)?;
                    Outbox::stage(conn, &quality_event(&dataset, &batch_id, &report_for_event, threshold))?;
                    return Ok(None);
                }
                let appended = versions::append(conn, &dataset, |conn, version| {
                    record_keys(conn, &dataset, &keys)?;
                    let profile_json = serde_json::to_string(&batch_profile).ok();
                    catalog::set_batch_profile(conn, &batch_id, profile_json.clone())?;
                    catalog::commit_files(conn, &committed, Some(version))?;
                    catalog::finish_batch(
                        conn,
                        &batch_id,
                        BatchState::Committed,
                        Some(version),
                        report_json,
                        None,
                    )?;
                    Outbox::stage(
                        conn,
                        &ingested_event(&dataset, &batch_id, version, &report_for_event, &committed),
                    )?;
                    let data = || committed.iter().filter(|f| f.area == DATA);
                    Ok::<_, BatchError>(Some(Added {
                        rows: data().map(|f| f.rows).sum(),
                        files: data().map(|f| f.path.clone()).collect(),
                        profiles: profile_json.into_iter().collect(),
                        batch_id: Some(batch_id.clone()),
                        lineage_json: row.lineage_json.clone(),
                    }))
                })?;
                Ok(appended.map(|version| version.version))
            })
        })
        .await;
    let version = match committing {
        Err(BatchError::KeyConflict) => {
            let paths = uploaded.iter().map(|file| file.path.clone()).collect();
            discard(
                ingestion,
                row.id.clone(),
                paths,
                BatchState::Rejected,
                BatchError::KeyConflict.to_string(),
            )
            .await?;
            return Err(BatchError::KeyConflict);
        }
        other => other?,
    };
    ingestion.context.outbox.wake();

    let id = row.id.clone();
    let dataset = row.dataset.clone();
    let batch = ingestion
        .context
        .db
        .run(move |conn| catalog::batch(conn, &dataset, &id))
        .await?
        .map(|(row, files)| row.to_api(&files))
        .transpose()?
        .ok_or(BatchError::Worker)?;
    if version.is_none() {
        return Err(BatchError::QualityFailed {
            batch: Box::new(batch),
            share: share * 100.0,
            threshold: threshold * 100.0,
        });
    }
    Ok(batch)
}

/// Records a batch's keys inside its commit's transaction; a key a concurrent batch committed
/// first fails the commit.
pub(crate) fn record_keys(conn: &mut AnyConnection, dataset: &str, keys: &[u128]) -> Result<(), BatchError> {
    match catalog::insert_keys(conn, dataset, keys)? {
        KeysRecorded::All => Ok(()),
        KeysRecorded::Conflict => Err(BatchError::KeyConflict),
    }
}

/// The `batch_ingested` event of a committed batch (`version` 0: not in a version yet).
pub(crate) fn ingested_event(
    dataset: &str,
    batch_id: &str,
    version: i64,
    report: &QualityReport,
    files: &[FileRow],
) -> DatasetBatchIngested {
    let data: Vec<&FileRow> = files.iter().filter(|f| f.area == DATA).collect();
    DatasetBatchIngested {
        dataset: dataset.to_owned(),
        batch_id: batch_id.to_owned(),
        version,
        rows_accepted: i64::try_from(report.rows_accepted).unwrap_or(i64::MAX),
        rows_quarantined: i64::try_from(report.rows_quarantined).unwrap_or(i64::MAX),
        files: data.iter().map(|f| f.path.clone()).collect(),
        min_event_time_unix_micros: data.iter().map(|f| f.min_event_micros).min().unwrap_or_default(),
        max_event_time_unix_micros: data.iter().map(|f| f.max_event_micros).max().unwrap_or_default(),
    }
}

pub(crate) fn quality_event(
    dataset: &str,
    batch_id: &str,
    report: &QualityReport,
    threshold: f64,
) -> DataQualityViolated {
    DataQualityViolated {
        dataset: dataset.to_owned(),
        batch_id: batch_id.to_owned(),
        rows_in: i64::try_from(report.rows_in).unwrap_or(i64::MAX),
        rows_quarantined: i64::try_from(report.rows_quarantined).unwrap_or(i64::MAX),
        quarantined_share: report.quarantined_share(),
        threshold,
        quarantined_by_rule: report
            .quarantined_by_rule
            .iter()
            .map(|(rule, n)| (rule.clone(), i64::try_from(*n).unwrap_or(i64::MAX)))
            .collect(),
    }
}
