//! Dataset versions: the lock and the schema a new one is recorded under, the versions
//! themselves, their manifests and profiles, and how a reader names one.

use cairn_api::DatasetVersion;
use cairn_db::{AnyConnection, DbError};
use cairn_domain::{Name, Timestamp};
use diesel::prelude::*;

use super::{DATA, FileRow, FileState, corrupt, timestamp};
use crate::schema::{batch_files, batches, dataset_versions, datasets};

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
