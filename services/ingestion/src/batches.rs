//! Batch ingestion: a streamed upload decoded, validated and written to the offline store, made
//! visible as a new dataset version all at once — or not at all.

use std::io::{BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use cairn_api::Batch;
use cairn_db::DbError;
use cairn_domain::{BatchId, Name, Schema, Timestamp};
use cairn_events::v1::{DataQualityViolated, DatasetBatchIngested, DatasetVersionCreated};
use cairn_records::{
    Chunk, ChunkDecoder, CsvDecoder, CsvHeader, CsvRecords, DecodeError, JsonLinesDecoder, Numbered, Profile,
    QualityReport, Splitter,
};
use cairn_service::Outbox;
use cairn_storage::{Closing, ParquetBatches, StagedFile, StorageError, StoredFile};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use tokio::sync::mpsc;

use crate::catalog::{self, BatchRow, DATA, FileRow, QUARANTINE, VersionRow};
use crate::sink::{KnownKeys, Processed, Sink};
use crate::{DatasetError, Ingestion, datasets};

/// The input formats of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    /// `csv`, `jsonl` (or `ndjson`), `parquet`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format a file name's extension says (`.csv`, `.jsonl`, `.ndjson`, `.parquet`).
    pub fn from_extension(path: &str) -> Option<Self> {
        Self::parse(path.rsplit_once('.')?.1.to_ascii_lowercase().as_str())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

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
}

impl From<diesel::result::Error> for BatchError {
    fn from(error: diesel::result::Error) -> Self {
        BatchError::Database(DbError::Query(error))
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

/// [`ingest`] from an import's source; a local Parquet file is read where it lies, not copied.
pub async fn import(
    ingestion: &Ingestion,
    dataset: &str,
    format: Format,
    source: cairn_storage::Source,
) -> Result<Batch, BatchError> {
    let input = Input { body: source.stream, local: source.local.filter(|_| format == Format::Parquet) };
    ingest_from(ingestion, dataset, format, input, None).await
}

/// What Cairn computed a batch from: its origin (`training_data:<id>`) and lineage as JSON.
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
    let processed = process(&staging, &declared.name, &declared.schema, batch_id, format, input, known).await;
    let result = match processed {
        Ok(processed) => publish(ingestion, row, processed).await,
        Err(error) => {
            let message = error.to_string();
            let id = batch_id.to_string();
            ingestion
                .context
                .db
                .run(move |conn| catalog::finish_batch(conn, &id, "rejected", None, None, Some(message)))
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

/// Streams the input through the decoder, validator and writers on a blocking thread.
async fn process<S, E>(
    staging: &Path,
    dataset: &Name,
    schema: &Schema,
    batch: BatchId,
    format: Format,
    Input { mut body, local }: Input<S>,
    known: Option<KnownKeys>,
) -> Result<Processed, BatchError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if format == Format::Parquet {
        // Parquet is read from its footer: an upload goes to disk first, never into memory.
        let path = match local {
            Some(path) => path,
            None => {
                let path = staging.join("upload.parquet");
                receive_to_file(&path, body).await?;
                path
            }
        };
        let (staging, dataset, schema) = (staging.to_owned(), dataset.clone(), schema.clone());
        return tokio::task::spawn_blocking(move || {
            let target = SinkTarget { staging: &staging, dataset: &dataset, schema: &schema, batch, known };
            decode_parquet(&path, &target)
        })
        .await
        .map_err(|_| BatchError::Worker)?;
    }
    let (sender, receiver) = mpsc::channel::<Result<Bytes, String>>(8);
    let (staging, dataset, schema) = (staging.to_owned(), dataset.clone(), schema.clone());
    let worker = tokio::task::spawn_blocking(move || {
        let upload = UploadFailure::default();
        let input = ChannelReader { receiver, current: Bytes::new(), failure: upload.clone() };
        let target = SinkTarget { staging: &staging, dataset: &dataset, schema: &schema, batch, known };
        match decode_threads(&schema) {
            1 => {
                let mut sink = target.sink(0)?;
                let failed = |error| read_error(&upload, error);
                match format {
                    Format::Csv => {
                        let decoder = CsvDecoder::new(input, &schema).map_err(BatchError::Unreadable)?;
                        csv_into(decoder, &mut sink, failed)?;
                    }
                    Format::JsonLines | Format::Parquet => {
                        let input = BufReader::with_capacity(1 << 20, input);
                        records_into(JsonLinesDecoder::new(input, &schema), &mut sink, failed)?;
                    }
                }
                finish(sink)
            }
            threads => decode_in_parallel(input, format == Format::Csv, threads, &upload, &target),
        }
    });
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| error.to_string());
        let failed = chunk.is_err();
        // The worker stops reading when the input is unreadable; its error is the answer.
        if sender.send(chunk).await.is_err() || failed {
            break;
        }
    }
    drop(sender);
    worker.await.map_err(|_| BatchError::Worker)?
}

async fn receive_to_file<S, E>(path: &Path, mut body: S) -> Result<(), BatchError>
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

/// Where the records of a batch go: its staging directory, dataset, schema and id, and the keys
/// committed before (unique keys).
struct SinkTarget<'a> {
    staging: &'a Path,
    dataset: &'a Name,
    schema: &'a Schema,
    batch: BatchId,
    known: Option<KnownKeys>,
}

impl SinkTarget<'_> {
    fn sink(&self, shard: u32) -> Result<Sink, StorageError> {
        Sink::new(self.staging, self.dataset, self.schema, self.batch, shard, self.known.clone())
    }
}

/// Threads that decode, validate and write one CSV or JSON Lines batch: the machine's cores (at
/// most 4), or one when the schema checks uniqueness across the whole batch.
pub(crate) fn decode_threads(schema: &Schema) -> usize {
    // Asked once: on Linux the answer reads the cgroup's CPU quota from files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if schema.unique_key {
        return 1;
    }
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4))
}

/// A read error is the upload failing, if it did; otherwise the input is unreadable.
fn read_error(upload: &UploadFailure, error: DecodeError) -> BatchError {
    match upload.take() {
        Some(reason) => BatchError::Upload(reason),
        None => BatchError::Unreadable(error),
    }
}

/// Decodes CSV records straight into the sink's columns.
fn csv_into(
    mut decoder: impl CsvRecords,
    sink: &mut Sink,
    failed: impl Fn(DecodeError) -> BatchError,
) -> Result<(), BatchError> {
    while let Some(line) = decoder.next_into(sink.cells()) {
        sink.end_row(line.map_err(&failed)?)?;
    }
    Ok(())
}

fn records_into(
    records: impl Iterator<Item = Result<Numbered, DecodeError>>,
    sink: &mut Sink,
    failed: impl Fn(DecodeError) -> BatchError,
) -> Result<(), BatchError> {
    for item in records {
        let (line, record) = item.map_err(&failed)?;
        sink.record(line, &record)?;
    }
    Ok(())
}

/// What the sink produced; a batch without a record is refused.
fn finish(sink: Sink) -> Result<Processed, BatchError> {
    if sink.rows_in() == 0 {
        return Err(BatchError::Empty);
    }
    sink.finish()
}

/// Cuts the input into chunks of whole records (CSV: `quoted`) for `threads` sinks, each writing
/// its own files and taking the next chunk when it is done with one; the answer is theirs
/// merged, or the error of the earliest line.
fn decode_in_parallel<R: Read>(
    input: R,
    quoted: bool,
    threads: usize,
    upload: &UploadFailure,
    target: &SinkTarget<'_>,
) -> Result<Processed, BatchError> {
    let mut splitter = Splitter::new(input, quoted);
    let header = if quoted {
        let first =
            splitter.first_record().map_err(|e| read_error(upload, DecodeError::at(1, e.to_string())))?;
        let bytes = first.map(|chunk| chunk.bytes).unwrap_or_default();
        Some(CsvHeader::parse(&bytes, target.schema).map_err(BatchError::Unreadable)?)
    } else {
        None
    };
    let header = header.as_ref();
    let (sender, chunks) = std::sync::mpsc::sync_channel::<Chunk>(threads);
    // Decoded chunks' buffers go back to the splitter, to read the next chunks into.
    let (spent_sender, spent) = std::sync::mpsc::channel::<Vec<u8>>();
    let failed = AtomicBool::new(false);
    let (result, split) = std::thread::scope(|scope| {
        let failed = &failed;
        let sinks = scope.spawn(move || {
            let chunks = Mutex::new(chunks);
            let read = |_, sink: &mut Sink| -> Result<(), BatchError> {
                loop {
                    // Taken apart from the loop's head: the lock must not last while it decodes.
                    let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok(chunk) = next else { return Ok(()) };
                    let bytes = chunk.bytes.as_slice();
                    let result = match header {
                        Some(header) => csv_into(
                            ChunkDecoder::new(bytes, header, chunk.first_line),
                            sink,
                            BatchError::Unreadable,
                        ),
                        None => records_into(
                            JsonLinesDecoder::chunk(bytes, target.schema, chunk.first_line),
                            sink,
                            BatchError::Unreadable,
                        ),
                    };
                    // A failed chunk ends the batch: its error is the answer.
                    result.inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                    // The splitter may have finished already.
                    let _ = spent_sender.send(chunk.bytes);
                }
            };
            in_shards(threads, |shard| Ok(target.sink(shard)?), read)
            // The chunks go with this thread: the splitter stops sending when every sink is done.
        });
        let mut split = Ok(());
        while !failed.load(Ordering::Relaxed) {
            for bytes in spent.try_iter() {
                splitter.recycle(bytes);
            }
            match splitter.next_chunk() {
                Ok(Some(chunk)) => {
                    if sender.send(chunk).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    split = Err(error);
                    break;
                }
            }
        }
        drop(sender);
        (sinks.join().unwrap_or(Err(BatchError::Worker)), split)
    });
    if let Some(reason) = upload.take() {
        return Err(BatchError::Upload(reason));
    }
    match (result, split) {
        (Ok(_), Err(error)) => Err(BatchError::Unreadable(DecodeError::at(0, error.to_string()))),
        (result, _) => result,
    }
}

/// The sinks' output merged, or the error of the earliest line (or row) — an error that is
/// not about the input comes first.
fn merge_results(results: Vec<Result<Processed, BatchError>>) -> Result<Processed, BatchError> {
    let mut processed: Option<Processed> = None;
    let mut first_error: Option<BatchError> = None;
    for result in results {
        match result {
            Ok(part) => {
                processed = Some(match processed {
                    Some(all) => all.merge(part),
                    None => part,
                })
            }
            Err(error) => {
                let earlier = match (&error, &first_error) {
                    (_, None) => true,
                    (BatchError::Unreadable(new), Some(BatchError::Unreadable(old))) => new.line < old.line,
                    (_, Some(BatchError::Unreadable(_))) => true,
                    _ => false,
                };
                if earlier {
                    first_error = Some(error);
                }
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    match processed {
        Some(processed) if processed.report.rows_in > 0 => Ok(processed),
        _ => Err(BatchError::Empty),
    }
}

/// Reads a staged Parquet file's row groups on several threads (each its own sink and files).
fn decode_parquet(path: &Path, target: &SinkTarget<'_>) -> Result<Processed, BatchError> {
    let open = || std::fs::File::open(path).map_err(|e| BatchError::Upload(e.to_string()));
    let groups = ParquetBatches::row_groups(open()?).map_err(BatchError::Unreadable)?;
    let threads = decode_threads(target.schema).min(groups.len().max(1));
    let read = |sink: &mut Sink, batches: ParquetBatches| -> Result<(), BatchError> {
        for item in batches {
            let (first_row, batch) = item.map_err(BatchError::Unreadable)?;
            sink.batch(&batch, |row| first_row + row as u64)?;
        }
        Ok(())
    };
    if threads == 1 {
        let mut sink = target.sink(0)?;
        read(&mut sink, ParquetBatches::open(open()?, target.schema).map_err(BatchError::Unreadable)?)?;
        return finish(sink);
    }
    // Whole row groups, then those left over when they do not divide evenly cut into a part for
    // each thread; a thread takes the next when it is done with one, so a thread the machine
    // slows down reads less.
    let whole = groups.len() - groups.len() % threads;
    let parts: Vec<(usize, Option<Range<usize>>)> = (0..whole)
        .map(|group| (group, None))
        .chain(groups.iter().enumerate().skip(whole).flat_map(|(group, rows)| {
            (0..threads).map(move |shard| (group, Some(rows * shard / threads..rows * (shard + 1) / threads)))
        }))
        .filter(|(_, part)| part.as_ref().is_none_or(|part| !part.is_empty()))
        .collect();
    let next = AtomicUsize::new(0);
    in_shards(
        threads,
        |shard| Ok(target.sink(shard)?),
        |_, sink| {
            while let Some((group, part)) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
                let batches = ParquetBatches::open_row_group(open()?, target.schema, *group, part.clone())
                    .map_err(BatchError::Unreadable)
                    .inspect_err(|_| next.store(parts.len(), Ordering::Relaxed))?;
                // A failed part ends the batch: the other threads take no more.
                read(sink, batches).inspect_err(|_| next.store(parts.len(), Ordering::Relaxed))?;
            }
            Ok(())
        },
    )
}

/// Runs `read(shard, sink)` on `threads` threads, each into a sink of its own (`sink(shard)`). Then the
/// partitions the sinks buffered are written and closed by whichever thread is free, largest
/// first: a thread the machine slows down, or that read more rows, does not leave the others
/// idle. The answer is the sinks' output merged, or the error of the earliest line.
pub(crate) fn in_shards<S, R>(threads: usize, sink: S, read: R) -> Result<Processed, BatchError>
where
    S: Fn(u32) -> Result<Sink, BatchError> + Sync,
    R: Fn(u32, &mut Sink) -> Result<(), BatchError> + Sync,
{
    let closings = Closings { state: Mutex::new((Vec::new(), threads)), changed: Condvar::new() };
    let results = std::thread::scope(|scope| {
        let (sink, read, closings) = (&sink, &read, &closings);
        let workers: Vec<_> = (0..threads)
            .map(|shard| {
                scope.spawn(move || {
                    let reading = Reading(closings);
                    let shard = u32::try_from(shard).unwrap_or_default();
                    let mut sink = sink(shard)?;
                    read(shard, &mut sink)?;
                    let (mut processed, closing) = sink.finish_reading()?;
                    reading.done(closing);
                    while let Some(partition) = closings.next() {
                        processed.files.extend(partition.close()?);
                    }
                    Ok(processed)
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().unwrap_or(Err(BatchError::Worker))).collect()
    });
    let mut processed = merge_results(results)?;
    processed.files.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(processed)
}

/// The partitions of a batch's sinks still to be written and closed, and how many threads are
/// still reading (and may add some).
struct Closings {
    state: Mutex<(Vec<Closing>, usize)>,
    changed: Condvar,
}

impl Closings {
    fn lock(&self) -> MutexGuard<'_, (Vec<Closing>, usize)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The largest partition left; none once every thread has read and none is left.
    fn next(&self) -> Option<Closing> {
        let mut state = self.lock();
        loop {
            if let Some(partition) = state.0.pop() {
                return Some(partition);
            }
            if state.1 == 0 {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A thread still reading: when it is done — or fails, or panics — the others stop waiting for
/// it.
struct Reading<'a>(&'a Closings);

impl Reading<'_> {
    /// A day another thread left too, and nobody took yet, becomes one partition.
    fn done(self, closing: Vec<Closing>) {
        let mut state = self.0.lock();
        for partition in closing {
            let left = state.0.iter_mut().try_fold(partition, |partition, waiting| waiting.absorb(partition));
            state.0.extend(left);
        }
        state.0.sort_by_key(Closing::pending_rows);
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.lock().1 -= 1;
        self.0.changed.notify_all();
    }
}

/// Uploads the staged files and commits the batch — or, past the quality threshold, keeps only
/// its quarantine for inspection and fails it.
async fn publish(ingestion: &Ingestion, row: BatchRow, processed: Processed) -> Result<Batch, BatchError> {
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
                    catalog::finish_batch(conn, &batch_id, "failed", None, report_json, None)?;
                    Outbox::stage(conn, &quality_event(&dataset, &batch_id, &report_for_event, threshold))?;
                    return Ok(None);
                }
                catalog::lock_dataset(conn, &dataset)?;
                catalog::insert_keys(conn, &dataset, &keys)?;
                let schema_json = catalog::current_schema_json(conn, &dataset)?;
                let previous = catalog::latest_version(conn, &dataset)?;
                let version = previous.as_ref().map_or(1, |v| v.version + 1);
                let batch_profile_json = serde_json::to_string(&batch_profile).ok();
                catalog::set_batch_profile(conn, &batch_id, batch_profile_json.clone())?;
                let profile_json = merged_profile(
                    previous.as_ref().and_then(|v| v.profile_json.as_deref()),
                    batch_profile_json.as_deref().into_iter(),
                );
                let rows = previous.map_or(0, |v| v.rows)
                    + committed.iter().filter(|f| f.area == DATA).map(|f| f.rows).sum::<i64>();
                let created_at = Timestamp::now().as_micros();
                catalog::commit_files(conn, &committed, Some(version))?;
                catalog::finish_batch(conn, &batch_id, "committed", Some(version), report_json, None)?;
                catalog::insert_version(
                    conn,
                    &VersionRow {
                        dataset: dataset.clone(),
                        version,
                        created_at,
                        rows,
                        batch_id: Some(batch_id.clone()),
                        schema_json,
                        profile_json,
                        lineage_json: row.lineage_json.clone(),
                    },
                )?;
                Outbox::stage(
                    conn,
                    &ingested_event(&dataset, &batch_id, version, &report_for_event, &committed),
                )?;
                Outbox::stage(
                    conn,
                    &DatasetVersionCreated {
                        dataset: dataset.clone(),
                        version,
                        rows,
                        batch_id: batch_id.clone(),
                        created_at_unix_micros: created_at,
                        files: committed.iter().filter(|f| f.area == DATA).map(|f| f.path.clone()).collect(),
                    },
                )?;
                Ok::<_, BatchError>(Some(version))
            })
        })
        .await;
    let version = match committing {
        Err(BatchError::KeyConflict) => {
            let paths = uploaded.iter().map(|file| file.path.clone()).collect();
            discard(ingestion, row.id.clone(), paths, "rejected", BatchError::KeyConflict.to_string())
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

/// The profile of a new version: the previous version's merged with its new batches'.
pub(crate) fn merged_profile<'a>(
    previous: Option<&str>,
    added: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut profile: Option<Profile> = previous.and_then(|json| serde_json::from_str(json).ok());
    for json in added {
        let Ok(batch) = serde_json::from_str::<Profile>(json) else { continue };
        match &mut profile {
            Some(profile) => profile.merge(&batch),
            None => profile = Some(batch),
        }
    }
    profile.and_then(|profile| serde_json::to_string(&profile).ok())
}

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
        state: "pending".into(),
        version: None,
        rows: i64::try_from(file.rows).unwrap_or(i64::MAX),
        bytes: stored.map_or(0, |s| i64::try_from(s.bytes).unwrap_or(i64::MAX)),
        sha256: stored.map(|s| s.sha256.clone()).unwrap_or_default(),
        min_event_micros: file.min_event_micros,
        max_event_micros: file.max_event_micros,
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

/// Removes what batches interrupted by a crash had written; they never became visible.
pub async fn clean_up_interrupted(ingestion: &Ingestion) -> Result<usize, BatchError> {
    let interrupted = ingestion.context.db.run(catalog::interrupted).await?;
    let count = interrupted.len();
    for (id, paths) in interrupted {
        let message = "interrupted by a restart; nothing of it was kept".to_owned();
        discard(ingestion, id, paths, "aborted", message).await?;
    }
    let _ = tokio::fs::remove_dir_all(&ingestion.staging_root).await;
    Ok(count)
}

/// Deletes the files batch `id` wrote and ends it as `state`: it never became visible.
pub(crate) async fn discard(
    ingestion: &Ingestion,
    id: String,
    paths: Vec<String>,
    state: &'static str,
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

/// Why the upload itself broke off, if it did (as opposed to its content being unreadable).
#[derive(Clone, Default)]
struct UploadFailure(Arc<Mutex<Option<String>>>);

impl UploadFailure {
    fn set(&self, reason: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(reason);
        }
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Feeds the async upload to the synchronous decoders, a chunk at a time.
struct ChannelReader {
    receiver: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
    failure: UploadFailure,
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(reason)) => {
                    self.failure.set(reason.clone());
                    return Err(std::io::Error::other(reason));
                }
                None => return Ok(0),
            }
        }
        let n = buffer.len().min(self.current.len());
        buffer[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Where a batch stages its files before they reach the store.
pub(crate) fn staging_root(data_dir: &Path) -> PathBuf {
    data_dir.join("staging").join("ingestion")
}

#[cfg(test)]
mod tests {
    #![expect(clippy::panic, reason = "a reader that panics is what is tested")]

    use cairn_records::{Record, Value};

    use super::*;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({"columns": [
            {"name": "n", "type": "int64", "nullable": false},
            {"name": "ts", "type": "timestamp", "nullable": false}], "event_timestamp": "ts"}))
        .unwrap()
    }

    /// Row `i`: one of four days.
    fn record(i: u64) -> Record {
        let day = i64::try_from(i % 4).unwrap() * 86_400_000_000;
        vec![Value::Int(i64::try_from(i).unwrap()), Value::Timestamp(1_767_225_600_000_000 + day)]
    }

    fn rows(sink: &mut Sink, range: Range<u64>) -> Result<(), BatchError> {
        range.into_iter().try_for_each(|i| sink.record(i + 1, &record(i)))
    }

    #[test]
    fn threads_close_each_others_partitions_and_a_failed_or_panicking_reader_ends_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (schema, name, batch) = (schema(), "events".parse::<Name>().unwrap(), BatchId::new());
        let sink = |shard| Ok(Sink::new(dir.path(), &name, &schema, batch, shard, None)?);

        // One thread reads every row: the other closes some of its partitions.
        let processed =
            in_shards(2, sink, |shard, sink| if shard == 0 { rows(sink, 0..10_000) } else { Ok(()) });
        let processed = processed.unwrap();
        assert_eq!(processed.report.rows_accepted, 10_000);
        assert_eq!(processed.files.iter().map(|file| file.rows).sum::<u64>(), 10_000);
        assert_eq!(processed.files.len(), 4, "a file a day");

        // A reader that fails or panics while the other reads: the batch ends with its error,
        // and no thread waits for it forever.
        let failed =
            in_shards(
                2,
                sink,
                |shard, sink| if shard == 1 { Err(BatchError::Worker) } else { rows(sink, 0..5_000) },
            );
        assert!(matches!(failed, Err(BatchError::Worker)));
        let panicked = in_shards(2, sink, |shard, sink| {
            if shard == 1 {
                panic!("a reader's bug");
            }
            rows(sink, 0..5_000)
        });
        assert!(matches!(panicked, Err(BatchError::Worker)));
    }
}
