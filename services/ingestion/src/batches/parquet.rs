//! Parquet batches: read from the file's footer, row groups (or parts of one) on several threads.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_storage::ParquetBatches;

use super::BatchError;
use super::decode::{SinkTarget, finish};
use super::threads::{decode_threads, in_shards};
use crate::sink::{Processed, Sink};

/// Reads a staged Parquet file's row groups on several threads (each its own sink and files).
pub(super) fn decode_parquet(path: &Path, target: &SinkTarget<'_>) -> Result<Processed, BatchError> {
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
