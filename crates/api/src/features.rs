//! Feature definitions (entities, feature views, feature services) and their plans, as applied to
//! the feature store (`cairn features apply -f DIR`).

use cairn_domain::{ColumnType, Name, Timestamp};
use serde::{Deserialize, Serialize};

/// Everything the feature store should hold: applying it creates what is new, changes what
/// differs and deletes what is absent (like `terraform apply`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    #[serde(default, alias = "entity")]
    pub entities: Vec<EntityDef>,
    #[serde(default, alias = "feature_view")]
    pub feature_views: Vec<FeatureViewDef>,
    #[serde(default, alias = "feature_service")]
    pub feature_services: Vec<FeatureServiceDef>,
}

/// What features are about (a customer, a driver), and the columns that identify one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityDef {
    pub name: Name,
    pub join_keys: Vec<Name>,
    #[serde(default)]
    pub description: String,
}

/// Features read from a source dataset for one or more entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureViewDef {
    pub name: Name,
    /// A dataset of the ingestion service.
    pub source: Name,
    pub entities: Vec<Name>,
    pub features: Vec<FeatureDef>,
    /// How old a value may be and still count, in seconds; 0 (the default) means no limit, as in
    /// Feast.
    #[serde(default)]
    pub ttl_seconds: u64,
    /// The source's column of event times; the dataset's event timestamp by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_field: Option<Name>,
    /// A column that breaks ties on event time (the latest wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp_field: Option<Name>,
    /// A query (Apache DataFusion's SQL) whose result holds the view's rows in place of the
    /// source's: it reads the source dataset and other feature views by their names, e.g. a
    /// count of each customer's transactions over the seven days up to each one. The view's join
    /// keys, event time and features are columns of its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// One feature: a column of the view's source, with its type (`{"name": "amount", "type":
/// "float64"}`; a categorical one lists its `values`). Read through its fields as written, so
/// that an unknown field is refused, which serde cannot do for a flattened type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "FeatureFields")]
pub struct FeatureDef {
    pub name: Name,
    #[serde(flatten)]
    pub column_type: ColumnType,
}

/// A feature's fields as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureFields {
    name: Name,
    #[serde(rename = "type")]
    column_type: String,
    #[serde(default)]
    values: Option<Vec<String>>,
}

impl TryFrom<FeatureFields> for FeatureDef {
    type Error = String;

    fn try_from(fields: FeatureFields) -> Result<Self, String> {
        let mut typed = serde_json::json!({"type": fields.column_type});
        if let Some(values) = fields.values {
            typed["values"] = serde_json::json!(values);
        }
        let column_type: ColumnType =
            serde_json::from_value(typed).map_err(|error| format!("feature `{}`: {error}", fields.name))?;
        Ok(FeatureDef { name: fields.name, column_type })
    }
}

/// `POST /v1/training-data`: features joined onto the rows of a dataset version, as of each row's
/// time, written as a new version of `dataset` (declared from the result when it does not exist)
/// with its lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingDataRequest {
    /// The dataset the training data becomes a version of.
    pub dataset: Name,
    /// `view:feature` references (each view's latest version)...
    #[serde(default)]
    pub features: Vec<String>,
    /// ... or a feature service (its pinned view versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_service: Option<String>,
    #[serde(default)]
    pub full_feature_names: bool,
    /// The entity rows: every column of a version of this dataset, labels included.
    pub entity_dataset: Name,
    /// Its latest version by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_version: Option<i64>,
    /// The entity rows' time column; the entity dataset's event time by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_timestamp: Option<String>,
}

/// Training data written: ingestion adds it to `dataset` as a new version carrying `lineage`
/// (its `training_data` is `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrainingData {
    pub id: String,
    pub dataset: Name,
    pub rows: u64,
    pub lineage: crate::DatasetLineage,
}

/// `POST /v1/feature-views/{name}/materialize`: copy the latest value of each entity whose event
/// time lies in `[start, end)` from the offline store to the online store. Without `start`, from
/// the view version's watermark (where the last materialization ended; the beginning of time the
/// first time); without `end`, now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterializeRequest {
    /// The view version; its latest by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
}

/// One materialization of a feature view version, running or finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Materialization {
    pub id: String,
    pub feature_view: Name,
    pub version: i64,
    /// The event time range read: `[start, end)`; `start` is none when it read from the beginning.
    pub start: Option<Timestamp>,
    pub end: Timestamp,
    pub state: MaterializationState,
    /// Source files to read, and read so far.
    pub files: u64,
    pub files_read: u64,
    pub rows_read: u64,
    /// Entities whose latest row was found (what is written).
    pub entities: u64,
    /// Entities whose online row changed (older events never overwrite newer ones).
    pub rows_written: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterializationState {
    Running,
    Succeeded,
    Failed,
}

impl MaterializationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Running, Self::Succeeded, Self::Failed].into_iter().find(|state| state.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_is_read_with_its_type_and_nothing_unknown() {
        let read = |text: &str| serde_json::from_str::<FeatureDef>(text).map_err(|e| e.to_string());
        let amount = read(r#"{"name": "amount", "type": "float64"}"#).unwrap();
        assert_eq!(amount.column_type, ColumnType::Float64);
        let channel = read(r#"{"name": "channel", "type": "categorical", "values": ["web"]}"#).unwrap();
        assert_eq!(channel.column_type, ColumnType::Categorical { values: vec!["web".into()] });
        assert_eq!(
            serde_json::to_value(&channel).unwrap(),
            serde_json::json!({"name": "channel", "type": "categorical", "values": ["web"]})
        );
        assert!(
            read(r#"{"name": "amount", "type": "float64", "nulable": true}"#)
                .unwrap_err()
                .contains("nulable")
        );
        assert!(read(r#"{"name": "amount", "type": "decimal"}"#).unwrap_err().contains("decimal"));
        assert!(read(r#"{"name": "amount"}"#).unwrap_err().contains("type"));
    }
}

/// A named set of features a model consumes: `view` (all its features) or `view:feature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureServiceDef {
    pub name: Name,
    pub features: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// `POST /v1/features/plan` and `POST /v1/features/apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    pub definitions: Definitions,
    /// The digest of the plan the user confirmed: apply refuses (409) when the plan would now
    /// differ. Without it, apply applies whatever the plan is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
}

/// What applying some definitions would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plan {
    /// Every object named in the definitions or held now, in kind and name order.
    pub changes: Vec<PlannedChange>,
    /// SHA-256 of the changes: what `plan_digest` confirms.
    pub digest: String,
}

impl Plan {
    /// Whether applying would change anything.
    pub fn is_empty(&self) -> bool {
        self.changes.iter().all(|change| change.action == Action::Unchanged)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedChange {
    /// `entity`, `feature_view` or `feature_service`.
    pub kind: String,
    pub name: Name,
    pub action: Action,
    /// The version now (none when created).
    pub from_version: Option<i64>,
    /// The version after applying (none when deleted).
    pub to_version: Option<i64>,
    /// What differs, in words (`features`, `ttl_seconds`, …).
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    /// A new version (feature views and services: schema, source, TTL or pins changed).
    NewVersion,
    /// Changed in place (descriptions; entities).
    Update,
    Delete,
    Unchanged,
}

/// One version of a feature view; versions never change and stay readable after a newer one
/// or a deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureView {
    pub version: i64,
    pub definition: FeatureViewDef,
    /// Resolved at apply: the entities' join keys, in order.
    pub join_keys: Vec<Name>,
    /// Resolved at apply: the event time column.
    pub timestamp_field: Name,
    pub created_at: Timestamp,
    /// Whether a later apply deleted the view (its versions stay readable).
    pub deleted: bool,
}

/// One version of a feature service: its features pinned to feature view versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureService {
    pub name: Name,
    pub version: i64,
    pub projections: Vec<Projection>,
    pub description: String,
    pub created_at: Timestamp,
    pub deleted: bool,
}

/// Features of one feature view version, as a service consumes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Projection {
    pub feature_view: Name,
    pub version: i64,
    pub features: Vec<Name>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    pub definition: EntityDef,
    pub updated_at: Timestamp,
}
