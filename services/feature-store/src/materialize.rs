//! Materialization: the latest row of each entity, from a feature view's source files in the
//! offline store to the online store — for a time range or from the view version's watermark,
//! on demand and on a schedule — and the streaming path, which writes the rows of every batch
//! ingestion lands to the views already online, without a job.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use cairn_api::{
    Action, DatasetLineage, FeatureView, Materialization, MaterializationState, MaterializeRequest, Plan,
    TrainingData, TrainingDataRequest,
};
use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_db::{Database, DbError, Sql, inbox, write_transaction};
use cairn_domain::{MaterializationId, Name, Timestamp, TrainingDataId};
use cairn_events::topology::FEATURE_STORE_BATCHES;
use cairn_events::v1::{DatasetBatchIngested, FeatureViewMaterialized, TrainingDataWritten};
use cairn_service::{Outbox, ServiceContext, StartError};
use cairn_storage::{OfflineStore, ParquetFile, StagedFile, StorageError};
use compact_str::CompactString;
use diesel::prelude::*;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::definitions;
use crate::lock;
use crate::online::value::{ColumnReader, KeyPart, OnlineRow, push_key};
use crate::online::{Catalog, NatsOnlineStore, OnlineError, OnlineFeatures, OnlineStore, TableId};
use crate::retrieval::JoinError;
use crate::schema::{materializations, online_views, source_files};
use crate::transform::{self, TransformError, Transforms};

#[derive(Debug, thiserror::Error)]
pub(crate) enum MaterializeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("reading the offline store: {0}")]
    Storage(#[from] StorageError),
    #[error("reading the offline store: {0}")]
    Rows(#[from] JoinError),
    #[error(transparent)]
    Online(#[from] OnlineError),
    #[error("the reader of the offline store stopped: {0}")]
    Reader(String),
    #[error(transparent)]
    Transform(#[from] TransformError),
}

/// Threads reading a view's source files: one per core, at most four.
fn readers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 4)
}

/// Rows written to the online store between progress updates.
const WRITE_CHUNK: usize = 16 * 1024;

/// The feature store's online side: reads, materializations and their progress.
pub(crate) struct Features {
    pub(crate) online: OnlineFeatures<NatsOnlineStore>,
    offline: OfflineStore,
    transforms: Transforms,
    db: Database,
    outbox: Outbox,
    /// Runs in progress, as they advance; finished ones are read from the database.
    running: Mutex<HashMap<String, Materialization>>,
    /// The service's runtime: runs are started from request handlers, whose threads must stay
    /// free to answer requests.
    runtime: tokio::runtime::Handle,
}

impl Features {
    pub(crate) fn new(
        online: OnlineFeatures<NatsOnlineStore>,
        offline: OfflineStore,
        transforms: Transforms,
        db: Database,
        outbox: Outbox,
    ) -> Self {
        let runtime = tokio::runtime::Handle::current();
        Self { online, offline, transforms, db, outbox, running: Mutex::new(HashMap::new()), runtime }
    }

    /// Reads the definitions again, so that reads resolve names against what is applied now.
    pub(crate) async fn reload(&self) -> Result<Arc<Catalog>, DbError> {
        let views = definitions::all_views(&self.db).await?;
        let (_, _, services) = definitions::held(&self.db).await?;
        let online = online_versions(&self.db, true).await?;
        self.online.set_catalog(Catalog::new(views, services, online));
        Ok(self.online.catalog())
    }

    /// Starts materializing a view version; the run continues in the background.
    pub(crate) async fn start(
        self: &Arc<Self>,
        name: &str,
        request: MaterializeRequest,
    ) -> Result<Materialization, MaterializeError> {
        let catalog = self.reload().await?;
        let view = catalog.view(name, request.version).cloned().ok_or_else(|| match request.version {
            Some(version) => {
                MaterializeError::NotFound(format!("no version {version} of feature view `{name}`"))
            }
            None => MaterializeError::NotFound(format!("no feature view `{name}`")),
        })?;
        let key = (name.to_owned(), view.version);
        let watermark = self
            .db
            .run(move |conn| {
                Ok(online_views::table
                    .find(key)
                    .select(online_views::watermark_micros)
                    .first::<i64>(conn)
                    .optional()?)
            })
            .await?
            .filter(|watermark| *watermark != i64::MIN);
        let start = request.start.map(|start| start.as_micros()).or(watermark);
        let end = request.end.unwrap_or_else(Timestamp::now).as_micros();
        if start.is_some_and(|start| start >= end) {
            return Err(MaterializeError::Invalid(format!(
                "nothing to materialize: the range starts at {} and ends at {}",
                Timestamp::from_micros(start.unwrap_or_default()).map(|t| t.to_string()).unwrap_or_default(),
                Timestamp::from_micros(end).map(|t| t.to_string()).unwrap_or_default(),
            )));
        }
        // First the version becomes online — committed before the files are listed — so that a
        // batch landing at any moment is either among the files read here or streamed to the
        // version by the consumer, which looks for online versions after recording the batch.
        let (name, version) = (name.to_owned(), view.version);
        self.db
            .run(move |conn| {
                let mut sql = Sql::new(conn.backend());
                sql.push("INSERT INTO online_views (view, version, watermark_micros, updated_at) VALUES (")
                    .bind(name.as_str())
                    .push(", ")
                    .bind(version)
                    .push(", ")
                    .bind(i64::MIN)
                    .push(", ")
                    .bind(Timestamp::now().as_micros())
                    .push(") ON CONFLICT DO NOTHING");
                sql.execute(conn)?;
                Ok(())
            })
            .await?;
        // A query may read rows of any age to compute the newest ones (a window over the past).
        let read_from = if view.definition.sql.is_some() { None } else { start };
        let files = files_of(&self.db, view.definition.source.to_string(), read_from, end).await?;
        let run = Materialization {
            id: MaterializationId::new().to_string(),
            feature_view: view.definition.name.clone(),
            version: view.version,
            start: start.and_then(Timestamp::from_micros),
            end: Timestamp::from_micros(end).unwrap_or_else(Timestamp::now),
            state: MaterializationState::Running,
            files: files.len() as u64,
            files_read: 0,
            rows_read: 0,
            entities: 0,
            rows_written: 0,
            error: None,
            created_at: Timestamp::now(),
            finished_at: None,
        };
        let row = run.clone();
        self.db.run(move |conn| save(conn, &row)).await?;
        lock(&self.running).insert(run.id.clone(), run.clone());
        let features = self.clone();
        let started = run.clone();
        self.runtime.spawn(async move {
            let outcome = features.execute(&view, &run.id, &files, (start.unwrap_or(i64::MIN), end)).await;
            features.finish(&run.id, outcome.err()).await;
        });
        Ok(started)
    }

    async fn execute(
        self: &Arc<Self>,
        view: &FeatureView,
        id: &str,
        files: &[String],
        range: (i64, i64),
    ) -> Result<(), MaterializeError> {
        let features = self.clone();
        let run = id.to_owned();
        let progress = move |files: u64, rows: u64| {
            features.progress(&run, |run| {
                run.files_read += files;
                run.rows_read += rows;
            });
        };
        let latest = if view.definition.sql.is_some() {
            let latest = self.latest_of_query(view, range, &progress).await?;
            progress(files.len() as u64, 0);
            latest
        } else {
            latest_of(&self.offline, view, files, range, readers(), progress).await?
        };
        self.progress(id, |run| run.entities = latest.rows.len() as u64);
        let table = TableId::new(view.definition.name.as_str(), view.version);
        // The next chunk's writes start while the last ones of a chunk are still in flight.
        let mut rows = latest.into_rows();
        let chunks = std::iter::from_fn(|| {
            let chunk: Vec<(String, OnlineRow)> = rows.by_ref().take(WRITE_CHUNK).collect();
            (!chunk.is_empty()).then_some(chunk)
        });
        let store = self.online.store();
        let mut writes =
            futures::stream::iter(chunks).map(|chunk| store.write(&table, chunk)).buffer_unordered(2);
        while let Some(written) = writes.try_next().await? {
            self.progress(id, |run| run.rows_written += written.written);
        }
        Ok(())
    }

    /// The newest row of each entity among the rows a view's query gives with event times in
    /// `range`; `progress` hears each batch's row count.
    async fn latest_of_query(
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

    fn progress(&self, id: &str, change: impl FnOnce(&mut Materialization)) {
        if let Some(run) = lock(&self.running).get_mut(id) {
            change(run);
        }
    }

    /// Records how the run ended, moves the watermark when it succeeded and announces it.
    async fn finish(&self, id: &str, error: Option<MaterializeError>) {
        let Some(mut run) = lock(&self.running).get(id).cloned() else { return };
        run.finished_at = Some(Timestamp::now());
        run.state =
            if error.is_some() { MaterializationState::Failed } else { MaterializationState::Succeeded };
        run.error = error.map(|error| error.to_string());
        if let Some(error) = &run.error {
            tracing::warn!(feature_view = %run.feature_view, version = run.version, %error, "materialization failed");
        }
        let row = run.clone();
        let saved = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    save(conn, &row)?;
                    if row.state == MaterializationState::Succeeded {
                        let end = row.end.as_micros();
                        diesel::update(online_views::table.find((row.feature_view.as_str(), row.version)))
                            .filter(online_views::watermark_micros.lt(end))
                            .set((
                                online_views::watermark_micros.eq(end),
                                online_views::updated_at.eq(Timestamp::now().as_micros()),
                            ))
                            .execute(conn)?;
                    }
                    Outbox::stage(
                        conn,
                        &FeatureViewMaterialized {
                            feature_view: row.feature_view.to_string(),
                            version: row.version,
                            materialization_id: row.id.clone(),
                            start_unix_micros: row.start.map_or(0, |start| start.as_micros()),
                            end_unix_micros: row.end.as_micros(),
                            rows_read: i64::try_from(row.rows_read).unwrap_or(i64::MAX),
                            rows_written: i64::try_from(row.rows_written).unwrap_or(i64::MAX),
                            error: row.error.clone().unwrap_or_default(),
                        },
                    )?;
                    Ok::<_, DbError>(())
                })
            })
            .await;
        if let Err(error) = saved {
            tracing::error!(materialization = id, %error, "cannot record the end of a materialization");
        }
        self.outbox.wake();
        // A version materialized for the first time takes over `view:feature` reads.
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "cannot read the definitions again after a materialization");
        }
        lock(&self.running).remove(id);
    }

    /// Materializes each new version of a view whose previous version is online, from the
    /// beginning: reads keep the previous version until the new one has its values.
    pub(crate) async fn follow_new_versions(self: &Arc<Self>, plan: &Plan) {
        let catalog = self.online.catalog();
        for change in &plan.changes {
            let (Some(from), Some(to)) = (change.from_version, change.to_version) else { continue };
            let name = change.name.as_str();
            if change.kind != "feature_view"
                || change.action != Action::NewVersion
                || !catalog.is_online(name, from)
            {
                continue;
            }
            let request = MaterializeRequest { version: Some(to), ..MaterializeRequest::default() };
            if let Err(error) = self.start(name, request).await {
                tracing::warn!(feature_view = name, version = to, %error, "the new version's materialization did not start");
            }
        }
    }

    /// Historical retrieval of an uploaded entity file against the definitions as applied now.
    pub(crate) async fn historical(
        &self,
        config: &cairn_config::CairnConfig,
        query: crate::historical::HistoricalQuery,
        body: Option<actix_web::web::Payload>,
    ) -> Result<crate::historical::Joined, crate::historical::HistoricalError> {
        let catalog = self.reload().await?;
        crate::historical::retrieve(config, &self.db, &self.offline, &self.transforms, catalog, query, body)
            .await
    }

    /// Training data written as a new version of a dataset: joined like [`Self::historical`] on
    /// a dataset version's rows, put in the offline store and announced, for ingestion to add.
    pub(crate) async fn training_data(
        &self,
        config: &cairn_config::CairnConfig,
        request: TrainingDataRequest,
    ) -> Result<TrainingData, crate::historical::HistoricalError> {
        let query = crate::historical::HistoricalQuery {
            features: (!request.features.is_empty()).then(|| request.features.join(",")),
            feature_service: request.feature_service,
            full_feature_names: request.full_feature_names,
            entity_timestamp: request.entity_timestamp,
            entity_dataset: Some(request.entity_dataset.to_string()),
            entity_version: request.entity_version,
            start: None,
            end: None,
        };
        let joined = self.historical(config, query, None).await?;
        let id = TrainingDataId::new().to_string();
        let object = format!("training-data/{id}.parquet");
        let staged = StagedFile {
            local: joined.path.clone(),
            object: object.clone(),
            rows: joined.rows,
            min_event_micros: 0,
            max_event_micros: 0,
            written: None,
        };
        self.offline.upload(&staged).await?;
        let lineage = DatasetLineage {
            training_data: id.clone(),
            feature_service: joined.feature_service.clone(),
            feature_views: joined.views.clone(),
            entity_rows: joined.entity_rows.clone().unwrap_or_default(),
            sources: joined.sources.clone(),
        };
        let event = TrainingDataWritten {
            id: id.clone(),
            dataset: request.dataset.to_string(),
            schema_json: serde_json::to_string(&joined.schema).unwrap_or_default(),
            path: object,
            rows: i64::try_from(joined.rows).unwrap_or(i64::MAX),
            feature_service: lineage.feature_service.clone().unwrap_or_default(),
            feature_views: lineage.feature_views.clone(),
            entity_rows: lineage.entity_rows.clone(),
            sources: lineage.sources.clone(),
            written_at_unix_micros: Timestamp::now().as_micros(),
        };
        self.db
            .run(move |conn| write_transaction(conn, |conn| Outbox::stage(conn, &event).map(|_| ())))
            .await?;
        self.outbox.wake();
        Ok(TrainingData { id, dataset: request.dataset, rows: joined.rows, lineage })
    }

    /// A run: in progress from memory, else as recorded.
    pub(crate) async fn materialization(&self, id: String) -> Result<Option<Materialization>, DbError> {
        if let Some(run) = lock(&self.running).get(&id) {
            return Ok(Some(run.clone()));
        }
        let rows = self
            .db
            .run(move |conn| Ok(materializations::table.find(id).select(RunRow::as_select()).load(conn)?))
            .await?;
        Ok(rows.into_iter().next().and_then(RunRow::into_api))
    }

    /// The runs of a feature view, newest first.
    pub(crate) async fn materializations(&self, view: String) -> Result<Vec<Materialization>, DbError> {
        let rows = self
            .db
            .run(move |conn| {
                Ok(materializations::table
                    .filter(materializations::view.eq(view))
                    .order(materializations::created_at.desc())
                    .select(RunRow::as_select())
                    .limit(100)
                    .load(conn)?)
            })
            .await?;
        let running = lock(&self.running);
        Ok(rows
            .into_iter()
            .filter_map(RunRow::into_api)
            .map(|run| running.get(&run.id).cloned().unwrap_or(run))
            .collect())
    }

    /// The streaming path: writes the newest row per entity of a batch's files to each online
    /// version of the views built on the batch's dataset. A view with a query is computed again
    /// and its rows from the batch's earliest event time on are written: those are the rows the
    /// batch can have changed when the query computes a row per event, as windows do.
    async fn push(&self, dataset: &str, files: &[String], earliest: i64) -> Result<(), MaterializeError> {
        let online = online_versions(&self.db, false).await?;
        let mut catalog = self.online.catalog();
        if online.iter().any(|(view, version)| catalog.view(view, Some(*version)).is_none()) {
            catalog = self.reload().await?;
        }
        for (name, version) in online {
            let Some(view) = catalog.view(&name, Some(version)) else { continue };
            let latest = if view.definition.sql.is_some() {
                if !transform::reads(&catalog, view, dataset) {
                    continue;
                }
                self.latest_of_query(view, (earliest, i64::MAX), &|_, _| {}).await?
            } else if view.definition.source.as_str() == dataset {
                latest_of(&self.offline, view, files, (i64::MIN, i64::MAX), readers(), |_, _| {}).await?
            } else {
                continue;
            };
            let table = TableId::new(name, version);
            self.online.store().write(&table, latest.into_rows().collect()).await?;
        }
        Ok(())
    }
}

/// The newest row of each entity of `files` with event times in `range`. The files' row groups
/// are read on blocking threads (decoding and comparing rows is CPU work, which must not hold an
/// async worker), a share of consecutive groups each, and what the threads found is merged in
/// their order; `progress` hears the files read (a file when its last group is) and the rows.
async fn latest_of(
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
struct Latest {
    /// Most keys are short enough to be held in place: a lookup then reads no key from elsewhere
    /// in memory (with a million entities, most lookups miss the cache).
    rows: HashMap<CompactString, OnlineRow, foldhash::fast::RandomState>,
}

impl Latest {
    /// The rows by entity key, as the online store takes them.
    fn into_rows(self) -> impl Iterator<Item = (String, OnlineRow)> {
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = materializations)]
struct RunRow {
    id: String,
    view: String,
    version: i64,
    start_micros: Option<i64>,
    end_micros: i64,
    state: String,
    files: i64,
    files_read: i64,
    rows_read: i64,
    entities: i64,
    rows_written: i64,
    error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

impl RunRow {
    fn into_api(self) -> Option<Materialization> {
        let count = |value: i64| u64::try_from(value).unwrap_or_default();
        Some(Materialization {
            id: self.id,
            feature_view: Name::parse(self.view).ok()?,
            version: self.version,
            start: self.start_micros.and_then(Timestamp::from_micros),
            end: Timestamp::from_micros(self.end_micros)?,
            state: MaterializationState::parse(&self.state)?,
            files: count(self.files),
            files_read: count(self.files_read),
            rows_read: count(self.rows_read),
            entities: count(self.entities),
            rows_written: count(self.rows_written),
            error: self.error,
            created_at: Timestamp::from_micros(self.created_at)?,
            finished_at: self.finished_at.and_then(Timestamp::from_micros),
        })
    }
}

fn save(conn: &mut cairn_db::AnyConnection, run: &Materialization) -> Result<(), DbError> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    diesel::delete(materializations::table.find(&run.id)).execute(conn)?;
    diesel::insert_into(materializations::table)
        .values((
            materializations::id.eq(&run.id),
            materializations::view.eq(run.feature_view.as_str()),
            materializations::version.eq(run.version),
            materializations::start_micros.eq(run.start.map(|start| start.as_micros())),
            materializations::end_micros.eq(run.end.as_micros()),
            materializations::state.eq(run.state.as_str()),
            materializations::files.eq(count(run.files)),
            materializations::files_read.eq(count(run.files_read)),
            materializations::rows_read.eq(count(run.rows_read)),
            materializations::entities.eq(count(run.entities)),
            materializations::rows_written.eq(count(run.rows_written)),
            materializations::error.eq(&run.error),
            materializations::created_at.eq(run.created_at.as_micros()),
            materializations::finished_at.eq(run.finished_at.map(|at| at.as_micros())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Runs a restart cut short are failed: they are not running any more.
pub(crate) async fn fail_interrupted(db: &Database) -> Result<(), DbError> {
    db.run(|conn| {
        diesel::update(
            materializations::table
                .filter(materializations::state.eq(MaterializationState::Running.as_str())),
        )
        .set((
            materializations::state.eq(MaterializationState::Failed.as_str()),
            materializations::error.eq("interrupted: the feature store stopped during the run"),
            materializations::finished_at.eq(Timestamp::now().as_micros()),
        ))
        .execute(conn)?;
        Ok(())
    })
    .await
}

/// The view versions marked online: every one a run has started for, or with `succeeded` only
/// those a run has finished for (a first run moves the watermark off its initial value).
async fn online_versions(db: &Database, succeeded: bool) -> Result<Vec<(String, i64)>, DbError> {
    db.run(move |conn| {
        let mut query = online_views::table.select((online_views::view, online_views::version)).into_boxed();
        if succeeded {
            query = query.filter(online_views::watermark_micros.gt(i64::MIN));
        }
        Ok(query.load(conn)?)
    })
    .await
}

/// The files ingested into `dataset` whose batches hold event times in `[start, end)` (from the
/// beginning without `start`), in the order they were ingested.
pub(crate) async fn files_of(
    db: &Database,
    dataset: String,
    start: Option<i64>,
    end: i64,
) -> Result<Vec<String>, DbError> {
    db.run(move |conn| {
        let mut query = source_files::table
            .filter(source_files::dataset.eq(dataset))
            .filter(source_files::min_event_micros.lt(end))
            .select(source_files::path)
            .order((source_files::sequence.asc(), source_files::path.asc()))
            .into_boxed();
        if let Some(start) = start {
            query = query.filter(source_files::max_event_micros.ge(start));
        }
        Ok(query.load::<String>(conn)?)
    })
    .await
}

/// Follows the batches ingestion lands: records their files, then pushes their rows online.
pub(crate) async fn follow_batches(
    context: &ServiceContext,
    features: Arc<Features>,
) -> Result<ConsumerHandle, StartError> {
    let db = context.db.clone();
    Ok(context
        .bus
        .consume(&FEATURE_STORE_BATCHES, context.shutdown.clone(), move |delivery| {
            on_batch(db.clone(), features.clone(), delivery)
        })
        .await?)
}

async fn on_batch(
    db: Database,
    features: Arc<Features>,
    delivery: Delivery<DatasetBatchIngested>,
) -> Result<(), HandlerError> {
    let retry = |reason: String| HandlerError::Retry { reason, after: Duration::from_secs(2) };
    let event = delivery.event;
    if event.files.is_empty() {
        return Ok(());
    }
    let (event_id, sequence) =
        (delivery.event_id.to_string(), i64::try_from(delivery.stream_sequence).unwrap_or(i64::MAX));
    let recorded = event.clone();
    db.run(move |conn| {
        inbox::apply_once(conn, FEATURE_STORE_BATCHES.durable, &event_id, |conn| {
            let mut sql = Sql::new(conn.backend());
            sql.push(
                "INSERT INTO source_files (dataset, path, batch_id, sequence, min_event_micros, max_event_micros) VALUES ",
            );
            for (i, path) in recorded.files.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(recorded.dataset.as_str())
                    .push(", ")
                    .bind(path.as_str())
                    .push(", ")
                    .bind(recorded.batch_id.as_str())
                    .push(", ")
                    .bind(sequence)
                    .push(", ")
                    .bind(recorded.min_event_time_unix_micros)
                    .push(", ")
                    .bind(recorded.max_event_time_unix_micros)
                    .push(")");
            }
            sql.push(" ON CONFLICT DO NOTHING");
            sql.execute(conn)?;
            Ok(())
        })
    })
    .await
    .map_err(|error| retry(error.to_string()))?;
    // Writing again after a redelivery changes nothing: older rows never replace newer ones.
    features
        .push(&event.dataset, &event.files, event.min_event_time_unix_micros)
        .await
        .map_err(|error| retry(error.to_string()))
}

/// Materializes every online view version, each from its watermark, every `interval`.
pub(crate) fn schedule(
    features: Arc<Features>,
    interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let online = online_versions(&features.db, false).await;
            let Ok(online) = online else { continue };
            let catalog = features.online.catalog();
            for (name, version) in online {
                // Only the versions reads resolve to: the latest live one of each view.
                if catalog.view(&name, None).is_none_or(|view| view.version != version) {
                    continue;
                }
                let busy = lock(&features.running)
                    .values()
                    .any(|run| run.feature_view.as_str() == name && run.version == version);
                if busy {
                    continue;
                }
                let request = MaterializeRequest { version: Some(version), ..MaterializeRequest::default() };
                if let Err(error) = features.start(&name, request).await {
                    tracing::warn!(feature_view = name, version, %error, "scheduled materialization did not start");
                }
            }
        }
    });
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
