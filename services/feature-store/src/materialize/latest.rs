//! The newest row of each entity: read from a view's files on threads, or from its query.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use arrow_array::RecordBatch;
use cairn_api::FeatureView;
use cairn_domain::Name;
use cairn_storage::{OfflineStore, ParquetFile};
use compact_str::CompactString;
use futures::TryStreamExt as _;

use super::MaterializeError;
use crate::features::Features;
use crate::online::{ColumnReader, KeyPart, OnlineRow, push_key};

/// Threads reading a view's source files: the service's share of the cores.
pub(super) fn readers() -> usize {
    cairn_service::cores()
}

impl Features {
    /// The newest row of each entity among the rows a view's query gives with event times in
    /// `range`; `progress` hears each batch's row count.
    pub(super) async fn latest_of_query(
        &self,
        view: &FeatureView,
        range: (i64, i64),
        progress: &impl Fn(u64, u64),
    ) -> Result<Latest, MaterializeError> {
        let catalog = self.online.catalog();
        let mut batches = self.transforms.batches(&catalog, view, range.1).await?;
        let origin = format!("the result of feature view `{}`'s query", view.definition.name);
        let mut latest = Latest::default();
        while let Some(batch) = batches.try_next().await? {
            latest.take(view, &batch, &origin, range)?;
            progress(0, batch.num_rows() as u64);
        }
        Ok(latest)
    }
}

/// The newest row of each entity of `files` with event times in `range`. The files' row groups
/// are read on blocking threads (decoding and comparing rows is CPU work, which must not hold an
/// async worker), a share of consecutive groups each, and what the threads found is merged in
/// their order; `progress` hears the files read (a file when its last group is) and the rows.
pub(super) async fn latest_of(
    offline: &OfflineStore,
    view: &FeatureView,
    files: &[String],
    range: (i64, i64),
    threads: usize,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<Latest, MaterializeError> {
    let mut groups = Vec::new();
    for path in files {
        let file = offline.parquet_file(path).await?;
        groups.extend((0..file.row_groups()).map(|group| (file.clone(), group)));
    }
    let share = groups.len().div_ceil(threads.max(1)).max(1);
    let progress = Arc::new(progress);
    let runtime = tokio::runtime::Handle::current();
    let readers: Vec<_> = groups
        .chunks(share)
        .map(|groups| {
            let (runtime, offline, view, groups) =
                (runtime.clone(), offline.clone(), view.clone(), groups.to_vec());
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || {
                let mut latest = Latest::default();
                for (file, group) in &groups {
                    let rows = latest.read(&runtime, &offline, &view, file, *group, range)?;
                    progress(u64::from(group + 1 == file.row_groups()), rows);
                }
                Ok::<_, MaterializeError>(latest)
            })
        })
        .collect();
    let mut latest = Latest::default();
    for reader in readers {
        let read = reader.await.map_err(|error| MaterializeError::Reader(error.to_string()))??;
        latest.merge(read);
    }
    Ok(latest)
}

/// The newest row of each entity among the rows read so far.
#[derive(Default)]
pub(super) struct Latest {
    /// Most keys are short enough to be held in place: a lookup then reads no key from elsewhere
    /// in memory (with a million entities, most lookups miss the cache).
    pub(super) rows: HashMap<CompactString, OnlineRow, foldhash::fast::RandomState>,
}

impl Latest {
    /// The rows by entity key, as the online store takes them.
    pub(super) fn into_rows(self) -> impl Iterator<Item = (String, OnlineRow)> {
        self.rows.into_iter().map(|(key, row)| (key.into_string(), row))
    }

    /// Reads one row group's rows with event times in `[start, end)`; returns how many rows it
    /// read.
    fn read(
        &mut self,
        runtime: &tokio::runtime::Handle,
        offline: &OfflineStore,
        view: &FeatureView,
        file: &ParquetFile,
        group: usize,
        (start, end): (i64, i64),
    ) -> Result<u64, MaterializeError> {
        let definition = &view.definition;
        let mut columns: Vec<&str> = view.join_keys.iter().map(Name::as_str).collect();
        columns.push(view.timestamp_field.as_str());
        columns.extend(definition.created_timestamp_field.as_ref().map(Name::as_str));
        columns.extend(definition.features.iter().map(|feature| feature.name.as_str()));
        let mut stream = offline.stream_columns(file, &columns, group..group + 1)?;
        let mut read = 0u64;
        while let Some(batch) = runtime.block_on(stream.try_next())? {
            self.take(view, &batch, file.path(), (start, end))?;
            read += batch.num_rows() as u64;
        }
        Ok(read)
    }

    /// Adds the rows of `later`, read after these: as in [`Self::take`], a tie on both times
    /// goes to the row read last. The smaller of the two moves into the larger.
    fn merge(&mut self, later: Latest) {
        let earlier = std::mem::take(self);
        let later_is_larger = later.rows.len() >= earlier.rows.len();
        let (mut into, from) = if later_is_larger { (later, earlier) } else { (earlier, later) };
        for (key, row) in from.rows {
            match into.rows.entry(key) {
                Entry::Vacant(entry) => {
                    entry.insert(row);
                }
                Entry::Occupied(mut entry) => {
                    let held = (entry.get().event_micros, entry.get().created_micros);
                    let moving = (row.event_micros, row.created_micros);
                    if moving > held || (moving == held && !later_is_larger) {
                        entry.insert(row);
                    }
                }
            }
        }
        *self = into;
    }

    /// Takes the rows of `batch` (from `origin`, for messages) with event times in
    /// `[start, end)`.
    fn take(
        &mut self,
        view: &FeatureView,
        batch: &RecordBatch,
        origin: &str,
        (start, end): (i64, i64),
    ) -> Result<(), MaterializeError> {
        let definition = &view.definition;
        let mut key = String::new();
        let keys = view
            .join_keys
            .iter()
            .map(|name| ColumnReader::new(batch, name.as_str(), origin))
            .collect::<Result<Vec<_>, _>>()?;
        let times = ColumnReader::new(batch, view.timestamp_field.as_str(), origin)?;
        let created = match &definition.created_timestamp_field {
            Some(field) => Some(ColumnReader::new(batch, field.as_str(), origin)?),
            None => None,
        };
        // A feature the file lacks (added to the dataset later) reads as null.
        let features: Vec<Option<ColumnReader>> = definition
            .features
            .iter()
            .map(|feature| ColumnReader::new(batch, feature.name.as_str(), origin).ok())
            .collect();
        let mut parts: Vec<KeyPart<'_>> = Vec::with_capacity(keys.len());
        'rows: for row in 0..batch.num_rows() {
            let Some(event) = times.micros(row) else { continue };
            if event < start || event >= end {
                continue;
            }
            let created = created.as_ref().and_then(|column| column.micros(row)).unwrap_or(0);
            parts.clear();
            for column in &keys {
                match column.key_part(row) {
                    Some(part) => parts.push(part),
                    None => continue 'rows,
                }
            }
            key.clear();
            push_key(&mut key, &parts);
            let value = |column: &Option<ColumnReader>| {
                column.as_ref().map_or(crate::online::Value::Null, |column| column.value(row))
            };
            match self.rows.get_mut(key.as_str()) {
                // Ties on both times go to the row read last, as in historical retrieval.
                Some(held) if (held.event_micros, held.created_micros) > (event, created) => {}
                // The newer row takes the held one's place (and its allocations).
                Some(held) => {
                    (held.event_micros, held.created_micros) = (event, created);
                    for (slot, column) in held.values.iter_mut().zip(&features) {
                        *slot = value(column);
                    }
                }
                None => {
                    let values = features.iter().map(value).collect();
                    self.rows.insert(
                        CompactString::new(&key),
                        OnlineRow { event_micros: event, created_micros: created, values },
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, RecordBatch, TimestampMicrosecondArray};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};
    use cairn_storage::OfflineStore;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use proptest::prelude::*;

    use super::latest_of;
    use crate::online::Value;

    fn view() -> cairn_api::FeatureView {
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "definition": {"name": "v", "source": "d", "entities": ["e"], "created_timestamp_field": "created",
                           "features": [{"name": "at", "type": "int64"}]},
            "join_keys": ["id"],
            "timestamp_field": "ts",
            "created_at": "2026-12-01T00:00:00Z",
            "deleted": false
        }))
        .unwrap()
    }

    /// Rows `(id, event, created)` split into files at `cuts`, `group` rows a row group; each
    /// row's feature `at` is its place in reading order.
    fn write(dir: &std::path::Path, rows: &[(i64, i64, i64)], cuts: &[usize], group: usize) -> Vec<String> {
        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("ts", micros.clone(), false),
            Field::new("created", micros, false),
            Field::new("at", DataType::Int64, false),
        ]));
        let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut % (rows.len() + 1)).collect();
        bounds.extend([0, rows.len()]);
        bounds.sort_unstable();
        bounds.dedup();
        let mut paths = Vec::new();
        for (i, range) in bounds.windows(2).enumerate() {
            let part = &rows[range[0]..range[1]];
            let column = |f: fn(&(i64, i64, i64)) -> i64| part.iter().map(f).collect::<Vec<_>>();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(column(|row| row.0))),
                    Arc::new(TimestampMicrosecondArray::from(column(|row| row.1))),
                    Arc::new(TimestampMicrosecondArray::from(column(|row| row.2))),
                    Arc::new(Int64Array::from((range[0] as i64..range[1] as i64).collect::<Vec<_>>())),
                ],
            )
            .unwrap();
            let path = format!("datasets/d/part-{i}.parquet");
            std::fs::create_dir_all(dir.join("datasets/d")).unwrap();
            let properties = WriterProperties::builder().set_max_row_group_row_count(Some(group)).build();
            let mut writer = ArrowWriter::try_new(
                std::fs::File::create(dir.join(&path)).unwrap(),
                schema.clone(),
                Some(properties),
            )
            .unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
            paths.push(path);
        }
        paths
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// However the row groups are shared among threads, each entity gets its row with the
        /// latest event time, then created time, then the one read last — as one reader finds.
        #[test]
        fn threads_find_what_one_reader_finds(
            rows in proptest::collection::vec((0i64..6, 0i64..4, 0i64..2), 0..60),
            cuts in proptest::collection::vec(0usize..61, 0..3),
            group in 1usize..6,
            threads in 1usize..5,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let files = write(dir.path(), &rows, &cuts, group);
            let offline = OfflineStore::local(dir.path()).unwrap();
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
            let latest = runtime
                .block_on(latest_of(&offline, &view(), &files, (i64::MIN, i64::MAX), threads, |_, _| {}))
                .unwrap();
            let mut expected = std::collections::HashMap::new();
            for (at, (id, event, created)) in rows.iter().enumerate() {
                let held = expected.entry(id.to_string()).or_insert((*event, *created, at));
                if (*event, *created) >= (held.0, held.1) {
                    *held = (*event, *created, at);
                }
            }
            prop_assert_eq!(latest.rows.len(), expected.len());
            for (key, (event, created, at)) in expected {
                let row = &latest.rows[key.as_str()];
                prop_assert_eq!((row.event_micros, row.created_micros), (event, created));
                prop_assert_eq!(&row.values, &vec![Value::Int(at as i64)]);
            }
        }
    }
}
