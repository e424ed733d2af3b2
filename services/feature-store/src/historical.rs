//! Historical retrieval over HTTP: an uploaded Parquet file of entity rows (join keys and a
//! timestamp) joined with the features of feature views as of each row's time — Feast's
//! point-in-time semantics (`retrieval.rs`) over every file ingested into the views' sources —
//! answered as a Parquet file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use cairn_config::CairnConfig;
use cairn_db::{Database, DbError};
use cairn_storage::{OfflineStore, StorageError, data_type};
use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use crate::materialize::files_of;
use crate::online::{Catalog, OnlineRequestError, Wanted};
use crate::retrieval::{
    JoinError, ViewFiles, ViewSpec, columns_of, point_in_time_join_files, read_parquet, write_parquet,
};
use crate::transform::{TransformError, Transforms};

#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoricalError {
    /// The request or its file cannot be answered as asked.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the entity file is larger than {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("reading the offline store: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Transform(#[from] TransformError),
}

impl From<OnlineRequestError> for HistoricalError {
    fn from(error: OnlineRequestError) -> Self {
        Self::Invalid(error.to_string())
    }
}

/// `POST /v1/historical-features` query: what to join, and the entity file's time column.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct HistoricalQuery {
    /// `view:feature` references, comma separated (each view's latest version).
    #[serde(default)]
    pub features: Option<String>,
    /// A feature service (its pinned view versions).
    #[serde(default)]
    pub feature_service: Option<String>,
    /// Name features `view__feature`.
    #[serde(default)]
    pub full_feature_names: bool,
    /// The entity rows' time column: `event_timestamp` (Feast's name) in an uploaded file, the
    /// dataset's event time in `entity_dataset`, by default.
    #[serde(default)]
    pub entity_timestamp: Option<String>,
    /// Entity rows from a version of this dataset (every column is kept, labels included)
    /// instead of an uploaded file.
    #[serde(default)]
    pub entity_dataset: Option<String>,
    /// The version of `entity_dataset`; its latest by default.
    #[serde(default)]
    pub entity_version: Option<i64>,
    /// With `end`, instead of entity rows: every row of the first view named, with an event time
    /// in `[start, end)` (its join keys and event time, as `event_timestamp` by default), is an
    /// entity row — training data for every entity seen in a time range.
    #[serde(default)]
    pub start: Option<cairn_domain::Timestamp>,
    #[serde(default)]
    pub end: Option<cairn_domain::Timestamp>,
}

/// The joined training data in a scratch file (removed with this), and what it came from.
pub(crate) struct Joined {
    work: tempfile::TempDir,
    pub path: PathBuf,
    pub rows: u64,
    /// The result's schema as a dataset would declare it: the entity rows' time as event time.
    pub schema: cairn_domain::Schema,
    /// `view@version` per view joined.
    pub views: Vec<String>,
    /// `name@version` of the feature service asked for.
    pub feature_service: Option<String>,
    /// `dataset@version` of the entity rows, when they were a dataset version.
    pub entity_rows: Option<String>,
    /// `dataset@version` of each view's source dataset (its latest version known; `@0` before
    /// the first), each once.
    pub sources: Vec<String>,
}

impl Joined {
    /// The file, already unlinked: it goes away with the handle.
    pub(crate) async fn open(self) -> Result<tokio::fs::File, HistoricalError> {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|error| HistoricalError::Io(error.to_string()))?;
        drop(self.work);
        Ok(file)
    }
}

pub(crate) async fn retrieve(
    config: &CairnConfig,
    db: &Database,
    offline: &OfflineStore,
    transforms: &Transforms,
    catalog: Arc<Catalog>,
    query: HistoricalQuery,
    body: Option<web::Payload>,
) -> Result<Joined, HistoricalError> {
    let features: Option<Vec<String>> =
        query.features.as_ref().map(|list| list.split(',').map(|f| f.trim().to_owned()).collect());
    let wanted = Wanted {
        features: features.as_deref(),
        feature_service: query.feature_service.as_deref(),
        full_feature_names: query.full_feature_names,
    };
    // Training data reads a view's latest version, online or not.
    let (_, groups) = wanted.resolve(&catalog, |catalog, name| catalog.view(name, None))?;
    let feature_service = query
        .feature_service
        .as_ref()
        .and_then(|name| catalog.services.get(name.as_str()))
        .map(|service| format!("{}@{}", service.name, service.version));

    let work = tempfile::tempdir_in(scratch(config)).map_err(|e| HistoricalError::Io(e.to_string()))?;
    let limit = config.features.max_entity_upload_mib.saturating_mul(1024 * 1024);
    let staged = match body {
        Some(mut body) => Some(stage(&mut body, limit, &work.path().join("entities.parquet")).await?),
        None => None,
    };
    let Entities { rows: entities, default_time, version: entity_rows, schema: entity_schema } =
        entities(config, db, offline, &query, staged, work.path()).await?;

    let mut views = Vec::with_capacity(groups.len());
    let mut lineage = Vec::with_capacity(groups.len());
    let mut sources: Vec<String> = Vec::new();
    // Per view, its features in order, each with its type when no file holds it yet (a column
    // added to the dataset after its last batch): those read as nulls.
    let mut layout: Vec<ViewLayout> = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let view = &group.view;
        let source = view.definition.source.as_str();
        let paths = match &view.definition.sql {
            None => {
                let files = files_of(db, source.to_owned(), None, i64::MAX).await?;
                local_copies(config, offline, &files, work.path(), &format!("view-{i}")).await?
            }
            Some(_) => {
                let path = work.path().join(format!("view-{i}.parquet"));
                transforms.write(&catalog, view, i64::MAX, &path).await?;
                vec![path]
            }
        };
        if paths.is_empty() {
            return Err(HistoricalError::Invalid(format!(
                "feature view `{}`: its source dataset `{source}` has no ingested data yet",
                view.definition.name
            )));
        }
        lineage.push(format!("{}@{}", view.definition.name, view.version));
        let known = crate::sources::latest_version(db, source.to_owned()).await?;
        let source_version = format!("{source}@{}", known.unwrap_or(0));
        if !sources.contains(&source_version) {
            sources.push(source_version);
        }
        let held = columns_of(&paths).map_err(|error| HistoricalError::Io(error.to_string()))?;
        let features: Vec<(String, Option<DataType>)> = group
            .columns
            .iter()
            .map(|(_, index)| {
                let feature = &view.definition.features[*index];
                let name = feature.name.to_string();
                let absent = (!held.contains(&name)).then(|| data_type(&feature.column_type));
                (name, absent)
            })
            .collect();
        views.push(ViewFiles {
            spec: ViewSpec {
                name: view.definition.name.to_string(),
                join_keys: view.join_keys.iter().map(ToString::to_string).collect(),
                features: features
                    .iter()
                    .filter(|(_, absent)| absent.is_none())
                    .map(|(name, _)| name.clone())
                    .collect(),
                event_timestamp: view.timestamp_field.to_string(),
                created_timestamp: view.definition.created_timestamp_field.as_ref().map(ToString::to_string),
                ttl_micros: match view.definition.ttl_seconds {
                    0 => None,
                    seconds => {
                        Some(i64::try_from(seconds).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000))
                    }
                },
            },
            paths,
        });
        layout.push((view.definition.name.to_string(), features));
    }
    let time = query.entity_timestamp.unwrap_or(default_time);
    let event_timestamp = time.clone();
    let full = query.full_feature_names;
    let output = work.path().join("training.parquet");
    let written = output.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(usize, SchemaRef), JoinError> {
        let (schema, batches) = match &entities {
            EntityRows::Uploaded(path) => read_parquet(std::slice::from_ref(path), None)?,
            EntityRows::Version { paths, columns } => {
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                read_parquet(paths, Some(&columns))?
            }
            EntityRows::Range { start, end } => rows_in_range(&views, (*start, *end), &time)?,
        };
        let rows = arrow_select::concat::concat_batches(&schema, &batches)?;
        let joined = point_in_time_join_files(&rows, &time, &views, full)?;
        let joined = with_absent(&joined, schema.fields().len(), &layout, full)?;
        write_parquet(&joined, &written)?;
        Ok((joined.num_rows(), joined.schema()))
    })
    .await
    .map_err(|error| HistoricalError::Io(error.to_string()))?
    .map_err(|error| match error {
        // The uploaded file is the caller's; anything about it is theirs to fix.
        JoinError::File { path, message } if path.ends_with("entities.parquet") => {
            HistoricalError::Invalid(format!("the entity file: {message}"))
        }
        JoinError::File { .. } => HistoricalError::Io(error.to_string()),
        other => HistoricalError::Invalid(other.to_string()),
    })?;
    let (rows, arrow) = result;
    let schema = dataset_schema(&arrow, &event_timestamp, entity_schema.as_ref(), &groups, full)?;
    Ok(Joined {
        work,
        path: output,
        rows: rows as u64,
        schema,
        views: lineage,
        feature_service,
        entity_rows,
        sources,
    })
}

/// The schema a dataset of `result` declares: the entity dataset's columns as it declares them
/// (without its rules), features as their views declare them, other columns as their Arrow type
/// reads; every column nullable but the event time.
fn dataset_schema(
    result: &SchemaRef,
    event_timestamp: &str,
    entity: Option<&cairn_domain::Schema>,
    groups: &[crate::online::Group],
    full: bool,
) -> Result<cairn_domain::Schema, HistoricalError> {
    let declared = |name: &str| {
        let from_entity = entity.and_then(|schema| schema.columns.iter().find(|c| c.name.as_str() == name));
        from_entity.map(|column| column.column_type.clone()).or_else(|| {
            groups.iter().find_map(|group| {
                let view = &group.view.definition;
                group.columns.iter().find_map(|(_, index)| {
                    let feature = &view.features[*index];
                    let output = if full {
                        format!("{}__{}", view.name, feature.name)
                    } else {
                        feature.name.to_string()
                    };
                    (output == name).then(|| feature.column_type.clone())
                })
            })
        })
    };
    let mut columns = Vec::with_capacity(result.fields().len());
    for field in result.fields() {
        let name = cairn_domain::Name::parse(field.name().as_str())
            .map_err(|error| HistoricalError::Invalid(format!("column `{}`: {error}", field.name())))?;
        let column_type = declared(field.name())
            .or_else(|| crate::transform::column_type(field.data_type()))
            .ok_or_else(|| {
                HistoricalError::Invalid(format!(
                    "column `{name}` is of type {}, which a dataset cannot hold",
                    field.data_type()
                ))
            })?;
        let nullable = name.as_str() != event_timestamp;
        columns.push(cairn_domain::Column { name, column_type, nullable, rules: Default::default() });
    }
    let event_timestamp = cairn_domain::Name::parse(event_timestamp)
        .map_err(|error| HistoricalError::Invalid(format!("`{event_timestamp}`: {error}")))?;
    Ok(cairn_domain::Schema { columns, event_timestamp, entity_keys: Vec::new(), unique_key: false })
}

/// Where uploads and results are staged: beside the service's other local state.
pub(crate) fn scratch(config: &CairnConfig) -> PathBuf {
    let dir = config.data_dir.join("feature-store-scratch");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The entity rows a request names, and what goes with them.
struct Entities {
    rows: EntityRows,
    /// Their time column unless the request names another.
    default_time: String,
    /// `dataset@version` when they are a dataset version, with the dataset's schema.
    version: Option<String>,
    schema: Option<cairn_domain::Schema>,
}

/// Where a request's entity rows are: the uploaded file (`staged`), a dataset version (copied
/// into `work` when the offline store is remote) or a time range; two at once are refused.
async fn entities(
    config: &CairnConfig,
    db: &Database,
    offline: &OfflineStore,
    query: &HistoricalQuery,
    staged: Option<PathBuf>,
    work: &Path,
) -> Result<Entities, HistoricalError> {
    let uploaded = match &staged {
        Some(path) => path.metadata().map_err(|e| HistoricalError::Io(e.to_string()))?.len() > 0,
        None => false,
    };
    let range = match (query.start, query.end) {
        (None, None) => None,
        (Some(start), Some(end)) if start < end => Some((start.as_micros(), end.as_micros())),
        (Some(_), Some(_)) => return Err(HistoricalError::Invalid("`start` must be before `end`".into())),
        _ => return Err(HistoricalError::Invalid("a time range needs both `start` and `end`".into())),
    };
    Ok(match (&query.entity_dataset, range) {
        (None, Some((start, end))) => {
            if uploaded {
                return Err(HistoricalError::Invalid(
                    "entity rows come from an uploaded file or from a time range, not both".into(),
                ));
            }
            Entities {
                rows: EntityRows::Range { start, end },
                default_time: "event_timestamp".into(),
                version: None,
                schema: None,
            }
        }
        (Some(_), Some(_)) => {
            return Err(HistoricalError::Invalid(
                "entity rows come from `entity_dataset` or from a time range, not both".into(),
            ));
        }
        (None, None) => {
            let path = staged.ok_or_else(|| HistoricalError::Invalid("no entity rows".into()))?;
            Entities {
                rows: EntityRows::Uploaded(path),
                default_time: "event_timestamp".into(),
                version: None,
                schema: None,
            }
        }
        (Some(dataset), None) => {
            if uploaded {
                return Err(HistoricalError::Invalid(
                    "entity rows come from an uploaded file or from `entity_dataset`, not both".into(),
                ));
            }
            let source = crate::sources::list(db, Some(dataset.clone())).await?.into_iter().next();
            let source =
                source.ok_or_else(|| HistoricalError::NotFound(format!("no dataset `{dataset}`")))?;
            let (version, files) = crate::sources::version_files(db, dataset.clone(), query.entity_version)
                .await?
                .ok_or_else(|| {
                    HistoricalError::NotFound(match query.entity_version {
                        Some(version) => format!("dataset `{dataset}` has no version {version}"),
                        None => format!("dataset `{dataset}` has no version yet"),
                    })
                })?;
            if files.is_empty() {
                return Err(HistoricalError::Invalid(format!(
                    "version {version} of `{dataset}` holds no rows"
                )));
            }
            let paths = local_copies(config, offline, &files, work, "entities").await?;
            let held = columns_of(&paths).map_err(|error| HistoricalError::Io(error.to_string()))?;
            let columns = source
                .schema
                .columns
                .iter()
                .map(|column| column.name.to_string())
                .filter(|name| held.contains(name))
                .collect();
            Entities {
                rows: EntityRows::Version { paths, columns },
                default_time: source.schema.event_timestamp.to_string(),
                version: Some(format!("{dataset}@{version}")),
                schema: Some(source.schema),
            }
        }
    })
}

/// Where the entity rows are: an uploaded file, the files of a dataset version (with the
/// dataset's columns they hold), or the first view's rows in a time range.
enum EntityRows {
    Uploaded(PathBuf),
    Version {
        paths: Vec<PathBuf>,
        columns: Vec<String>,
    },
    /// Event times `[start, end)` in µs.
    Range {
        start: i64,
        end: i64,
    },
}

/// The entity rows of a time range: the join keys and event time of the first view's rows with
/// event times in `[start, end)`, the time column named `time`.
fn rows_in_range(
    views: &[ViewFiles],
    (start, end): (i64, i64),
    time: &str,
) -> Result<(SchemaRef, Vec<RecordBatch>), JoinError> {
    let Some(first) = views.first() else {
        return Err(JoinError::File {
            path: String::new(),
            message: "no feature view to take rows from".into(),
        });
    };
    let spec = &first.spec;
    let mut columns: Vec<&str> = spec.join_keys.iter().map(String::as_str).collect();
    columns.push(&spec.event_timestamp);
    let (schema, batches) = read_parquet(&first.paths, Some(&columns))?;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let field = field.as_ref().clone();
            if *field.name() == spec.event_timestamp { field.with_name(time) } else { field }
        })
        .collect();
    let renamed = Arc::new(Schema::new(fields));
    let mut kept = Vec::with_capacity(batches.len());
    for batch in batches {
        let times = batch.column_by_name(&spec.event_timestamp).cloned().ok_or_else(|| {
            JoinError::MissingColumn(format!("view `{}`", spec.name), spec.event_timestamp.clone())
        })?;
        let inside: arrow_array::BooleanArray = (0..batch.num_rows())
            .map(|row| {
                Some(cairn_storage::cells::micros_at(&times, row).is_some_and(|t| t >= start && t < end))
            })
            .collect();
        let batch = arrow_select::filter::filter_record_batch(&batch, &inside)?;
        kept.push(RecordBatch::try_new(renamed.clone(), batch.columns().to_vec())?);
    }
    Ok((renamed, kept))
}

/// Writes the request body to `path`, refusing more than `limit` bytes; returns the path.
async fn stage(body: &mut web::Payload, limit: u64, path: &Path) -> Result<PathBuf, HistoricalError> {
    let io = |error: std::io::Error| HistoricalError::Io(format!("staging the entity file: {error}"));
    let mut staged = tokio::fs::File::create(path).await.map_err(io)?;
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|error| HistoricalError::Invalid(format!("reading the upload: {error}")))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(HistoricalError::TooLarge(limit));
        }
        staged.write_all(&chunk).await.map_err(io)?;
    }
    staged.flush().await.map_err(io)?;
    Ok(path.to_owned())
}

/// Offline store files as local paths: the store's own when it is a local directory, else
/// copies fetched into `work` (named `<prefix>-<i>.parquet`).
async fn local_copies(
    config: &CairnConfig,
    offline: &OfflineStore,
    paths: &[String],
    work: &Path,
    prefix: &str,
) -> Result<Vec<PathBuf>, HistoricalError> {
    if config.storage.offline_url.is_empty() {
        let root = config.offline_root();
        return Ok(paths.iter().map(|path| root.join(path)).collect());
    }
    let mut local = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let copy = work.join(format!("{prefix}-{i}.parquet"));
        let bytes = offline.read(path).await?;
        tokio::fs::write(&copy, &bytes).await.map_err(|error| HistoricalError::Io(error.to_string()))?;
        local.push(copy);
    }
    Ok(local)
}

/// A view's name and its features in order, each with its declared type when no file holds it.
type ViewLayout = (String, Vec<(String, Option<DataType>)>);

/// `joined` (the entity columns, then each view's features that files hold) with the features no
/// file holds put in their places, as nulls of their declared types.
fn with_absent(
    joined: &RecordBatch,
    entity_columns: usize,
    layout: &[ViewLayout],
    full_feature_names: bool,
) -> Result<RecordBatch, JoinError> {
    if layout.iter().all(|(_, features)| features.iter().all(|(_, absent)| absent.is_none())) {
        return Ok(joined.clone());
    }
    let schema = joined.schema();
    let mut fields: Vec<Field> =
        schema.fields().iter().take(entity_columns).map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = joined.columns().iter().take(entity_columns).cloned().collect();
    let mut next = entity_columns;
    for (view, features) in layout {
        for (feature, absent) in features {
            match absent {
                None => {
                    fields.push(schema.field(next).clone());
                    columns.push(joined.column(next).clone());
                    next += 1;
                }
                Some(data_type) => {
                    let name =
                        if full_feature_names { format!("{view}__{feature}") } else { feature.clone() };
                    fields.push(Field::new(name, data_type.clone(), true));
                    columns.push(arrow_array::new_null_array(data_type, joined.num_rows()));
                }
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
