//! The batch's own thread pool: sinks that read on several threads, then write and close each
//! other's partitions, and their output merged.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use cairn_domain::Schema;
use cairn_storage::Closing;

use super::BatchError;
use crate::sink::{Processed, Sink};

/// Threads that decode, validate and write one CSV or JSON Lines batch: the machine's cores (at
/// most 4), or one when the schema checks uniqueness across the whole batch.
pub(crate) fn decode_threads(schema: &Schema) -> usize {
    if schema.unique_key { 1 } else { cairn_service::cores() }
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

#[cfg(test)]
mod tests {
    #![expect(clippy::panic, reason = "a reader that panics is what is tested")]

    use std::ops::Range;

    use cairn_domain::{BatchId, Name};
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
