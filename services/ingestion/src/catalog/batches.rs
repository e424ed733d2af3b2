//! Batches and their files: recorded as they arrive, ended with their state, read back.

use cairn_api::{Batch, DatasetFile};
use cairn_db::{AnyConnection, DbError};
use cairn_domain::{BatchId, Name, Timestamp};
use diesel::prelude::*;

use super::{BatchState, DATA, FileState, QUARANTINE, corrupt, timestamp};
use crate::schema::{batch_files, batches};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = batches)]
pub(crate) struct BatchRow {
    pub id: String,
    pub dataset: String,
    pub state: String,
    pub format: String,
    pub received_at: i64,
    pub finished_at: Option<i64>,
    pub version: Option<i64>,
    pub report_json: Option<String>,
    pub error: Option<String>,
    pub profile_json: Option<String>,
    /// `training_data:<id>` for training data the feature store wrote, `predictions:<id>` for a
    /// scoring job's predictions.
    pub origin: Option<String>,
    pub lineage_json: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = batch_files)]
pub(crate) struct FileRow {
    pub path: String,
    pub batch_id: String,
    pub dataset: String,
    pub area: String,
    pub state: String,
    pub version: Option<i64>,
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
    pub min_event_micros: i64,
    pub max_event_micros: i64,
}

pub(crate) fn insert_batch(conn: &mut AnyConnection, row: &BatchRow) -> Result<(), DbError> {
    diesel::insert_into(batches::table).values(row).execute(conn)?;
    Ok(())
}

pub(crate) fn insert_files(conn: &mut AnyConnection, rows: &[FileRow]) -> Result<(), DbError> {
    for row in rows {
        diesel::insert_into(batch_files::table).values(row).execute(conn)?;
    }
    Ok(())
}

/// Ends a batch: its state, report or error, and (committed) its version.
pub(crate) fn finish_batch(
    conn: &mut AnyConnection,
    id: &str,
    state: BatchState,
    version: Option<i64>,
    report_json: Option<String>,
    error: Option<String>,
) -> Result<(), DbError> {
    diesel::update(batches::table.find(id))
        .set((
            batches::state.eq(state.as_str()),
            batches::finished_at.eq(Timestamp::now().as_micros()),
            batches::version.eq(version),
            batches::report_json.eq(report_json),
            batches::error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a batch's files of `area` committed (under `version` for data files), with the sizes
/// and hashes measured on upload.
pub(crate) fn commit_files(
    conn: &mut AnyConnection,
    files: &[FileRow],
    version: Option<i64>,
) -> Result<(), DbError> {
    for file in files {
        diesel::update(batch_files::table.find(&file.path))
            .set((
                batch_files::state.eq(FileState::Committed.as_str()),
                batch_files::version.eq(version),
                batch_files::bytes.eq(file.bytes),
                batch_files::sha256.eq(&file.sha256),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub(crate) fn delete_files(conn: &mut AnyConnection, paths: &[String]) -> Result<(), DbError> {
    diesel::delete(batch_files::table.filter(batch_files::path.eq_any(paths))).execute(conn)?;
    Ok(())
}

pub(crate) fn batch(
    conn: &mut AnyConnection,
    dataset: &str,
    id: &str,
) -> Result<Option<(BatchRow, Vec<FileRow>)>, DbError> {
    let Some(row) = batches::table
        .filter(batches::id.eq(id).and(batches::dataset.eq(dataset)))
        .select(BatchRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let files = batch_files::table
        .filter(batch_files::batch_id.eq(id).and(batch_files::state.eq(FileState::Committed.as_str())))
        .order(batch_files::path.asc())
        .select(FileRow::as_select())
        .load(conn)?;
    Ok(Some((row, files)))
}

/// Committed quarantine files of a dataset (or of one of its batches), newest batch first.
pub(crate) fn quarantine_files(
    conn: &mut AnyConnection,
    dataset: &str,
    batch: Option<&str>,
) -> Result<Vec<FileRow>, DbError> {
    let mut query = batch_files::table
        .filter(
            batch_files::dataset
                .eq(dataset)
                .and(batch_files::area.eq(QUARANTINE))
                .and(batch_files::state.eq(FileState::Committed.as_str())),
        )
        .into_boxed();
    if let Some(batch) = batch {
        query = query.filter(batch_files::batch_id.eq(batch));
    }
    Ok(query
        .order((batch_files::batch_id.desc(), batch_files::path.asc()))
        .select(FileRow::as_select())
        .load(conn)?)
}

/// `limit` batches of a dataset from `offset` on, oldest first (ties by id: the order is stable).
pub(crate) fn batches_of(
    conn: &mut AnyConnection,
    dataset: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<BatchRow>, DbError> {
    Ok(batches::table
        .filter(batches::dataset.eq(dataset))
        .order((batches::received_at.asc(), batches::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(BatchRow::as_select())
        .load(conn)?)
}

/// Batches a crash interrupted, with the files they had started to write.
pub(crate) fn interrupted(conn: &mut AnyConnection) -> Result<Vec<(String, Vec<String>)>, DbError> {
    let ids: Vec<String> = batches::table
        .filter(batches::state.eq(BatchState::Receiving.as_str()))
        .select(batches::id)
        .load(conn)?;
    let mut found = Vec::new();
    for id in ids {
        let paths =
            batch_files::table.filter(batch_files::batch_id.eq(&id)).select(batch_files::path).load(conn)?;
        found.push((id, paths));
    }
    Ok(found)
}

/// The committed batch of `dataset` that `origin` produced, if any.
pub(crate) fn committed_from(
    conn: &mut AnyConnection,
    dataset: &str,
    origin: &str,
) -> Result<Option<BatchRow>, DbError> {
    Ok(batches::table
        .filter(
            batches::dataset
                .eq(dataset)
                .and(batches::origin.eq(origin))
                .and(batches::state.eq(BatchState::Committed.as_str())),
        )
        .select(BatchRow::as_select())
        .first(conn)
        .optional()?)
}

impl FileRow {
    pub(crate) fn to_api(&self) -> DatasetFile {
        DatasetFile {
            path: self.path.clone(),
            rows: u64::try_from(self.rows).unwrap_or_default(),
            bytes: u64::try_from(self.bytes).unwrap_or_default(),
            sha256: self.sha256.clone(),
        }
    }
}

impl BatchRow {
    /// A batch that has just started arriving.
    pub(crate) fn receiving(id: BatchId, dataset: &Name, format: &str) -> Self {
        BatchRow {
            id: id.to_string(),
            dataset: dataset.to_string(),
            state: BatchState::Receiving.as_str().to_owned(),
            format: format.to_owned(),
            received_at: Timestamp::now().as_micros(),
            finished_at: None,
            version: None,
            report_json: None,
            error: None,
            profile_json: None,
            origin: None,
            lineage_json: None,
        }
    }

    pub(crate) fn to_api(&self, files: &[FileRow]) -> Result<Batch, DbError> {
        Ok(Batch {
            id: self.id.clone(),
            dataset: Name::parse(self.dataset.clone()).map_err(|e| corrupt("dataset name", e))?,
            state: BatchState::parse(&self.state)?.as_str().to_owned(),
            format: self.format.clone(),
            received_at: timestamp("batch received_at", self.received_at)?,
            finished_at: self.finished_at.map(|micros| timestamp("batch finished_at", micros)).transpose()?,
            version: self.version,
            report: self
                .report_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("quality report", e))?,
            error: self.error.clone(),
            files: files.iter().filter(|f| f.area == DATA).map(FileRow::to_api).collect(),
            quarantine: files.iter().filter(|f| f.area == QUARANTINE).map(FileRow::to_api).collect(),
        })
    }
}

/// Datasets with committed records not yet in a version.
pub(crate) fn datasets_with_unversioned(conn: &mut AnyConnection) -> Result<Vec<String>, DbError> {
    Ok(batch_files::table
        .filter(
            batch_files::area
                .eq(DATA)
                .and(batch_files::state.eq(FileState::Committed.as_str()))
                .and(batch_files::version.is_null()),
        )
        .select(batch_files::dataset)
        .distinct()
        .load(conn)?)
}

pub(crate) fn set_batch_profile(
    conn: &mut AnyConnection,
    id: &str,
    profile_json: Option<String>,
) -> Result<(), DbError> {
    diesel::update(batches::table.find(id)).set(batches::profile_json.eq(profile_json)).execute(conn)?;
    Ok(())
}

/// Committed batches not in a version yet (what a snapshot adds), with their profiles.
pub(crate) fn unversioned_batches(
    conn: &mut AnyConnection,
    dataset: &str,
) -> Result<Vec<(String, Option<String>)>, DbError> {
    Ok(batches::table
        .filter(
            batches::dataset
                .eq(dataset)
                .and(batches::state.eq(BatchState::Committed.as_str()))
                .and(batches::version.is_null()),
        )
        .select((batches::id, batches::profile_json))
        .load(conn)?)
}
