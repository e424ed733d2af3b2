//! Where the records of a batch or micro-batch go: validated, counted and profiled, then written
//! to Parquet when accepted or to the quarantine with their reasons.

use std::collections::HashSet;
use std::path::Path;

use cairn_api::Dataset;
use cairn_db::{Database, DbError};
use cairn_domain::{BatchId, Name, Schema};
use cairn_records::{DecodeError, Profile, QualityReport, Record, Validator, Violation};
use cairn_storage::{PartitionedWriter, QuarantineWriter, StagedFile, StorageError};

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

pub(crate) struct Sink {
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
        if let Some((known, days)) = &mut self.known
            && let Some(day) = self.validator.key_day(record)
            && days.insert(day)
        {
            self.validator.remember(known.of_day(day)?);
        }
        let violations = self.validator.check(record);
        if violations.is_empty() {
            self.report.accept(record);
            self.profile.observe(record);
            Ok(self.writer.push(record)?)
        } else {
            self.report.quarantine(&violations);
            Ok(self.quarantine.push(line, record, &violations)?)
        }
    }

    /// Input that did not decode, quarantined as it arrived (streams cannot refuse a record).
    pub(crate) fn undecodable(
        &mut self,
        line: u64,
        raw: &str,
        error: &DecodeError,
    ) -> Result<(), StorageError> {
        let violation = Violation {
            column: error.column.clone().unwrap_or_default(),
            rule: "type".into(),
            value: error.message.clone(),
        };
        self.report.quarantine(std::slice::from_ref(&violation));
        self.quarantine.push_raw(line, raw, &[violation])
    }

    pub(crate) fn rows_in(&self) -> u64 {
        self.report.rows_in
    }

    pub(crate) fn finish(mut self) -> Result<Processed, StorageError> {
        self.report.finish();
        Ok(Processed {
            files: self.writer.finish()?,
            quarantine: self.quarantine.finish()?.into_iter().collect(),
            report: self.report,
            profile: self.profile,
            keys: self.validator.take_accepted(),
        })
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
