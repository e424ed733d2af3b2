//! Batches, their files and dataset versions in the metadata database.

use cairn_api::{Batch, DatasetFile, DatasetVersion};
use cairn_db::{AnyConnection, DbError, Sql};
use cairn_domain::{BatchId, Name, Timestamp};
use cairn_records::Validator;
use diesel::prelude::*;

use crate::schema::{batch_files, batches, dataset_versions, datasets};

pub(crate) const DATA: &str = "data";
pub(crate) const QUARANTINE: &str = "quarantine";

/// The states a batch goes through (`batches.state`, and `state` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchState {
    /// Arriving: nothing of it is visible, and a restart aborts it.
    Receiving,
    /// Its records are visible: in its version, or (streamed records) in the next snapshot.
    Committed,
    /// Too many records quarantined: only the quarantine was kept, for inspection.
    Failed,
    /// Unreadable input, or keys a concurrent batch committed first: nothing was kept.
    Rejected,
    /// Interrupted by a restart: nothing was kept.
    Aborted,
}

impl BatchState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BatchState::Receiving => "receiving",
            BatchState::Committed => "committed",
            BatchState::Failed => "failed",
            BatchState::Rejected => "rejected",
            BatchState::Aborted => "aborted",
        }
    }

    /// A stored state; one Cairn never writes means the row was damaged.
    pub(crate) fn parse(stored: &str) -> Result<Self, DbError> {
        [
            BatchState::Receiving,
            BatchState::Committed,
            BatchState::Failed,
            BatchState::Rejected,
            BatchState::Aborted,
        ]
        .into_iter()
        .find(|state| state.as_str() == stored)
        .ok_or_else(|| corrupt("batch state", format!("unknown state `{stored}`")))
    }
}

/// The states of a batch's file (`batch_files.state`): recorded before its upload, so that a
/// crash leaves a trace to clean up, and committed with its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    Pending,
    Committed,
}

impl FileState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileState::Pending => "pending",
            FileState::Committed => "committed",
        }
    }
}

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
    /// `training_data:<id>` for training data the feature store wrote.
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

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dataset_versions)]
pub(crate) struct VersionRow {
    pub dataset: String,
    pub version: i64,
    pub created_at: i64,
    pub rows: i64,
    pub batch_id: Option<String>,
    pub schema_json: String,
    pub profile_json: Option<String>,
    pub lineage_json: Option<String>,
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

pub(crate) fn latest_version(conn: &mut AnyConnection, dataset: &str) -> Result<Option<VersionRow>, DbError> {
    Ok(dataset_versions::table
        .filter(dataset_versions::dataset.eq(dataset))
        .order(dataset_versions::version.desc())
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?)
}

pub(crate) fn insert_version(conn: &mut AnyConnection, row: &VersionRow) -> Result<(), DbError> {
    diesel::insert_into(dataset_versions::table).values(row).execute(conn)?;
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

/// The version `selector` names: a number, or the latest committed at or before a time.
pub(crate) fn resolve_version(
    conn: &mut AnyConnection,
    dataset: &str,
    selector: VersionSelector,
) -> Result<Option<i64>, DbError> {
    let query = dataset_versions::table.filter(dataset_versions::dataset.eq(dataset)).into_boxed();
    let query = match selector {
        VersionSelector::Number(number) => query.filter(dataset_versions::version.eq(number)),
        VersionSelector::Latest => query,
        VersionSelector::AsOf(time) => query.filter(dataset_versions::created_at.le(time.as_micros())),
    };
    Ok(query
        .order(dataset_versions::version.desc())
        .select(dataset_versions::version)
        .first(conn)
        .optional()?)
}

/// How a reader names a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionSelector {
    Number(i64),
    Latest,
    /// The latest version committed at or before this time: the dataset as it was then.
    AsOf(Timestamp),
}

impl std::fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSelector::Number(number) => write!(f, "version {number}"),
            VersionSelector::Latest => f.write_str("version"),
            VersionSelector::AsOf(time) => write!(f, "version as of {time}"),
        }
    }
}

/// `limit` versions of a dataset from `offset` on, oldest first.
pub(crate) fn versions_of(
    conn: &mut AnyConnection,
    dataset: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<VersionRow>, DbError> {
    Ok(dataset_versions::table
        .filter(dataset_versions::dataset.eq(dataset))
        .order(dataset_versions::version.asc())
        .limit(limit)
        .offset(offset)
        .select(VersionRow::as_select())
        .load(conn)?)
}

/// Version `version` and its manifest: every committed data file of versions up to it.
pub(crate) fn version(
    conn: &mut AnyConnection,
    dataset: &str,
    version: i64,
) -> Result<Option<(VersionRow, Vec<FileRow>)>, DbError> {
    let Some(row) = dataset_versions::table
        .find((dataset, version))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let files = batch_files::table
        .filter(
            batch_files::dataset
                .eq(dataset)
                .and(batch_files::area.eq(DATA))
                .and(batch_files::state.eq(FileState::Committed.as_str()))
                .and(batch_files::version.le(version)),
        )
        .order((batch_files::version.asc(), batch_files::path.asc()))
        .select(FileRow::as_select())
        .load(conn)?;
    Ok(Some((row, files)))
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

/// A stored value that no longer parses (the database was edited by hand).
fn corrupt(what: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {error}"))
}

/// A stored time: one out of range is damage, never replaced by another time.
fn timestamp(what: &str, micros: i64) -> Result<Timestamp, DbError> {
    Timestamp::from_micros(micros).ok_or_else(|| corrupt(what, format!("{micros} µs is out of range")))
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

impl VersionRow {
    pub(crate) fn to_api(&self, files: &[FileRow]) -> Result<DatasetVersion, DbError> {
        Ok(DatasetVersion {
            dataset: Name::parse(self.dataset.clone()).map_err(|e| corrupt("dataset name", e))?,
            version: self.version,
            created_at: timestamp("version created_at", self.created_at)?,
            rows: u64::try_from(self.rows).unwrap_or_default(),
            batch_id: self.batch_id.clone(),
            schema: serde_json::from_str(&self.schema_json).map_err(|e| corrupt("schema", e))?,
            files: files.iter().map(FileRow::to_api).collect(),
            lineage: match &self.lineage_json {
                Some(json) => Some(serde_json::from_str(json).map_err(|e| corrupt("lineage", e))?),
                None => None,
            },
        })
    }
}

/// The last stream sequence `consumer` committed (0 before the first).
pub(crate) fn position(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    use crate::schema::stream_positions::dsl;
    Ok(dsl::stream_positions.find(consumer).select(dsl::last_sequence).first(conn).optional()?.unwrap_or(0))
}

pub(crate) fn set_position(conn: &mut AnyConnection, consumer: &str, sequence: i64) -> Result<(), DbError> {
    use crate::schema::stream_positions::dsl;
    let updated = diesel::update(dsl::stream_positions.find(consumer))
        .set(dsl::last_sequence.eq(sequence))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(dsl::stream_positions)
            .values((dsl::consumer.eq(consumer), dsl::last_sequence.eq(sequence)))
            .execute(conn)?;
    }
    Ok(())
}

/// Makes the data files of `batches` (committed, in no version yet) part of version `version`;
/// returns their rows and paths. Only these batches: one committed meanwhile waits for the next
/// version.
pub(crate) fn version_batches(
    conn: &mut AnyConnection,
    dataset: &str,
    version: i64,
    batch_ids: &[String],
) -> Result<(i64, Vec<String>), DbError> {
    let files = || {
        batch_files::table.filter(
            batch_files::dataset
                .eq(dataset)
                .and(batch_files::batch_id.eq_any(batch_ids))
                .and(batch_files::area.eq(DATA))
                .and(batch_files::state.eq(FileState::Committed.as_str()))
                .and(batch_files::version.is_null()),
        )
    };
    let files_and_rows: Vec<(String, i64)> =
        files().select((batch_files::path, batch_files::rows)).order(batch_files::path.asc()).load(conn)?;
    diesel::update(files()).set(batch_files::version.eq(Some(version))).execute(conn)?;
    diesel::update(batches::table.filter(batches::id.eq_any(batch_ids)))
        .set(batches::version.eq(Some(version)))
        .execute(conn)?;
    let rows = files_and_rows.iter().map(|(_, rows)| rows).sum();
    Ok((rows, files_and_rows.into_iter().map(|(path, _)| path).collect()))
}

/// Serializes transactions that create versions of `dataset`: on PostgreSQL by locking the
/// dataset's row; SQLite write transactions are serialized already (`BEGIN IMMEDIATE`).
pub(crate) fn lock_dataset(conn: &mut AnyConnection, dataset: &str) -> Result<(), DbError> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT 1 FROM datasets WHERE name = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(dataset)
            .execute(pg)?;
    }
    Ok(())
}

/// The dataset's schema now (inside the transaction that holds `lock_dataset`): the schema a new
/// version is recorded under, which reads every earlier file too (evolution only adds nullable
/// columns).
pub(crate) fn current_schema_json(conn: &mut AnyConnection, dataset: &str) -> Result<String, DbError> {
    Ok(datasets::table.find(dataset).select(datasets::schema_json).first(conn)?)
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

/// The stored profile of a version, if it has one.
pub(crate) fn version_profile(
    conn: &mut AnyConnection,
    dataset: &str,
    version: i64,
) -> Result<Option<Option<String>>, DbError> {
    Ok(dataset_versions::table
        .find((dataset, version))
        .select(dataset_versions::profile_json)
        .first(conn)
        .optional()?)
}

/// The key digests committed for `dataset` on event day `day` (see `dataset_keys`).
pub(crate) fn keys_of_day(conn: &mut AnyConnection, dataset: &str, day: i32) -> Result<Vec<u128>, DbError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Binary)]
        digest: Vec<u8>,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT digest FROM dataset_keys WHERE dataset = ")
        .bind(dataset)
        .push(" AND day = ")
        .bind(i64::from(day));
    sql.load::<Key>(conn)?
        .into_iter()
        .map(|key| {
            <[u8; 16]>::try_from(key.digest.as_slice())
                .map(u128::from_be_bytes)
                .map_err(|_| corrupt("key digest", "not 16 bytes"))
        })
        .collect()
}

/// What recording a batch's keys found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum KeysRecorded {
    /// Every key was new.
    All,
    /// Some key was there already: a concurrent batch committed it after this one read its day.
    Conflict,
}

/// Records the keys a batch committed. Inside the commit's transaction: on a conflict the
/// transaction must not commit.
pub(crate) fn insert_keys(
    conn: &mut AnyConnection,
    dataset: &str,
    keys: &[u128],
) -> Result<KeysRecorded, DbError> {
    // Three values a row; SQLite allows 32 766 bound values in a statement.
    for chunk in keys.chunks(2048) {
        let mut sql = Sql::new(conn.backend());
        sql.push("INSERT INTO dataset_keys (dataset, day, digest) VALUES ");
        for (i, digest) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" })
                .bind(dataset)
                .push(", ")
                .bind(i64::from(Validator::digest_day(*digest)))
                .push(", ")
                .bind(digest.to_be_bytes().to_vec())
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        let inserted = sql.execute(conn)?;
        if inserted < chunk.len() {
            return Ok(KeysRecorded::Conflict);
        }
    }
    Ok(KeysRecorded::All)
}
