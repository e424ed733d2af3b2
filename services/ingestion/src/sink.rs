//! Where the records of a batch or micro-batch go: validated, counted and profiled, then written
//! to Parquet when accepted or to the quarantine with their reasons.

use std::collections::HashSet;
use std::path::Path;

use cairn_api::Dataset;
use cairn_db::{Database, DbError};
use cairn_domain::{BatchId, Name, Schema};
use cairn_records::{DecodeError, Profile, QualityReport, Record, Validator, Violation};
use cairn_storage::{
    BatchBuilder, Closing, PartitionedWriter, QuarantineWriter, RecordBatch, StagedFile, StorageError,
    columns,
};

use crate::{BatchError, Ingestion, catalog};

/// The keys earlier batches committed to a dataset that declares `unique_key`, read from the
/// metadata database one event day at a time, when the first record of that day arrives.
#[derive(Clone)]
pub(crate) struct KnownKeys {
    db: Database,
    dataset: String,
    runtime: tokio::runtime::Handle,
}

impl KnownKeys {
    /// `None` for a dataset without unique keys. Call on the runtime.
    pub(crate) fn of(ingestion: &Ingestion, dataset: &Dataset) -> Option<Self> {
        dataset.schema.unique_key.then(|| Self {
            db: ingestion.context.db.clone(),
            dataset: dataset.name.to_string(),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Blocks: call from a blocking thread, never from the runtime's own.
    fn of_day(&self, day: i32) -> Result<Vec<u128>, DbError> {
        let dataset = self.dataset.clone();
        self.runtime.block_on(self.db.run(move |conn| catalog::keys_of_day(conn, &dataset, day)))
    }
}

/// Records a sink gathers before checking, counting and writing them as one batch.
const ROWS_PER_BATCH: usize = 65_536;

pub(crate) struct Sink {
    /// Records and decoded rows waiting to be checked as a batch, with their lines.
    rows: BatchBuilder,
    lines: Vec<u64>,
    event_ts: usize,
    validator: Validator,
    /// With the days already read.
    known: Option<(KnownKeys, HashSet<i32>)>,
    report: QualityReport,
    profile: Profile,
    writer: PartitionedWriter,
    quarantine: QuarantineWriter,
}

/// What a sink produced, staged on local disk.
pub(crate) struct Processed {
    pub(crate) files: Vec<StagedFile>,
    pub(crate) quarantine: Vec<StagedFile>,
    pub(crate) report: QualityReport,
    /// Of the accepted records.
    pub(crate) profile: Profile,
    /// The accepted records' key digests, for a dataset with unique keys.
    pub(crate) keys: Vec<u128>,
}

impl Sink {
    /// `shard` tells apart the files of the sinks of one batch (one per thread).
    pub(crate) fn new(
        staging: &Path,
        dataset: &Name,
        schema: &Schema,
        batch: BatchId,
        shard: u32,
        known: Option<KnownKeys>,
    ) -> Result<Self, StorageError> {
        let columns = schema.columns.iter().map(|c| c.name.to_string()).collect();
        Ok(Self {
            rows: BatchBuilder::new(schema),
            lines: Vec::with_capacity(ROWS_PER_BATCH),
            event_ts: schema
                .columns
                .iter()
                .position(|c| c.name == schema.event_timestamp)
                .unwrap_or_default(),
            validator: Validator::new(schema),
            known: known.map(|known| (known, HashSet::new())),
            report: QualityReport::new(schema),
            profile: Profile::new(schema),
            writer: PartitionedWriter::new(staging, dataset, schema, batch)?.shard(shard),
            quarantine: QuarantineWriter::new(staging, dataset, columns, batch, shard)?,
        })
    }

    /// A decoded record: accepted, or quarantined with the rules it broke. `line` locates it.
    pub(crate) fn record(&mut self, line: u64, record: &Record) -> Result<(), BatchError> {
        self.rows.push(record);
        self.end_row(line)
    }

    /// Where a decoder writes the cells of the next row; then [`Sink::end_row`].
    pub(crate) fn cells(&mut self) -> &mut BatchBuilder {
        &mut self.rows
    }

    /// The row whose cells were written (`cells`) is whole; `line` locates it.
    pub(crate) fn end_row(&mut self, line: u64) -> Result<(), BatchError> {
        self.rows.end_row();
        self.lines.push(line);
        if self.rows.len() >= ROWS_PER_BATCH {
            self.check_rows()?;
        }
        Ok(())
    }

    fn check_rows(&mut self) -> Result<(), BatchError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch = self.rows.finish()?;
        let lines = std::mem::take(&mut self.lines);
        self.batch(&batch, |row| lines[row])?;
        self.lines = lines;
        self.lines.clear();
        Ok(())
    }

    /// Rows decoded as a batch of the schema's columns (`line` locates each): the accepted
    /// written, the others quarantined with the rules they broke.
    pub(crate) fn batch(
        &mut self,
        batch: &RecordBatch,
        line: impl Fn(usize) -> u64,
    ) -> Result<(), BatchError> {
        if let Some((known, days)) = &mut self.known {
            for day in columns::event_days(batch, self.event_ts) {
                if days.insert(day) {
                    self.validator.remember(known.of_day(day)?);
                }
            }
        }
        let violations = columns::check(&mut self.validator, batch);
        let accepted = if violations.iter().all(Vec::is_empty) {
            batch.clone()
        } else {
            for (row, broken) in violations.iter().enumerate().filter(|(_, broken)| !broken.is_empty()) {
                self.report.quarantine(broken);
                self.quarantine.push(line(row), &columns::record(batch, row), broken)?;
            }
            columns::accepted(batch, &violations)?
        };
        columns::observe(&accepted, &mut self.report, &mut self.profile);
        Ok(self.writer.push(&accepted)?)
    }

    /// Input that did not decode, quarantined as it arrived (streams cannot refuse a record).
    pub(crate) fn undecodable(
        &mut self,
        line: u64,
        raw: &str,
        error: &DecodeError,
    ) -> Result<(), BatchError> {
        // Checked first, so the quarantine keeps the order records came in.
        self.check_rows()?;
        let violation = Violation {
            column: error.column.clone().unwrap_or_default(),
            rule: "type".into(),
            value: error.message.clone(),
        };
        self.report.quarantine(std::slice::from_ref(&violation));
        Ok(self.quarantine.push_raw(line, raw, &[violation])?)
    }

    pub(crate) fn rows_in(&self) -> u64 {
        self.report.rows_in + self.rows.len() as u64
    }

    pub(crate) fn finish(self) -> Result<Processed, BatchError> {
        let (mut processed, closing) = self.finish_reading()?;
        for partition in closing {
            processed.files.extend(partition.close()?);
        }
        processed.files.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(processed)
    }

    /// What the sink produced when its input is read, but for its partitions' last rows: they
    /// are still to be written ([`Closing::close`]), on any thread.
    pub(crate) fn finish_reading(mut self) -> Result<(Processed, Vec<Closing>), BatchError> {
        self.check_rows()?;
        self.report.finish();
        let (files, closing) = self.writer.into_closing();
        let processed = Processed {
            files,
            quarantine: self.quarantine.finish()?.into_iter().collect(),
            report: self.report,
            profile: self.profile,
            keys: self.validator.take_accepted(),
        };
        Ok((processed, closing))
    }
}

impl Processed {
    /// What two sinks of the same batch produced, together.
    pub(crate) fn merge(mut self, other: Processed) -> Processed {
        self.files.extend(other.files);
        self.quarantine.extend(other.quarantine);
        self.report.merge(&other.report);
        self.report.finish();
        self.profile.merge(&other.profile);
        self.keys.extend(other.keys);
        self
    }
}
