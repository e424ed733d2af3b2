//! Batches, their files and dataset versions in the metadata database: storage only, with its
//! own outcomes (a key conflict, a corrupt row), and no knowledge of the core above it.

mod batches;
mod keys;
mod positions;
mod states;
mod versions;

use cairn_db::DbError;
use cairn_domain::Timestamp;

pub(crate) use batches::{
    BatchRow, FileRow, batch, batches_of, commit_files, committed_from, datasets_with_unversioned,
    delete_files, finish_batch, insert_batch, insert_files, interrupted, quarantine_files, set_batch_profile,
    unversioned_batches,
};
pub(crate) use keys::{KeysRecorded, insert_keys, keys_of_day};
pub(crate) use positions::{position, set_position};
pub(crate) use states::{BatchState, FileState};
pub(crate) use versions::{
    VersionRow, VersionSelector, current_schema_json, insert_version, latest_version, lock_dataset,
    resolve_version, version, version_batches, version_profile, versions_of,
};

pub(crate) const DATA: &str = "data";
pub(crate) const QUARANTINE: &str = "quarantine";

/// A stored value that no longer parses (the database was edited by hand).
fn corrupt(what: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {error}"))
}

/// A stored time: one out of range is damage, never replaced by another time.
fn timestamp(what: &str, micros: i64) -> Result<Timestamp, DbError> {
    Timestamp::from_micros(micros).ok_or_else(|| corrupt(what, format!("{micros} µs is out of range")))
}
