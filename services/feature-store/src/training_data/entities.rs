//! A request's entity rows, made local: an upload staged to a file, a dataset version's files
//! (copied into the request's directory when the offline store is remote), or the rows of a
//! time range.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;

use super::{EntitySource, HistoricalError};
use crate::features::Features;
use crate::point_in_time::{JoinError, ViewFiles, columns_of, read_parquet};
use crate::sources;

/// The entity rows a request names, and what goes with them.
pub(super) struct Entities {
    pub(super) rows: EntityRows,
    /// Their time column unless the request names another.
    pub(super) default_time: String,
    /// `dataset@version` when they are a dataset version, with the dataset's schema.
    pub(super) version: Option<String>,
    pub(super) schema: Option<cairn_domain::Schema>,
}

/// Where the entity rows are: an uploaded file, the files of a dataset version (with the
/// dataset's columns they hold), or the first view's rows in a time range.
pub(super) enum EntityRows {
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

impl Features {
    /// Where `source`'s entity rows are, staged in `work` when they must be.
    pub(super) async fn entities<U, E>(
        &self,
        source: EntitySource<U>,
        work: &Path,
    ) -> Result<Entities, HistoricalError>
    where
        U: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        Ok(match source {
            EntitySource::Uploaded(body) => {
                let path = work.join("entities.parquet");
                stage(body, self.staging.max_upload_bytes, &path).await?;
                Entities {
                    rows: EntityRows::Uploaded(path),
                    default_time: "event_timestamp".into(),
                    version: None,
                    schema: None,
                }
            }
            EntitySource::Range { start, end } => {
                if start >= end {
                    return Err(HistoricalError::Invalid("`start` must be before `end`".into()));
                }
                Entities {
                    rows: EntityRows::Range { start: start.as_micros(), end: end.as_micros() },
                    default_time: "event_timestamp".into(),
                    version: None,
                    schema: None,
                }
            }
            EntitySource::Dataset { name: dataset, version: wanted } => {
                let source = sources::list(&self.db, Some(dataset.clone())).await?.into_iter().next();
                let source =
                    source.ok_or_else(|| HistoricalError::NotFound(format!("no dataset `{dataset}`")))?;
                let (version, files) =
                    sources::version_files(&self.db, dataset.clone(), wanted).await?.ok_or_else(|| {
                        HistoricalError::NotFound(match wanted {
                            Some(version) => format!("dataset `{dataset}` has no version {version}"),
                            None => format!("dataset `{dataset}` has no version yet"),
                        })
                    })?;
                if files.is_empty() {
                    return Err(HistoricalError::Invalid(format!(
                        "version {version} of `{dataset}` holds no rows"
                    )));
                }
                let paths = self.local_copies(&files, work, "entities").await?;
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

    /// Offline store files as local paths: the store's own when it is a local directory, else
    /// copies fetched into `work` (named `<prefix>-<i>.parquet`).
    pub(super) async fn local_copies(
        &self,
        paths: &[String],
        work: &Path,
        prefix: &str,
    ) -> Result<Vec<PathBuf>, HistoricalError> {
        if let Some(root) = &self.staging.offline_root {
            return Ok(paths.iter().map(|path| root.join(path)).collect());
        }
        let mut local = Vec::with_capacity(paths.len());
        for (i, path) in paths.iter().enumerate() {
            let copy = work.join(format!("{prefix}-{i}.parquet"));
            let bytes = self.offline.read(path).await?;
            tokio::fs::write(&copy, &bytes).await.map_err(|error| HistoricalError::Io(error.to_string()))?;
            local.push(copy);
        }
        Ok(local)
    }
}

/// Writes the uploaded bytes to `path`, refusing more than `limit` of them.
async fn stage<E: Display>(
    body: impl Stream<Item = Result<Bytes, E>>,
    limit: u64,
    path: &Path,
) -> Result<(), HistoricalError> {
    let io = |error: std::io::Error| HistoricalError::Io(format!("staging the entity file: {error}"));
    let mut staged = tokio::fs::File::create(path).await.map_err(io)?;
    let mut received = 0u64;
    let mut body = pin!(body);
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
    Ok(())
}

/// The entity rows of a time range: the join keys and event time of the first view's rows with
/// event times in `[start, end)`, the time column named `time`.
pub(super) fn rows_in_range(
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
