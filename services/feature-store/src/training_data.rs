//! Training data: the features of feature views joined onto entity rows as of each row's time —
//! Feast's point-in-time semantics (`point_in_time.rs`) over every file ingested into the views'
//! sources — as a Parquet file, answered to the caller (`Features::historical`) or written as a
//! new version of a dataset (`Features::training_data`). The entity rows are an uploaded file, a
//! dataset version or a time range (`entities.rs`); the views' rows are their source files or
//! their query's result (`views.rs`).

mod columns;
mod entities;
mod version;
mod views;

use std::convert::Infallible;
use std::fmt::Display;
use std::path::PathBuf;

use arrow_schema::SchemaRef;
use bytes::Bytes;
use cairn_config::CairnConfig;
use cairn_db::DbError;
use cairn_domain::Timestamp;
use cairn_storage::StorageError;
use futures::Stream;

use crate::features::Features;
use crate::online::{OnlineRequestError, Wanted};
use crate::point_in_time::{JoinError, point_in_time_join_files, read_parquet, write_parquet};
use crate::transform::TransformError;
use columns::{dataset_schema, with_absent};
use entities::{Entities, EntityRows, rows_in_range};

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

/// What training data to build: entity rows, the features to join onto them, and how.
pub(crate) struct Request<U> {
    pub(crate) entities: EntitySource<U>,
    pub(crate) features: Selection,
    /// Name features `view__feature`.
    pub(crate) full_feature_names: bool,
    /// The entity rows' time column; by default `event_timestamp` in an uploaded file and in a
    /// time range's rows, the dataset's event time in a dataset version.
    pub(crate) entity_timestamp: Option<String>,
}

/// Where the entity rows come from.
pub(crate) enum EntitySource<U> {
    /// A Parquet file of join keys and a time column, as its bytes arrive (at most
    /// `features.max_entity_upload_mib`).
    Uploaded(U),
    /// A version of a dataset (its latest when `None`): every column is kept, labels included.
    Dataset { name: String, version: Option<i64> },
    /// Every row of the first view named with an event time in `[start, end)` (its join keys
    /// and event time): training data for every entity seen in a time range.
    Range { start: Timestamp, end: Timestamp },
}

/// The upload of a request whose entity rows are not uploaded.
pub(crate) type NoUpload = futures::stream::Empty<Result<Bytes, Infallible>>;

/// The features to join.
pub(crate) enum Selection {
    /// `view:feature` references, each view's latest version.
    Features(Vec<String>),
    /// A feature service: its pinned view versions.
    Service(String),
}

impl Selection {
    /// The selection a request naming `features`, a feature service or both makes: exactly one.
    pub(crate) fn new(
        features: Option<Vec<String>>,
        service: Option<String>,
    ) -> Result<Self, HistoricalError> {
        match (features, service) {
            (Some(features), None) => Ok(Self::Features(features)),
            (None, Some(service)) => Ok(Self::Service(service)),
            (Some(_), Some(_)) => {
                Err(HistoricalError::Invalid("give `features` or `feature_service`, not both".into()))
            }
            (None, None) => {
                Err(HistoricalError::Invalid("give `features` (`view:feature`) or `feature_service`".into()))
            }
        }
    }

    fn service(&self) -> Option<&str> {
        match self {
            Self::Features(_) => None,
            Self::Service(service) => Some(service),
        }
    }
}

/// Where training data is put together: a scratch directory beside the service's other local
/// state, the most an uploaded entity file may hold, and the offline store's root when it is a
/// local directory (its files are then read in place; a remote store's are copied first).
pub(crate) struct Staging {
    pub(crate) dir: PathBuf,
    max_upload_bytes: u64,
    offline_root: Option<PathBuf>,
}

impl Staging {
    pub(crate) fn new(config: &CairnConfig) -> Self {
        Self {
            dir: config.data_dir.join("feature-store-scratch"),
            max_upload_bytes: config.features.max_entity_upload_mib.saturating_mul(1024 * 1024),
            offline_root: config.storage.offline_url.is_empty().then(|| config.offline_root()),
        }
    }

    /// A directory of its own for one request's files, removed with the handle.
    fn work_dir(&self) -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.dir)?;
        tempfile::tempdir_in(&self.dir)
    }
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

impl Features {
    /// Training data for `request` against the definitions as applied now.
    pub(crate) async fn historical<U, E>(&self, request: Request<U>) -> Result<Joined, HistoricalError>
    where
        U: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let catalog = self.reload().await?;
        let Request { entities, features, full_feature_names: full, entity_timestamp } = request;
        let wanted = Wanted {
            features: match &features {
                Selection::Features(features) => Some(features.as_slice()),
                Selection::Service(_) => None,
            },
            feature_service: features.service(),
            full_feature_names: full,
        };
        // Training data reads a view's latest version, online or not.
        let (_, groups) = wanted.resolve(&catalog, |catalog, name| catalog.view(name, None))?;
        let feature_service = features
            .service()
            .and_then(|name| catalog.service(name))
            .map(|service| format!("{}@{}", service.name, service.version));

        let work = self.staging.work_dir().map_err(|error| HistoricalError::Io(error.to_string()))?;
        let Entities { rows: entities, default_time, version: entity_rows, schema: entity_schema } =
            self.entities(entities, work.path()).await?;
        let views = self.views(&catalog, &groups, work.path()).await?;

        let time = entity_timestamp.unwrap_or(default_time);
        let event_timestamp = time.clone();
        let output = work.path().join("training.parquet");
        let written = output.clone();
        let (files, layout) = (views.files, views.layout);
        let result = tokio::task::spawn_blocking(move || -> Result<(usize, SchemaRef), JoinError> {
            let (schema, batches) = match &entities {
                EntityRows::Uploaded(path) => read_parquet(std::slice::from_ref(path), None)?,
                EntityRows::Version { paths, columns } => {
                    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                    read_parquet(paths, Some(&columns))?
                }
                EntityRows::Range { start, end } => rows_in_range(&files, (*start, *end), &time)?,
            };
            let rows = arrow_select::concat::concat_batches(&schema, &batches)?;
            let joined = point_in_time_join_files(&rows, &time, &files, full)?;
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
            // What the request asked of the data: keys, times and names it holds or lacks.
            JoinError::MissingColumn(..)
            | JoinError::NotATimestamp { .. }
            | JoinError::BadJoinKey(_)
            | JoinError::DuplicateName(_)
            | JoinError::TooManyRows
            | JoinError::Arrow(_) => HistoricalError::Invalid(error.to_string()),
        })?;
        let (rows, arrow) = result;
        let schema = dataset_schema(&arrow, &event_timestamp, entity_schema.as_ref(), &groups, full)?;
        Ok(Joined {
            work,
            path: output,
            rows: rows as u64,
            schema,
            views: views.lineage,
            feature_service,
            entity_rows,
            sources: views.sources,
        })
    }
}
