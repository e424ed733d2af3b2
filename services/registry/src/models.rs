//! The model registry: registered models and their immutable versions, tags, stages (for old
//! MLflow clients) and aliases, with an append-only audit log of every change and the history
//! of every alias. Versions, alias moves and stage changes are announced on the bus.

mod aliases;
mod approvals;
mod audit;
pub mod card;
mod lineage;
pub(crate) mod onnx;
mod overview;
mod registered;
mod runs;
mod versions;

use cairn_db::DbError;
use serde::Serialize;

pub use aliases::{alias_at, delete_alias, set_alias, version_by_alias};
pub use approvals::{Approvers, decide, request_move, requests, set_protection};
pub use audit::{AuditQuery, audit_log};
pub use lineage::{lineage, lineage_of, registered_from, trained_on};
pub use overview::{list_models, model_overview, version_detail};
pub use registered::{
    ModelSearch, create_model, delete_model, delete_model_tag, model, rename_model, search_models,
    set_model_tag, update_model,
};
pub use runs::{ExperimentRuns, run_with_models, runs_with_models};
pub use versions::{
    NewVersion, VersionSearch, create_version, delete_version, delete_version_tag, download_uri,
    latest_versions, search_versions, set_version_tag, transition_stage, update_version, version,
};

use crate::artifacts::ArtifactError;
use crate::tracking::{KeyValue, TrackingError};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{0}")]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for ModelError {
    fn from(error: diesel::result::Error) -> Self {
        ModelError::Database(DbError::Query(error))
    }
}

/// MLflow's deprecated stages, kept for old clients beside aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::None, Stage::Staging, Stage::Production, Stage::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }

    /// Stage names are case-insensitive, as in MLflow.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        Self::ALL.into_iter().find(|stage| stage.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
            ModelError::Invalid(format!("invalid stage `{text}` (None, Staging, Production, Archived)"))
        })
    }

    /// A stage read back from the database: one it does not know is damage, not a bad request.
    fn stored(text: &str) -> Result<Self, DbError> {
        Self::ALL
            .into_iter()
            .find(|stage| stage.as_str() == text)
            .ok_or_else(|| DbError::Corrupt(format!("model version stage `{text}`")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alias {
    pub alias: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredModel {
    pub name: String,
    pub description: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    #[serde(serialize_with = "key_values")]
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<Alias>,
    /// The latest version in each stage.
    pub latest_versions: Vec<ModelVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    /// Internal id: names where the version's files are kept.
    pub id: String,
    pub name: String,
    pub version: i64,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub description: String,
    pub user_id: String,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub model_id: Option<String>,
    /// Where the version's files are: `mlflow-artifacts:/registered/<id>` for a copy the
    /// registry keeps, otherwise the source itself.
    pub storage_location: String,
    pub current_stage: Stage,
    #[serde(serialize_with = "key_values")]
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<String>,
    /// Its ONNX model's signature, when it holds one.
    pub signature: Option<cairn_api::OnnxSignature>,
}

/// Registry times are milliseconds since the epoch, as in MLflow; a stored one out of range is
/// a damaged row, reported as such rather than shown as some other time.
pub(crate) fn timestamp(millis: i64) -> Result<cairn_domain::Timestamp, DbError> {
    millis
        .checked_mul(1000)
        .and_then(cairn_domain::Timestamp::from_micros)
        .ok_or_else(|| DbError::Corrupt(format!("stored time {millis} ms is out of range")))
}

fn key_values<S: serde::Serializer>(items: &[KeyValue], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap as _;
    let mut map = serializer.serialize_map(Some(items.len()))?;
    for item in items {
        map.serialize_entry(&item.key, &item.value)?;
    }
    map.end()
}

/// Registered model names: anything printable, but not empty and not containing `/` or `@`
/// or `:` (they would make `models:/name/1` and `models:/name@alias` ambiguous).
fn check_name(name: &str) -> Result<(), ModelError> {
    if name.trim().is_empty() || name.chars().count() > 256 {
        return Err(ModelError::Invalid("a registered model needs a name of 1 to 256 characters".into()));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '@' | ':') || c.is_control()) {
        return Err(ModelError::Invalid(format!(
            "registered model names cannot contain `{}`",
            c.escape_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cairn_db::DbError;

    use super::{Stage, timestamp};

    /// A damaged stored value is reported as damage: never shown as another time or stage, and
    /// never blamed on the request (a 4xx).
    #[test]
    fn stored_times_and_stages_out_of_range_are_corruption() {
        assert_eq!(timestamp(1_700_000_000_123).unwrap().as_micros(), 1_700_000_000_123_000);
        for millis in [i64::MAX, i64::MIN, i64::MAX / 1000] {
            assert!(matches!(timestamp(millis), Err(DbError::Corrupt(_))), "{millis}");
        }
        assert_eq!(Stage::stored("Production").unwrap(), Stage::Production);
        assert!(matches!(Stage::stored("production"), Err(DbError::Corrupt(_))), "stored exactly as written");
        assert!(matches!(Stage::stored("Retired"), Err(DbError::Corrupt(_))));
    }
}
