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

mod files;
mod keys;

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};
use cairn_service::cores;

pub use files::{columns_of, read_parquet, write_parquet};
use files::{pick, read_units};
use keys::{KeyEncoder, KeyIds, Times};

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
