//! Decoding a batch's input into its sinks: Parquet from a file, CSV and JSON Lines streamed
//! through one thread or cut into chunks for several.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use cairn_domain::{BatchId, Name, Schema};
use cairn_records::{
    Chunk, ChunkDecoder, CsvDecoder, CsvHeader, CsvRecords, DecodeError, JsonLinesDecoder, Numbered, Splitter,
};
use cairn_storage::StorageError;
use futures::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use super::parquet::decode_parquet;
use super::reader::{ChannelReader, UploadFailure, read_error};
use super::staging::receive_to_file;
use super::threads::{decode_threads, in_shards};
use super::{BatchError, Format, Input};
use crate::sink::{KnownKeys, Processed, Sink};

/// Streams the input through the decoder, validator and writers on a blocking thread.
pub(super) async fn process<S, E>(
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

/// Where the records of a batch go: its staging directory, dataset, schema and id, and the keys
/// committed before (unique keys).
pub(super) struct SinkTarget<'a> {
    pub(super) staging: &'a Path,
    pub(super) dataset: &'a Name,
    pub(super) schema: &'a Schema,
    pub(super) batch: BatchId,
    pub(super) known: Option<KnownKeys>,
}

impl SinkTarget<'_> {
    pub(super) fn sink(&self, shard: u32) -> Result<Sink, StorageError> {
        Sink::new(self.staging, self.dataset, self.schema, self.batch, shard, self.known.clone())
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
pub(super) fn finish(sink: Sink) -> Result<Processed, BatchError> {
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
