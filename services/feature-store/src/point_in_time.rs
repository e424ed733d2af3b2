//! The point-in-time join that builds training data (`training_data.rs` gathers its inputs), with
//! Feast's semantics, and the Parquet reading and writing around it. For each entity row (join keys + a timestamp) and each feature view, the view's row
//! with the same keys and the latest event timestamp at or before the entity's — within the
//! view's TTL when it has one (`event_ts >= entity_ts - ttl`, inclusive), the latest created
//! timestamp breaking ties on event time — or nulls when there is none (a left join). Rows whose
//! keys hold a null never match, as in SQL. Exact ties on both timestamps, which Feast answers
//! with the entity row repeated, resolve here to the view row that came last.
//!
//! Memory is the entity rows plus, per view, its keys and times (and, in memory, its rows) and an
//! index entry for each view row: never entity rows × view rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt64Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cairn_storage::cells::{int_at, is_integer, str_at};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use cairn_service::cores;

/// A feature view as the join sees it: the columns of its rows that matter.
#[derive(Debug, Clone)]
pub struct ViewSpec {
    pub name: String,
    /// Columns present both in the entity rows and the view's rows.
    pub join_keys: Vec<String>,
    pub features: Vec<String>,
    /// The view rows' event timestamp column.
    pub event_timestamp: String,
    /// Breaks ties on event time (the latest wins), when set.
    pub created_timestamp: Option<String>,
    /// How far back a row may lie and still count, in microseconds; `None` for no limit.
    pub ttl_micros: Option<i64>,
}

/// The rows of one feature view: any number of batches (none for a view without rows) of
/// `schema`.
#[derive(Debug, Clone)]
pub struct ViewRows {
    pub spec: ViewSpec,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinError {
    #[error("{0} has no column `{1}`")]
    MissingColumn(String, String),
    #[error("column `{column}` of {owner} is {found}, not a timestamp")]
    NotATimestamp { owner: String, column: String, found: String },
    #[error("join key `{0}` must be an integer, string or boolean column")]
    BadJoinKey(String),
    #[error("two output columns would be named `{0}`: request full feature names (`view__feature`)")]
    DuplicateName(String),
    #[error("the result would have more than 4 294 967 295 rows in one view")]
    TooManyRows,
    #[error("arrow: {0}")]
    Arrow(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

fn file_error(path: &Path, error: impl std::fmt::Display) -> JoinError {
    JoinError::File { path: path.display().to_string(), message: error.to_string() }
}

/// Rows read from Parquet per batch.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// Reads the columns `columns` (every one when `None`; in the files' order either way) of the
/// Parquet files `paths`, which share a schema, their row groups spread over the machine's cores;
/// the batches in file and row group order.
pub fn read_parquet(
    paths: &[PathBuf],
    columns: Option<&[&str]>,
) -> Result<(SchemaRef, Vec<RecordBatch>), JoinError> {
    read_units(paths, columns, None)
}

/// A row group of one file, and the number of its first row among all the files' rows.
struct Unit<'a> {
    path: &'a Path,
    group: usize,
    mask: ProjectionMask,
    first_row: u64,
    rows: u64,
    /// The file lacks some of the columns: they are filled with nulls.
    fill: bool,
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, JoinError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| file_error(path, e))
}

/// Like [`read_parquet`]; with `keep` (sorted, distinct row numbers across all the files), only
/// those rows, and row groups without one of them are not decoded at all.
fn read_units(
    paths: &[PathBuf],
    columns: Option<&[&str]>,
    keep: Option<&[u32]>,
) -> Result<(SchemaRef, Vec<RecordBatch>), JoinError> {
    let mut units: Vec<Unit<'_>> = Vec::new();
    let builders = paths.iter().map(|path| open(path)).collect::<Result<Vec<_>, _>>()?;
    let schema = target_schema(paths, &builders, columns)?;
    let mut first_row = 0u64;
    for (path, builder) in paths.iter().zip(&builders) {
        // The wanted columns this file has (a file written before a column was added lacks
        // it: its rows read as null there), in the file's order, as Parquet hands them over.
        let file_schema = builder.schema();
        let mut indices: Vec<usize> =
            schema.fields().iter().filter_map(|field| file_schema.index_of(field.name()).ok()).collect();
        indices.sort_unstable();
        indices.dedup();
        for index in &indices {
            let field = file_schema.field(*index);
            let wanted = schema.field_with_name(field.name())?;
            if wanted.data_type() != field.data_type() {
                return Err(file_error(
                    path,
                    format!("column `{}` has another type than in the first file", field.name()),
                ));
            }
        }
        let fill = indices.len() != schema.fields().len()
            || indices
                .iter()
                .zip(schema.fields())
                .any(|(index, field)| file_schema.field(*index).name() != field.name());
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        for (group, metadata) in builder.metadata().row_groups().iter().enumerate() {
            let rows = u64::try_from(metadata.num_rows()).unwrap_or_default();
            units.push(Unit { path: path.as_path(), group, mask: mask.clone(), first_row, rows, fill });
            first_row += rows;
        }
    }
    drop(builders);
    let read_unit = |unit: &Unit<'_>| -> Result<Vec<RecordBatch>, JoinError> {
        // The row numbers to keep within this unit, counted from its first row.
        let wanted: Option<Vec<u32>> = keep.map(|keep| {
            let from = keep.partition_point(|row| u64::from(*row) < unit.first_row);
            let to = keep.partition_point(|row| u64::from(*row) < unit.first_row + unit.rows);
            keep[from..to].iter().map(|row| (u64::from(*row) - unit.first_row) as u32).collect()
        });
        if wanted.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let reader = open(unit.path)?
            .with_row_groups(vec![unit.group])
            .with_projection(unit.mask.clone())
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| file_error(unit.path, e))?;
        let mut batches = Vec::new();
        let mut offset = 0u32;
        for batch in reader {
            let mut batch = batch.map_err(|e| file_error(unit.path, e))?;
            if unit.fill {
                batch = filled(&schema, &batch)?;
            }
            let len = batch.num_rows() as u32;
            match &wanted {
                None => batches.push(batch),
                Some(wanted) => batches.extend(pick(&batch, offset, wanted)?),
            }
            offset += len;
        }
        Ok(batches)
    };
    let mut batches = Vec::new();
    for read in on_cores(units.len(), |i| read_unit(&units[i]))? {
        batches.extend(read?);
    }
    Ok((schema, batches))
}

/// The names of the columns any of `paths` holds (their footers only).
pub fn columns_of(paths: &[PathBuf]) -> Result<std::collections::HashSet<String>, JoinError> {
    let mut names = std::collections::HashSet::new();
    for path in paths {
        names.extend(open(path)?.schema().fields().iter().map(|field| field.name().clone()));
    }
    Ok(names)
}

/// The schema of what `read_units` returns: every column (`None`) of the first file, or the
/// columns asked for in the order of the first file that has them — the first file's first, then
/// those only later files have. A column no file has is an error.
fn target_schema(
    paths: &[PathBuf],
    builders: &[ParquetRecordBatchReaderBuilder<File>],
    columns: Option<&[&str]>,
) -> Result<SchemaRef, JoinError> {
    let Some(first) = builders.first() else {
        return Err(JoinError::File { path: String::new(), message: "no file to read".into() });
    };
    let Some(columns) = columns else { return Ok(first.schema().clone()) };
    let mut found: Vec<(usize, usize, Field)> = Vec::with_capacity(columns.len());
    for column in columns {
        if found.iter().any(|(_, _, field)| field.name() == column) {
            continue;
        }
        let holder = builders.iter().enumerate().find_map(|(file, builder)| {
            builder
                .schema()
                .index_of(column)
                .ok()
                .map(|index| (file, index, builder.schema().field(index).clone()))
        });
        match holder {
            Some(holder) => found.push(holder),
            None => {
                let path = paths.first().map(|path| path.display().to_string()).unwrap_or_default();
                return Err(JoinError::MissingColumn(path, (*column).to_owned()));
            }
        }
    }
    found.sort_by_key(|(file, index, _)| (*file, *index));
    let fields: Vec<Field> = found
        .into_iter()
        .map(|(_, _, field)| {
            // Null where a file lacks it.
            let everywhere = builders.iter().all(|builder| builder.schema().index_of(field.name()).is_ok());
            if everywhere { field } else { field.with_nullable(true) }
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// `batch` (some of `schema`'s columns) with all of them, in order: nulls where it had none.
fn filled(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch, JoinError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => column.clone(),
            None => arrow_array::new_null_array(field.data_type(), batch.num_rows()),
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// `work(i)` for each `i` in `0..count` on up to one thread per core (a thread takes every
/// `threads`-th `i`); the results in the order of `i`.
fn on_cores<T: Send>(count: usize, work: impl Fn(usize) -> T + Sync) -> Result<Vec<T>, JoinError> {
    let threads = cores().min(count).max(1);
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                scope
                    .spawn(move || (thread..count).step_by(threads).map(|i| (i, work(i))).collect::<Vec<_>>())
            })
            .collect();
        for worker in workers {
            for (i, result) in worker.join().unwrap_or_default() {
                results[i] = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|result| result.ok_or_else(|| JoinError::Arrow("a worker thread stopped".into())))
        .collect()
}

/// The rows of `batch` among `rows` (sorted row numbers, `batch` starting at row `offset`), if
/// any.
fn pick(batch: &RecordBatch, offset: u32, rows: &[u32]) -> Result<Option<RecordBatch>, JoinError> {
    let from = rows.partition_point(|row| *row < offset);
    let to = rows.partition_point(|row| *row < offset + batch.num_rows() as u32);
    if from == to {
        return Ok(None);
    }
    let local: UInt32Array = rows[from..to].iter().map(|row| row - offset).collect();
    Ok(Some(arrow_select::take::take_record_batch(batch, &local)?))
}

/// Writes `batch` to a Parquet file at `path` (Snappy, row groups of up to a million rows).
pub fn write_parquet(batch: &RecordBatch, path: &Path) -> Result<(), JoinError> {
    let file = File::create(path).map_err(|e| file_error(path, e))?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(properties)).map_err(|e| file_error(path, e))?;
    writer.write(batch).map_err(|e| file_error(path, e))?;
    writer.close().map_err(|e| file_error(path, e))?;
    Ok(())
}

impl From<arrow_schema::ArrowError> for JoinError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        JoinError::Arrow(error.to_string())
    }
}

/// A feature view whose rows are in Parquet files (a dataset version's).
#[derive(Debug, Clone)]
pub struct ViewFiles {
    pub spec: ViewSpec,
    pub paths: Vec<PathBuf>,
}

/// Joins each view's features onto `entities` as of each entity row's `entity_timestamp`. The
/// result holds the entity rows in their order with all their columns, then each view's
/// features in the order asked, named `feature` or, with `full_feature_names`, `view__feature`.
pub fn point_in_time_join(
    entities: &RecordBatch,
    entity_timestamp: &str,
    views: &[ViewRows],
    full_feature_names: bool,
) -> Result<RecordBatch, JoinError> {
    join(entities, entity_timestamp, full_feature_names, views, |view| {
        Ok((&view.spec, view.batches.clone(), Gather::Batches(&view.schema, &view.batches)))
    })
}

/// [`point_in_time_join`] over views in Parquet files. Each view's files are read twice, a
/// column set at a time: its join keys and times, to find each entity row's match, then its
/// features, of the matched rows only — so memory holds the keys and times, never every
/// feature of every row.
pub fn point_in_time_join_files(
    entities: &RecordBatch,
    entity_timestamp: &str,
    views: &[ViewFiles],
    full_feature_names: bool,
) -> Result<RecordBatch, JoinError> {
    join(entities, entity_timestamp, full_feature_names, views, |view| {
        let spec = &view.spec;
        let mut columns: Vec<&str> = spec.join_keys.iter().map(String::as_str).collect();
        columns.push(&spec.event_timestamp);
        columns.extend(spec.created_timestamp.as_deref());
        let (_, keys) = read_parquet(&view.paths, Some(&columns))?;
        Ok((spec, keys, Gather::Files(&view.paths)))
    })
}

/// Where a view's features are gathered from once its matches are known.
enum Gather<'a> {
    /// The batches (every column, of this schema) the matches were found in.
    Batches(&'a SchemaRef, &'a [RecordBatch]),
    Files(&'a [PathBuf]),
}

impl Gather<'_> {
    /// Columns `features` of rows `rows` (sorted, distinct), as one batch in that order.
    fn rows(&self, owner: &str, features: &[String], rows: &[u32]) -> Result<RecordBatch, JoinError> {
        let names: Vec<&str> = features.iter().map(String::as_str).collect();
        let (schema, batches) = match self {
            Gather::Files(paths) => read_units(paths, Some(&names), Some(rows))?,
            Gather::Batches(schema, batches) => {
                let mut indices = Vec::with_capacity(names.len());
                for name in &names {
                    indices.push(
                        schema
                            .index_of(name)
                            .map_err(|_| JoinError::MissingColumn(owner.to_owned(), (*name).to_owned()))?,
                    );
                }
                let schema = Arc::new(schema.project(&indices)?);
                let mut picked = Vec::new();
                let mut offset = 0u32;
                for batch in *batches {
                    picked.extend(pick(&batch.project(&indices)?, offset, rows)?);
                    offset += batch.num_rows() as u32;
                }
                (schema, picked)
            }
        };
        Ok(arrow_select::concat::concat_batches(&schema, &batches)?)
    }
}

fn join<'a, V: 'a>(
    entities: &RecordBatch,
    entity_timestamp: &str,
    full_feature_names: bool,
    views: &'a [V],
    // A view's spec, batches holding its keys and times, and where its features come from.
    keys_of: impl Fn(&'a V) -> Result<(&'a ViewSpec, Vec<RecordBatch>, Gather<'a>), JoinError>,
) -> Result<RecordBatch, JoinError> {
    let entity_times = Times::of(entities, entity_timestamp, "the entity rows")?;
    let mut fields: Vec<Arc<Field>> = entities.schema().fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = entities.columns().to_vec();
    for view in views {
        let (spec, keys, gather) = keys_of(view)?;
        if spec.features.is_empty() {
            // Nothing to read (its features are in no file yet: the caller adds them as nulls).
            continue;
        }
        let owner = format!("view `{}`", spec.name);
        let entity_keys = KeyEncoder::new(entities, &spec.join_keys, "the entity rows")?;
        let matches = latest_at_or_before(&keys, spec, &entity_keys, &entity_times)?;
        drop(keys);
        let mut winners: Vec<u32> = matches.iter().flatten().copied().collect();
        winners.sort_unstable();
        winners.dedup();
        let found = gather.rows(&owner, &spec.features, &winners)?;
        // For each entity row, its match's place among the winners.
        let places: UInt32Array = matches
            .iter()
            .map(|row| row.and_then(|row| winners.binary_search(&row).ok()).map(|place| place as u32))
            .collect();
        for feature in &spec.features {
            let index = found
                .schema()
                .index_of(feature)
                .map_err(|_| JoinError::MissingColumn(owner.clone(), feature.clone()))?;
            let source = found.schema().field(index).clone();
            let name = if full_feature_names { format!("{}__{feature}", spec.name) } else { feature.clone() };
            fields.push(Arc::new(Field::new(name, source.data_type().clone(), true)));
            columns.push(arrow_select::take::take(found.column(index).as_ref(), &places, None)?);
        }
    }
    let mut names = std::collections::HashSet::new();
    if let Some(duplicate) = fields.iter().find(|field| !names.insert(field.name().clone())) {
        return Err(JoinError::DuplicateName(duplicate.name().clone()));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// For each entity row, the number of the view row it gets (among the rows of all of `batches`),
/// if any. The view's keys are split by hash between one thread per core, each indexing its own
/// share.
fn latest_at_or_before(
    batches: &[RecordBatch],
    spec: &ViewSpec,
    entity_keys: &KeyEncoder,
    entity_times: &Times,
) -> Result<Vec<Option<u32>>, JoinError> {
    let owner = format!("view `{}`", spec.name);
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    u32::try_from(total).map_err(|_| JoinError::TooManyRows)?;
    // Per batch: its keys, event and created times, and the number of its first row.
    let mut prepared = Vec::with_capacity(batches.len());
    let mut offset = 0usize;
    for batch in batches {
        let created = match &spec.created_timestamp {
            Some(column) => Some(Times::of(batch, column, &owner)?),
            None => None,
        };
        prepared.push((
            KeyEncoder::new(batch, &spec.join_keys, &owner)?,
            Times::of(batch, &spec.event_timestamp, &owner)?,
            created,
            offset,
        ));
        offset += batch.num_rows();
    }
    let parts = cores();
    let build = |part: usize| {
        // Each key's rows, ordered by (event time, created time, position): the last at or
        // before a time is the one Feast picks. Laid out key after key in one array (a counting
        // sort by key number), not a growing list per key.
        let mut ids = KeyIds::default();
        let mut scratch = Vec::new();
        // Per view row, its key's number here (`SKIP` for another share's key, a null key or
        // time), and how many rows each key has.
        const SKIP: u32 = u32::MAX;
        let mut row_ids: Vec<u32> = Vec::with_capacity(total);
        let mut counts: Vec<u32> = Vec::new();
        for (keys, events, _, _) in &prepared {
            for row in 0..events.len() {
                let key = keys.key(row, &mut scratch);
                let id =
                    if events.get(row).is_none() || key.part(parts) != part { None } else { ids.insert(key) };
                match id {
                    Some(id) => {
                        if id as usize == counts.len() {
                            counts.push(0);
                        }
                        counts[id as usize] += 1;
                        row_ids.push(id);
                    }
                    None => row_ids.push(SKIP),
                }
            }
        }
        let mut starts: Vec<u32> = Vec::with_capacity(counts.len() + 1);
        let mut next = 0u32;
        for count in &counts {
            starts.push(next);
            next += count;
        }
        starts.push(next);
        let mut cursor = starts.clone();
        let mut entries = vec![(0i64, 0i64, 0u32); next as usize];
        let mut row_ids = row_ids.into_iter();
        for (_, events, created, offset) in &prepared {
            for row in 0..events.len() {
                let id = row_ids.next().unwrap_or(SKIP);
                let Some(event) = events.get(row).filter(|_| id != SKIP) else { continue };
                let created = created.as_ref().and_then(|c| c.get(row)).unwrap_or(i64::MIN);
                let at = &mut cursor[id as usize];
                entries[*at as usize] = (event, created, (offset + row) as u32);
                *at += 1;
            }
        }
        for pair in starts.windows(2) {
            entries[pair[0] as usize..pair[1] as usize].sort_unstable();
        }
        (ids, starts, entries)
    };
    let indexes = on_cores(parts, build)?;
    // Each entity row's match, the entity rows split in one run per core.
    let rows = entity_times.len();
    let run = rows.div_ceil(cores()).max(1);
    let probe = |part: usize| {
        let mut scratch = Vec::new();
        (part * run..((part + 1) * run).min(rows))
            .map(|row| {
                let time = entity_times.get(row)?;
                let key = entity_keys.key(row, &mut scratch);
                let (ids, starts, entries) = &indexes[key.part(parts)];
                let id = ids.find(key)? as usize;
                let entries = &entries[starts[id] as usize..starts[id + 1] as usize];
                let at_or_before = entries.partition_point(|(event, _, _)| *event <= time);
                let &(event, _, position) = entries.get(at_or_before.checked_sub(1)?)?;
                let fresh = spec.ttl_micros.is_none_or(|ttl| event >= time.saturating_sub(ttl));
                fresh.then_some(position)
            })
            .collect::<Vec<_>>()
    };
    Ok(on_cores(rows.div_ceil(run), probe)?.into_iter().flatten().collect())
}

/// A row's join key: one integer on its own (the common case, hashed as it is), or the encoded
/// values; null matches nothing.
enum Key<'a> {
    Null,
    Int(i64),
    Bytes(&'a [u8]),
}

impl Key<'_> {
    /// Which of `parts` shares of the keys this one belongs to: the same for equal keys.
    fn part(&self, parts: usize) -> usize {
        let hash = match self {
            Key::Null => 0,
            // Fibonacci hashing: the high bits of the product mix every bit of the value.
            Key::Int(value) => (*value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32,
            // FNV-1a.
            Key::Bytes(bytes) => bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
            }),
        };
        (hash % parts as u64) as usize
    }
}

/// A small number for each distinct join key, in order of first sight.
#[derive(Default)]
struct KeyIds {
    ints: HashMap<i64, u32, foldhash::fast::RandomState>,
    bytes: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
}

impl KeyIds {
    fn len(&self) -> u32 {
        (self.ints.len() + self.bytes.len()) as u32
    }

    /// The key's number, a new one for a new key; none for a null key.
    fn insert(&mut self, key: Key<'_>) -> Option<u32> {
        let next = self.len();
        match key {
            Key::Null => None,
            Key::Int(value) => Some(*self.ints.entry(value).or_insert(next)),
            Key::Bytes(bytes) => match self.bytes.get(bytes) {
                Some(id) => Some(*id),
                None => {
                    self.bytes.insert(bytes.into(), next);
                    Some(next)
                }
            },
        }
    }

    fn find(&self, key: Key<'_>) -> Option<u32> {
        match key {
            Key::Null => None,
            Key::Int(value) => self.ints.get(&value).copied(),
            Key::Bytes(bytes) => self.bytes.get(bytes).copied(),
        }
    }
}

/// A column of timestamps, read as microseconds whatever its unit (without a copy).
struct Times {
    values: PrimitiveArray<Int64Type>,
    unit: TimeUnit,
}

impl Times {
    fn of(batch: &RecordBatch, column: &str, owner: &str) -> Result<Self, JoinError> {
        let index = batch
            .schema()
            .index_of(column)
            .map_err(|_| JoinError::MissingColumn(owner.to_owned(), column.to_owned()))?;
        let array = batch.column(index);
        let (values, nulls, unit) = match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                let typed = array.as_primitive::<TimestampSecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Second)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let typed = array.as_primitive::<TimestampMillisecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Millisecond)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                let typed = array.as_primitive::<TimestampMicrosecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Microsecond)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                let typed = array.as_primitive::<TimestampNanosecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Nanosecond)
            }
            other => {
                return Err(JoinError::NotATimestamp {
                    owner: owner.to_owned(),
                    column: column.to_owned(),
                    found: other.to_string(),
                });
            }
        };
        Ok(Self { values: PrimitiveArray::new(values, nulls), unit })
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// Row `row`'s time in microseconds; none when null or out of range.
    fn get(&self, row: usize) -> Option<i64> {
        if self.values.is_null(row) {
            return None;
        }
        let value = self.values.value(row);
        match self.unit {
            TimeUnit::Second => value.checked_mul(1_000_000),
            TimeUnit::Millisecond => value.checked_mul(1000),
            TimeUnit::Microsecond => Some(value),
            TimeUnit::Nanosecond => Some(value.div_euclid(1000)),
        }
    }
}

/// Encodes a row's join keys as bytes that are equal exactly when the keys are: integers of
/// any width as `i64`, strings length-prefixed, each value tagged with its kind.
struct KeyEncoder {
    columns: Vec<ArrayRef>,
}

impl KeyEncoder {
    fn new(batch: &RecordBatch, keys: &[String], owner: &str) -> Result<Self, JoinError> {
        let columns = keys
            .iter()
            .map(|key| {
                let column = batch
                    .column_by_name(key)
                    .ok_or_else(|| JoinError::MissingColumn(owner.to_owned(), key.clone()))?;
                match column.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
                        Ok(column.clone())
                    }
                    integer if is_integer(integer) => Ok(column.clone()),
                    _ => Err(JoinError::BadJoinKey(key.clone())),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { columns })
    }

    /// Row `row`'s key: a single integer column's value as it is, otherwise the encoded values
    /// (in `scratch`).
    fn key<'s>(&self, row: usize, scratch: &'s mut Vec<u8>) -> Key<'s> {
        if let [column] = self.columns.as_slice() {
            if column.is_null(row) {
                return Key::Null;
            }
            if let Some(value) = int_at(column, row) {
                return Key::Int(value);
            }
        }
        if self.encode(row, scratch) { Key::Bytes(scratch) } else { Key::Null }
    }

    /// Writes row `row`'s key to `out`; false when one of its values is null (it matches nothing).
    fn encode(&self, row: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        for column in &self.columns {
            if column.is_null(row) {
                return false;
            }
            let text = |value: &str, out: &mut Vec<u8>| {
                out.push(2);
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value.as_bytes());
            };
            if let Some(value) = int_at(column, row) {
                out.push(1);
                out.extend_from_slice(&value.to_le_bytes());
                continue;
            }
            if let Some(value) = str_at(column, row) {
                text(value, out);
                continue;
            }
            match column.data_type() {
                // Beyond i64: its own kind, so it equals only itself.
                DataType::UInt64 => {
                    out.push(3);
                    out.extend_from_slice(&column.as_primitive::<UInt64Type>().value(row).to_le_bytes());
                }
                DataType::Boolean => out.extend_from_slice(&[4, u8::from(column.as_boolean().value(row))]),
                _ => return false,
            }
        }
        true
    }
}
