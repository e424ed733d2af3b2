use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array as _, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Schema as ArrowSchema};
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use cairn_domain::{BatchId, Name, Schema};
use cairn_objects::{Written, hex};
use chrono::{DateTime, NaiveDate};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use sha2::{Digest as _, Sha256};

use crate::columns::DAY_MICROS;
use crate::{StorageError, arrow_schema};

/// Rows per row group: large enough for analytics engines, small enough to bound memory.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;
/// Rows buffered across all partitions before the largest is flushed as a row group.
const BUFFERED_ROWS: usize = 512 * 1024;
/// Partition files open at once; past this the least recently written one is closed.
const OPEN_FILES: usize = 64;

/// A Parquet file finished on local disk, waiting to be uploaded to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedFile {
    pub local: PathBuf,
    /// Its path in the object store.
    pub object: String,
    pub rows: u64,
    pub min_event_micros: i64,
    pub max_event_micros: i64,
    /// Its size and SHA-256, when it was hashed as it was written: a local store then takes it
    /// by rename without reading it again.
    pub written: Option<Written>,
}

/// A staged file being written, hashed on the way.
pub(crate) struct HashedFile {
    file: File,
    hasher: Sha256,
    bytes: u64,
}

impl HashedFile {
    pub(crate) fn create(path: &Path) -> Result<Self, StorageError> {
        let file = File::create(path)
            .map_err(|source| StorageError::Staging { path: path.display().to_string(), source })?;
        Ok(Self { file, hasher: Sha256::new(), bytes: 0 })
    }

    pub(crate) fn finish(self) -> Written {
        Written { bytes: self.bytes, sha256: hex(&self.hasher.finalize()) }
    }
}

impl Write for HashedFile {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

struct Partition {
    /// Rows buffered for the next row group.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    /// Event-time bounds of the buffered rows.
    bounds: (i64, i64),
    file: Option<OpenFile>,
    next_file: u32,
    last_write: u64,
}

const NO_BOUNDS: (i64, i64) = (i64::MAX, i64::MIN);

/// The rows of each day `times` fall on, in the order the days first appear. A day's group is
/// found by its distance from the earliest day when the days span less than [`DAYS_INDEXED`]
/// (rows of different days may alternate), by a map otherwise.
fn rows_by_day(times: &[i64]) -> Vec<(i64, Vec<u32>)> {
    let day_of = |micros: &i64| micros.div_euclid(DAY_MICROS);
    let first = times.iter().map(day_of).min().unwrap_or_default();
    let span = times.iter().map(day_of).max().unwrap_or_default() - first;
    let mut indexed =
        vec![
            u32::MAX;
            usize::try_from(span).ok().filter(|span| *span < DAYS_INDEXED).map_or(0, |span| span + 1)
        ];
    let mut mapped = HashMap::new();
    let mut days: Vec<(i64, Vec<u32>)> = Vec::new();
    for (row, micros) in times.iter().enumerate() {
        let day = day_of(micros);
        let group = match indexed.get_mut((day - first) as usize) {
            Some(group) => group,
            None => mapped.entry(day).or_insert(u32::MAX),
        };
        if *group == u32::MAX {
            *group = days.len() as u32;
            days.push((day, Vec::new()));
        }
        days[*group as usize].1.push(u32::try_from(row).unwrap_or(u32::MAX));
    }
    days
}

/// Days a batch may span and still have its rows grouped by a table rather than a map.
const DAYS_INDEXED: usize = 4096;

fn bounds(times: &[i64]) -> (i64, i64) {
    times.iter().fold(NO_BOUNDS, |bounds, t| union(bounds, (*t, *t)))
}

/// Event-time bounds holding both.
fn union((min, max): (i64, i64), (other_min, other_max): (i64, i64)) -> (i64, i64) {
    (min.min(other_min), max.max(other_max))
}

struct OpenFile {
    writer: ArrowWriter<HashedFile>,
    staged: StagedFile,
}

/// Writes a staged file's footer and records its size and hash.
pub(crate) fn close_staged(
    writer: ArrowWriter<HashedFile>,
    staged: StagedFile,
) -> Result<StagedFile, StorageError> {
    let written = writer.into_inner()?.finish();
    Ok(StagedFile { written: Some(written), ..staged })
}

/// Writes the accepted records of one batch as Parquet files partitioned by event date.
pub struct PartitionedWriter {
    files: Arc<Files>,
    event_ts: usize,
    partitions: BTreeMap<NaiveDate, Partition>,
    buffered: usize,
    writes: u64,
    finished: Vec<StagedFile>,
}

impl PartitionedWriter {
    /// Files are staged under `staging` (created if needed), which only this writer uses.
    pub fn new(
        staging: &Path,
        dataset: &Name,
        schema: &Schema,
        batch: BatchId,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(staging)
            .map_err(|source| StorageError::Staging { path: staging.display().to_string(), source })?;
        let event_ts =
            schema.columns.iter().position(|c| c.name == schema.event_timestamp).unwrap_or_default();
        let files = Files {
            arrow: arrow_schema(schema),
            dataset: dataset.clone(),
            batch,
            shard: 0,
            staging: staging.to_owned(),
        };
        Ok(Self {
            files: Arc::new(files),
            event_ts,
            partitions: BTreeMap::new(),
            buffered: 0,
            writes: 0,
            finished: Vec::new(),
        })
    }

    /// One of several writers of the same batch (each thread of a parallel batch has one): its
    /// files are named apart.
    pub fn shard(mut self, shard: u32) -> Self {
        Arc::make_mut(&mut self.files).shard = shard;
        self
    }

    /// Buffers the rows of `batch` (of the dataset's Arrow types, every event timestamp set),
    /// each in its event date's partition.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), StorageError> {
        // Checked against the declared schema: a null in a non-nullable column is refused.
        let batch = &RecordBatch::try_new(self.files.arrow.clone(), batch.columns().to_vec())?;
        let times = batch
            .column(self.event_ts)
            .as_primitive_opt::<TimestampMicrosecondType>()
            .filter(|times| times.null_count() == 0)
            .ok_or(StorageError::Timestamp(0))?;
        let values = times.values();
        let first = values.first().map(|micros| micros.div_euclid(DAY_MICROS));
        if values.iter().all(|micros| Some(micros.div_euclid(DAY_MICROS)) == first) {
            if let Some(day) = first {
                self.push_day(day, batch.clone(), bounds(values))?;
            }
            return Ok(());
        }
        for (day, rows) in rows_by_day(values) {
            let part = take_record_batch(batch, &UInt32Array::from(rows))?;
            let times = part.column(self.event_ts).as_primitive::<TimestampMicrosecondType>();
            let bounds = bounds(times.values());
            self.push_day(day, part, bounds)?;
        }
        Ok(())
    }

    fn push_day(&mut self, day: i64, rows: RecordBatch, (min, max): (i64, i64)) -> Result<(), StorageError> {
        let date = DateTime::from_timestamp_micros(day.saturating_mul(DAY_MICROS))
            .ok_or(StorageError::Timestamp(min))?
            .date_naive();
        let partition = self.partitions.entry(date).or_insert_with(|| Partition {
            pending: Vec::new(),
            pending_rows: 0,
            bounds: NO_BOUNDS,
            file: None,
            next_file: 0,
            last_write: 0,
        });
        partition.pending_rows += rows.num_rows();
        self.buffered += rows.num_rows();
        partition.pending.push(rows);
        partition.bounds = union(partition.bounds, (min, max));
        if partition.pending_rows >= ROW_GROUP_ROWS {
            self.flush(date)?;
        } else if self.buffered >= BUFFERED_ROWS {
            let largest = self.partitions.iter().max_by_key(|(_, p)| p.pending_rows).map(|(date, _)| *date);
            if let Some(date) = largest {
                self.flush(date)?;
            }
        }
        Ok(())
    }

    /// Writes the buffered rows of one partition as a row group.
    fn flush(&mut self, date: NaiveDate) -> Result<(), StorageError> {
        if self.partitions.get(&date).is_none_or(|p| p.file.is_none())
            && self.partitions.values().filter(|p| p.file.is_some()).count() >= OPEN_FILES
        {
            self.close_least_recent()?;
        }
        self.writes += 1;
        let Some(partition) = self.partitions.get_mut(&date) else { return Ok(()) };
        self.buffered -= partition.write_pending(&self.files, date)?;
        partition.last_write = self.writes;
        Ok(())
    }

    fn close_least_recent(&mut self) -> Result<(), StorageError> {
        let oldest = self
            .partitions
            .iter()
            .filter(|(_, p)| p.file.is_some())
            .min_by_key(|(_, p)| p.last_write)
            .map(|(date, _)| *date);
        if let Some(file) = oldest.and_then(|date| self.partitions.get_mut(&date)).and_then(|p| p.file.take())
        {
            self.finished.push(close_staged(file.writer, file.staged)?);
        }
        Ok(())
    }

    /// Flushes and closes every file; returns them in partition order.
    pub fn finish(self) -> Result<Vec<StagedFile>, StorageError> {
        let (mut finished, closing) = self.into_closing();
        for partition in closing {
            finished.extend(partition.close()?);
        }
        finished.sort_by(|a, b| a.object.cmp(&b.object));
        Ok(finished)
    }

    /// The files already closed, and each partition's last rows and open file, to be written
    /// and closed apart: the threads of a batch share them out, whichever writer they came from.
    pub fn into_closing(self) -> (Vec<StagedFile>, Vec<Closing>) {
        let files = self.files;
        let closing = self
            .partitions
            .into_iter()
            .map(|(date, partition)| Closing { files: files.clone(), date, partition })
            .collect();
        (self.finished, closing)
    }
}

/// What names a writer's files and shapes their rows.
#[derive(Clone)]
struct Files {
    arrow: Arc<ArrowSchema>,
    staging: PathBuf,
    dataset: Name,
    batch: BatchId,
    shard: u32,
}

impl Partition {
    /// Writes the buffered rows as a row group, opening the file first if needed; returns
    /// their number.
    fn write_pending(&mut self, files: &Files, date: NaiveDate) -> Result<usize, StorageError> {
        let rows = self.pending_rows;
        if rows == 0 {
            return Ok(0);
        }
        // One write of the row group: a write has a cost per column however few its rows,
        // and rows arrive in many small runs when a batch spans many days.
        let rows_group = concat_batches(&files.arrow, &std::mem::take(&mut self.pending))?;
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let n = self.next_file;
                self.next_file += 1;
                self.file.insert(open(files, date, n, &rows_group)?)
            }
        };
        let (min, max) = std::mem::replace(&mut self.bounds, NO_BOUNDS);
        file.writer.write(&rows_group)?;
        file.writer.flush()?;
        file.staged.rows += rows as u64;
        file.staged.min_event_micros = file.staged.min_event_micros.min(min);
        file.staged.max_event_micros = file.staged.max_event_micros.max(max);
        self.pending_rows = 0;
        Ok(rows)
    }
}

/// One partition of a finished writer: its buffered rows, still to be written, and its file.
pub struct Closing {
    files: Arc<Files>,
    date: NaiveDate,
    partition: Partition,
}

impl Closing {
    /// Rows still to be written: the share of the work of closing it.
    pub fn pending_rows(&self) -> usize {
        self.partition.pending_rows
    }

    /// Takes the rows of `other`, the same day's partition of another writer of the batch,
    /// when one of the two has not opened a file yet: the day is then one file, not two. Gives
    /// `other` back otherwise.
    pub fn absorb(&mut self, mut other: Closing) -> Option<Closing> {
        if other.date != self.date || (self.partition.file.is_some() && other.partition.file.is_some()) {
            return Some(other);
        }
        if other.partition.file.is_some() {
            std::mem::swap(self, &mut other);
        }
        let (from, into) = (other.partition, &mut self.partition);
        into.pending.extend(from.pending);
        into.pending_rows += from.pending_rows;
        into.bounds = union(into.bounds, from.bounds);
        None
    }

    /// Writes the rows and closes the file (none when it never held a row).
    pub fn close(mut self) -> Result<Option<StagedFile>, StorageError> {
        self.partition.write_pending(&self.files, self.date)?;
        self.partition.file.map(|file| close_staged(file.writer, file.staged)).transpose()
    }
}

/// Values a column's dictionary is judged by: its first (not null) ones in a file.
const DICTIONARY_SAMPLE: usize = 1024;

/// Whether the first [`DICTIONARY_SAMPLE`] values are all different, and there are more than a
/// handful: a column of ids. A column of a few thousand values drawn at random repeats within
/// them (about 100 pairs for 5 000), so keeps its dictionary.
fn all_distinct<T: std::hash::Hash + Eq>(values: impl Iterator<Item = T>) -> bool {
    let mut seen = HashSet::with_capacity(DICTIONARY_SAMPLE);
    for value in values.take(DICTIONARY_SAMPLE) {
        if !seen.insert(value) {
            return false;
        }
    }
    seen.len() >= 64
}

fn open(files: &Files, date: NaiveDate, n: u32, first: &RecordBatch) -> Result<OpenFile, StorageError> {
    let Files { staging, dataset, batch, shard, .. } = files;
    let schema = first.schema();
    let name = match shard {
        0 => format!("part-{batch}-{n:05}.parquet"),
        shard => format!("part-{batch}-{shard}-{n:05}.parquet"),
    };
    let local = staging.join(format!("{date}-{name}"));
    let file = HashedFile::create(&local)?;
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("cairn {}", env!("CARGO_PKG_VERSION")));
    // A dictionary costs a hash per value and only pays when values repeat. Measurements and
    // times rarely do; keys, strings and categories keep theirs unless the file's first values
    // are all different (an id: its dictionary would grow to the page limit and be abandoned).
    for (field, column) in schema.fields().iter().zip(first.columns()) {
        let plain = match field.data_type() {
            DataType::Float32 | DataType::Float64 | DataType::Timestamp(..) => true,
            DataType::Int32 => all_distinct(column.as_primitive::<Int32Type>().iter().flatten()),
            DataType::Int64 => all_distinct(column.as_primitive::<Int64Type>().iter().flatten()),
            DataType::Utf8 => all_distinct(column.as_string::<i32>().iter().flatten()),
            _ => false,
        };
        if plain {
            properties =
                properties.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    let properties = properties.build();
    let writer = ArrowWriter::try_new(file, schema, Some(properties))?;
    let object = format!("datasets/{dataset}/data/date={date}/{name}");
    Ok(OpenFile {
        writer,
        staged: StagedFile {
            local,
            object,
            rows: 0,
            min_event_micros: i64::MAX,
            max_event_micros: i64::MIN,
            written: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader as _, SerializedFileReader};

    use super::*;
    use crate::BatchBuilder;

    proptest::proptest! {
        /// Rows grouped by day as a plain search groups them, whether the days span a few or
        /// more than the table takes.
        #[test]
        fn rows_are_grouped_by_day_in_the_order_days_appear(
            days in proptest::prop_oneof![
                proptest::collection::vec(-3i64..40, 0..300),
                proptest::collection::vec(-50_000i64..50_000, 0..300),
            ],
        ) {
            let times: Vec<i64> = days.iter().enumerate().map(|(i, day)| day * DAY_MICROS + i as i64).collect();
            let mut expected: Vec<(i64, Vec<u32>)> = Vec::new();
            for (row, day) in days.iter().enumerate() {
                match expected.iter_mut().find(|(at, _)| at == day) {
                    Some((_, rows)) => rows.push(row as u32),
                    None => expected.push((*day, vec![row as u32])),
                }
            }
            proptest::prop_assert_eq!(rows_by_day(&times), expected);
        }
    }

    /// More rows than are held in memory, in batches spanning days (rows of a day spread through
    /// them) and batches of one day: every row lands once, in its day's files, whose bounds and
    /// counts are right.
    #[test]
    fn rows_land_once_in_their_days_files() {
        use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
        let schema: Schema = serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "note", "type": "string"}
            ],
            "event_timestamp": "ts"
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dataset = Name::parse("tx").unwrap();
        let mut writer = PartitionedWriter::new(dir.path(), &dataset, &schema, BatchId::new()).unwrap();
        let arrow = arrow_schema(&schema);
        let (batches, rows) = (12i64, 65_536i64);
        for b in 0..batches {
            let ids: Vec<i64> = (b * rows..(b + 1) * rows).collect();
            // Even batches: 9 days round robin; odd ones: one day (day 20 + b).
            let ts: Vec<i64> = ids
                .iter()
                .map(|i| if b % 2 == 0 { (i % 9) * DAY_MICROS + i } else { (20 + b) * DAY_MICROS + i % 1000 })
                .collect();
            let notes: StringArray = ids.iter().map(|i| (i % 5 != 0).then(|| format!("n{i}"))).collect();
            let batch = RecordBatch::try_new(
                arrow.clone(),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
                    Arc::new(notes),
                ],
            )
            .unwrap();
            writer.push(&batch).unwrap();
        }
        let staged = writer.finish().unwrap();
        let mut seen = vec![false; (batches * rows) as usize];
        for file in &staged {
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
                File::open(&file.local).unwrap(),
                8192,
            )
            .unwrap();
            let (mut count, mut min, mut max) = (0, i64::MAX, i64::MIN);
            for batch in reader {
                let batch = batch.unwrap();
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
                let notes = batch.column(2).as_string::<i32>();
                for row in 0..batch.num_rows() {
                    let (id, t) = (ids.value(row), ts.value(row));
                    assert!(!std::mem::replace(&mut seen[id as usize], true), "row {id} twice");
                    let date = DateTime::from_timestamp_micros(t).unwrap().date_naive();
                    assert!(file.object.contains(&format!("date={date}/")), "{id} in {}", file.object);
                    assert_eq!(notes.is_null(row), id % 5 == 0);
                    if !notes.is_null(row) {
                        assert_eq!(notes.value(row), format!("n{id}"));
                    }
                    (min, max) = (min.min(t), max.max(t));
                    count += 1;
                }
            }
            assert_eq!((file.rows, file.min_event_micros, file.max_event_micros), (count, min, max));
            let bytes = std::fs::read(&file.local).unwrap();
            let written = file.written.clone().unwrap();
            assert_eq!((written.bytes, written.sha256), (bytes.len() as u64, hex(&Sha256::digest(&bytes))));
        }
        assert!(seen.iter().all(|seen| *seen));
    }

    /// Two writers' partitions of one day become one file unless both opened one.
    #[test]
    fn the_same_days_partitions_of_two_writers_close_as_one_file() {
        use cairn_records::Value;
        let schema: Schema = serde_json::from_value(serde_json::json!({
            "columns": [{"name": "ts", "type": "timestamp", "nullable": false}],
            "event_timestamp": "ts"
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (dataset, batch) = (Name::parse("tx").unwrap(), BatchId::new());
        let writer = |shard, days: &[(i64, usize)]| {
            let mut writer =
                PartitionedWriter::new(dir.path(), &dataset, &schema, batch).unwrap().shard(shard);
            let mut rows = BatchBuilder::new(&schema);
            for (day, n) in days {
                for i in 0..*n {
                    rows.push(&vec![Value::Timestamp(day * DAY_MICROS + i as i64)]);
                }
            }
            writer.push(&rows.finish().unwrap()).unwrap();
            let (files, closing) = writer.into_closing();
            assert!(files.is_empty());
            closing
        };
        let [mut first_day, mut second_day] = writer(0, &[(0, 3), (1, 5)]).try_into().ok().unwrap();
        let [day_one, day_two] = writer(1, &[(1, 7), (2, 2)]).try_into().ok().unwrap();
        let day_two = first_day.absorb(day_two).unwrap();
        assert!(second_day.absorb(day_one).is_none());
        assert_eq!(second_day.pending_rows(), 12);
        let files: Vec<StagedFile> =
            [first_day, second_day, day_two].into_iter().map(|c| c.close().unwrap().unwrap()).collect();
        assert_eq!(files.iter().map(|file| file.rows).collect::<Vec<_>>(), [3, 12, 2]);
        assert_eq!((files[1].min_event_micros, files[1].max_event_micros), (DAY_MICROS, DAY_MICROS + 6));

        // A day both writers have begun to write to disk stays two files.
        let [big] = writer(0, &[(3, ROW_GROUP_ROWS)]).try_into().ok().unwrap();
        let [other] = writer(1, &[(3, ROW_GROUP_ROWS + 1)]).try_into().ok().unwrap();
        let [mut small] = writer(2, &[(3, 1)]).try_into().ok().unwrap();
        assert!(small.absorb(big).is_none(), "one has no file yet");
        assert!(small.absorb(other).is_some());
    }

    #[test]
    fn ids_are_written_plain_and_repeated_values_with_a_dictionary() {
        let schema: Schema = serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "store", "type": "int64"},
                {"name": "order", "type": "string"},
                {"name": "few", "type": "int64"}
            ],
            "event_timestamp": "ts"
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dataset = Name::parse("tx").unwrap();
        let mut writer = PartitionedWriter::new(dir.path(), &dataset, &schema, BatchId::new()).unwrap();
        let mut rows = BatchBuilder::new(&schema);
        for i in 0..5000i64 {
            use cairn_records::Value;
            // `store` repeats at random among 5 000 values; `few` has 63 values, all different.
            let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let store = (x ^ (x >> 31)) % 5000;
            rows.push(&vec![
                Value::Int(i),
                Value::Timestamp(i),
                Value::Int(store as i64),
                Value::Str(format!("order-{i}")),
                if i < 63 { Value::Int(i) } else { Value::Null },
            ]);
        }
        writer.push(&rows.finish().unwrap()).unwrap();
        let staged = writer.finish().unwrap();
        let reader = SerializedFileReader::new(File::open(&staged[0].local).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let dictionary: Vec<bool> =
            (0..5).map(|column| group.column(column).dictionary_page_offset().is_some()).collect();
        assert_eq!(dictionary, [false, false, true, false, true]);
    }
}
