//! The stream's reader: micro-batches of records validated, written and committed together with
//! the reader's position.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_api::Dataset;
use cairn_bus::{BatchLimits, ConsumerHandle, HandlerError, RawDelivery};
use cairn_domain::BatchId;
use cairn_events::topology::{self, INGEST_STREAM, ingest_dataset, ingest_subjects};
use cairn_records::{JsonRecordDecoder, Profile, QualityReport};
use cairn_service::{Outbox, StartError};
use cairn_storage::StagedFile;

use super::purger::Purger;
use super::records_of;
use crate::batches::{
    BatchError, decode_threads, discard, in_shards, ingested_event, quality_event, record_keys, upload_staged,
};
use crate::catalog::{self, BatchRow, BatchState, DATA, FileRow, QUARANTINE};
use crate::sink::{KnownKeys, Processed, Sink};
use crate::{Ingestion, datasets};

/// Fewer records than this per thread are not worth a thread of their own.
const MIN_RECORDS_PER_THREAD: usize = 4096;

/// The reader's name in `stream_positions`.
const CONSUMER: &str = "ingestion_records";

/// How many records a streamed message holds, for the micro-batch's size.
fn weight(delivery: &RawDelivery) -> usize {
    records_of(delivery).count()
}

/// Starts the reader that writes streamed records to the offline store, from the position it
/// last committed.
pub(crate) async fn follow(ingestion: &Ingestion) -> Result<ConsumerHandle, StartError> {
    let position = ingestion.context.db.run(|conn| catalog::position(conn, CONSUMER)).await?;
    let start = u64::try_from(position).unwrap_or_default() + 1;
    let limits = BatchLimits {
        max_weight: ingestion.stream_flush_rows,
        max_wait: Duration::from_millis(ingestion.stream_flush_millis),
        weight: Some(weight),
    };
    let state = ingestion.clone();
    let window = topology::stream(INGEST_STREAM).map_or(Duration::from_secs(120), |s| s.duplicate_window);
    let purger = Arc::new(Mutex::new(Purger::new(window + Duration::from_secs(10))));
    Ok(ingestion.context.bus.read_from(
        INGEST_STREAM,
        ingest_subjects(),
        start,
        limits,
        ingestion.context.shutdown.clone(),
        move |deliveries| {
            let (state, purger) = (state.clone(), purger.clone());
            async move {
                // Every failure is retried, whatever its disposition: a rejected batch would be
                // skipped, and these records were acknowledged to their producers.
                apply(&state, &purger, deliveries).await.map_err(HandlerError::retry)
            }
        },
    ))
}

struct Written {
    row: BatchRow,
    files: Vec<FileRow>,
    report: QualityReport,
    profile: Profile,
    threshold_exceeded: bool,
    /// Of the accepted records, for a dataset with unique keys.
    keys: Vec<u128>,
}

async fn apply(
    ingestion: &Ingestion,
    purger: &Mutex<Purger>,
    deliveries: Vec<RawDelivery>,
) -> Result<(), BatchError> {
    let db = &ingestion.context.db;
    let position = db.run(|conn| catalog::position(conn, CONSUMER)).await?;
    let last = deliveries.iter().map(|d| d.stream_sequence).max().unwrap_or_default();
    let mut by_dataset: BTreeMap<String, Vec<RawDelivery>> = BTreeMap::new();
    for delivery in deliveries {
        if i64::try_from(delivery.stream_sequence).unwrap_or(i64::MAX) <= position {
            continue; // committed before a crash lost the acknowledgement
        }
        let dataset = ingest_dataset(&delivery.subject).unwrap_or_default().to_owned();
        by_dataset.entry(dataset).or_default().push(delivery);
    }
    let mut written = Vec::new();
    for (dataset, records) in by_dataset {
        let declared = match datasets::get(&ingestion.context, dataset.clone()).await {
            Ok(declared) => declared,
            Err(crate::DatasetError::NotFound(_)) => {
                tracing::error!(
                    dataset,
                    messages = records.len(),
                    "records for an undeclared dataset were dropped"
                );
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        written.push(write(ingestion, declared, records).await?);
    }
    // A batch wholly at or below the position (read again after a reconnect) must not move it back.
    let sequence = i64::try_from(last).unwrap_or(i64::MAX).max(position);
    let threshold = ingestion.quarantine_threshold;
    let discarded: Vec<(String, Vec<String>)> = written
        .iter()
        .map(|batch| (batch.row.id.clone(), batch.files.iter().map(|file| file.path.clone()).collect()))
        .collect();
    let committing = db
        .call(move |conn| {
            cairn_db::write_transaction(conn, |conn| {
                for batch in &written {
                    record_keys(conn, &batch.row.dataset, &batch.keys)?;
                    let report_json = serde_json::to_string(&batch.report).ok();
                    catalog::finish_batch(
                        conn,
                        &batch.row.id,
                        BatchState::Committed,
                        None,
                        report_json,
                        None,
                    )?;
                    catalog::set_batch_profile(
                        conn,
                        &batch.row.id,
                        serde_json::to_string(&batch.profile).ok(),
                    )?;
                    catalog::commit_files(conn, &batch.files, None)?;
                    Outbox::stage(
                        conn,
                        &ingested_event(&batch.row.dataset, &batch.row.id, 0, &batch.report, &batch.files),
                    )?;
                    if batch.threshold_exceeded {
                        Outbox::stage(
                            conn,
                            &quality_event(&batch.row.dataset, &batch.row.id, &batch.report, threshold),
                        )?;
                    }
                }
                catalog::set_position(conn, CONSUMER, sequence)?;
                Ok::<_, BatchError>(())
            })
        })
        .await;
    if let Err(BatchError::KeyConflict) = &committing {
        // Another writer committed some of these keys meanwhile: drop what was written; the
        // records come again and the other writer's keys are read this time.
        for (id, paths) in discarded {
            discard(ingestion, id, paths, BatchState::Rejected, BatchError::KeyConflict.to_string()).await?;
        }
    }
    committing?;
    ingestion.context.outbox.wake();
    // What is committed need not stay on the bus; if this fails, a later commit purges it.
    let purge = purger.lock().ok().and_then(|mut purger| purger.committed(last, Instant::now()));
    if let Some(sequence) = purge
        && let Err(error) = ingestion.context.bus.purge_before(INGEST_STREAM, sequence + 1).await
    {
        tracing::debug!(%error, "stream not purged yet");
    }
    Ok(())
}

/// Validates and writes one dataset's records of a micro-batch, uploads the files (recorded as
/// pending first) and returns what to commit.
async fn write(
    ingestion: &Ingestion,
    declared: Dataset,
    deliveries: Vec<RawDelivery>,
) -> Result<Written, BatchError> {
    let batch_id = BatchId::new();
    let staging = ingestion.staging_root.join(batch_id.to_string());
    let schema = declared.schema.clone();
    let name = declared.name.clone();
    let dir = staging.clone();
    let known = KnownKeys::of(ingestion, &declared);
    let processed = tokio::task::spawn_blocking(move || {
        // Each record with the stream sequence of its message, which locates it in the quarantine.
        let records: Vec<(u64, Bytes)> = deliveries
            .iter()
            .flat_map(|delivery| records_of(delivery).map(|record| (delivery.stream_sequence, record)))
            .collect();
        let decoder = JsonRecordDecoder::new(&schema);
        let sink = |shard| Ok(Sink::new(&dir, &name, &schema, batch_id, shard, known.clone())?);
        let read = |sink: &mut Sink, records: &[(u64, Bytes)]| -> Result<(), BatchError> {
            for (sequence, record) in records {
                match decoder.decode(*sequence, record) {
                    Ok(record) => sink.record(*sequence, &record)?,
                    Err(error) => sink.undecodable(*sequence, &String::from_utf8_lossy(record), &error)?,
                }
            }
            Ok(())
        };
        // Large micro-batches are decoded and written by one thread per core, in slices.
        let threads = decode_threads(&schema).min(records.len().div_ceil(MIN_RECORDS_PER_THREAD)).max(1);
        if threads == 1 {
            let mut sink = sink(0)?;
            read(&mut sink, &records)?;
            return sink.finish();
        }
        let slice = records.len().div_ceil(threads);
        in_shards(threads, sink, |shard, sink| {
            let start = (shard as usize * slice).min(records.len());
            read(sink, &records[start..(start + slice).min(records.len())])
        })
    })
    .await
    .map_err(|_| BatchError::Worker)??;
    let Processed { files, quarantine, report, profile, keys } = processed;

    let row = BatchRow::receiving(batch_id, &declared.name, "stream");
    let staged: Vec<(&str, &StagedFile)> =
        quarantine.iter().map(|f| (QUARANTINE, f)).chain(files.iter().map(|f| (DATA, f))).collect();
    // A crash before the commit leaves nothing behind: the records are redelivered and written
    // again.
    let uploaded = upload_staged(ingestion, &row, true, &staged).await?;
    let _ = tokio::fs::remove_dir_all(&staging).await;
    let threshold_exceeded = report.quarantined_share() > ingestion.quarantine_threshold;
    Ok(Written { row, files: uploaded, report, profile, threshold_exceeded, keys })
}
