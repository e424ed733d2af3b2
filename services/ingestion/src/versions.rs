//! Dataset versions: the one transaction that appends a version — for a batch upload and for a
//! snapshot of streamed records alike — and the queries that read versions back.

use cairn_api::{DatasetVersion, ProfileSummary, VersionPage};
use cairn_db::{AnyConnection, DbError};
use cairn_domain::Timestamp;
use cairn_events::v1::DatasetVersionCreated;
use cairn_records::Profile;
use cairn_service::{Outbox, ServiceContext};

use crate::catalog::{self, VersionRow};
// How a reader names a version; the catalog resolves it, handlers name it through the core.
pub(crate) use crate::catalog::VersionSelector;
use crate::datasets::{self, DatasetError};
use crate::paging::Page;

/// What a new version adds to the one before it.
pub(crate) struct Added {
    /// Rows of the data files added.
    pub(crate) rows: i64,
    /// Their paths in the offline store.
    pub(crate) files: Vec<String>,
    /// The profiles (JSON) of the batches added, merged into the previous version's.
    pub(crate) profiles: Vec<String>,
    /// The batch the version is made of, when it is one upload (a snapshot gathers several).
    pub(crate) batch_id: Option<String>,
    pub(crate) lineage_json: Option<String>,
}

/// Appends a version to `dataset`, inside the caller's write transaction. Under the dataset's
/// lock (versions are numbered without gaps or doubles, and a schema change waits), the version
/// is numbered after the latest; `add(conn, number)` makes its batches part of it and says what
/// they added, or `None` when there is nothing to add (no version then). The version is
/// recorded with the schema of now and announced through the outbox.
pub(crate) fn append<E: From<DbError>>(
    conn: &mut AnyConnection,
    dataset: &str,
    add: impl FnOnce(&mut AnyConnection, i64) -> Result<Option<Added>, E>,
) -> Result<Option<VersionRow>, E> {
    catalog::lock_dataset(conn, dataset)?;
    let schema_json = catalog::current_schema_json(conn, dataset)?;
    let previous = catalog::latest_version(conn, dataset)?;
    let version = previous.as_ref().map_or(1, |v| v.version + 1);
    let Some(added) = add(conn, version)? else {
        return Ok(None);
    };
    let row = VersionRow {
        dataset: dataset.to_owned(),
        version,
        created_at: Timestamp::now().as_micros(),
        rows: previous.as_ref().map_or(0, |v| v.rows) + added.rows,
        batch_id: added.batch_id,
        schema_json,
        profile_json: merged_profile(
            previous.as_ref().and_then(|v| v.profile_json.as_deref()),
            added.profiles.iter().map(String::as_str),
        ),
        lineage_json: added.lineage_json,
    };
    catalog::insert_version(conn, &row)?;
    Outbox::stage(
        conn,
        &DatasetVersionCreated {
            dataset: dataset.to_owned(),
            version,
            rows: row.rows,
            batch_id: row.batch_id.clone().unwrap_or_default(),
            created_at_unix_micros: row.created_at,
            files: added.files,
        },
    )?;
    Ok(Some(row))
}

/// The profile of a new version: the previous version's merged with its new batches'.
fn merged_profile<'a>(previous: Option<&str>, added: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut profile: Option<Profile> = previous.and_then(|json| serde_json::from_str(json).ok());
    for json in added {
        let Ok(batch) = serde_json::from_str::<Profile>(json) else { continue };
        match &mut profile {
            Some(profile) => profile.merge(&batch),
            None => profile = Some(batch),
        }
    }
    profile.and_then(|profile| serde_json::to_string(&profile).ok())
}

/// A page of a dataset's versions, oldest first, without manifests.
pub(crate) async fn list(
    context: &ServiceContext,
    dataset: String,
    page: Page,
) -> Result<VersionPage, DatasetError> {
    let dataset = datasets::get(context, dataset).await?;
    let rows = context
        .db
        .run(move |conn| catalog::versions_of(conn, dataset.name.as_str(), page.offset, page.limit + 1))
        .await?;
    let (rows, next_page_token) = page.split(rows);
    let versions = rows.iter().map(|row| row.to_api(&[])).collect::<Result<_, _>>()?;
    Ok(VersionPage { versions, next_page_token })
}

/// The version `selector` names, with its manifest: every file, with rows, size and SHA-256.
pub(crate) async fn get(
    context: &ServiceContext,
    dataset: String,
    selector: VersionSelector,
) -> Result<DatasetVersion, DatasetError> {
    let name = dataset.clone();
    let found = context
        .db
        .run(move |conn| {
            let Some(number) = catalog::resolve_version(conn, &dataset, selector)? else {
                return Ok(None);
            };
            // Versions are never deleted: one resolved and then missing is damage.
            let version = catalog::version(conn, &dataset, number)?
                .ok_or_else(|| DbError::Corrupt(format!("version {number} of `{dataset}` vanished")))?;
            Ok(Some(version))
        })
        .await?;
    let (row, files) = found.ok_or_else(|| DatasetError::NoVersion(name, selector.to_string()))?;
    Ok(row.to_api(&files)?)
}

/// The statistical profile of the version `selector` names.
pub(crate) async fn profile(
    context: &ServiceContext,
    dataset: String,
    selector: VersionSelector,
) -> Result<ProfileSummary, DatasetError> {
    let name = dataset.clone();
    let found = context
        .db
        .run(move |conn| match catalog::resolve_version(conn, &dataset, selector)? {
            Some(number) => Ok(Some((number, catalog::version_profile(conn, &dataset, number)?.flatten()))),
            None => Ok(None),
        })
        .await?;
    let (version, stored) =
        found.ok_or_else(|| DatasetError::NoVersion(name.clone(), selector.to_string()))?;
    let json = stored.ok_or_else(|| DatasetError::NoProfile(name.clone(), version))?;
    let profile: Profile = serde_json::from_str(&json)
        .map_err(|error| DatasetError::Corrupt(name, format!("profile of version {version}: {error}")))?;
    Ok(profile.summary())
}
