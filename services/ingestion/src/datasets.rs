//! Dataset declarations: the core, free of HTTP.

use cairn_api::{Dataset, NewDataset, SchemaRevision};
use cairn_bus::Disposition;
use cairn_db::{AnyConnection, DbError};
use cairn_domain::{EvolutionError, Name, Schema, SchemaError, Timestamp};
use cairn_events::v1::{DatasetCreated, DatasetSchemaEvolved};
use cairn_service::{Outbox, ServiceContext};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::catalog;
use crate::schema::dataset_schemas;
use crate::schema::datasets::dsl;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("invalid schema: {0}")]
    InvalidSchema(#[from] SchemaError),
    #[error("dataset `{0}` already exists")]
    Exists(Name),
    #[error("incompatible schema change: {0}")]
    Incompatible(#[from] EvolutionError),
    #[error("dataset `{0}` does not exist")]
    NotFound(String),
    #[error("the schema of `{0}` changed meanwhile; read it again and retry")]
    Conflict(String),
    #[error("stored dataset `{0}` cannot be read: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Database(#[from] DbError),
    /// The dataset has no version of this description (`version 3`, `version as of …`).
    #[error("dataset `{0}` has no {1}")]
    NoVersion(String, String),
    #[error("version {1} of `{0}` has no profile")]
    NoProfile(String, i64),
}

/// Whether a consumer that met the error should handle its event again.
impl Disposition for DatasetError {
    fn is_transient(&self) -> bool {
        match self {
            DatasetError::Database(error) => error.is_transient(),
            // Read again, the schema may fit; damaged data is retried (and logged each time), as
            // for the database's own corruption, rather than dropping an acknowledged event.
            DatasetError::Conflict(_) | DatasetError::Corrupt(..) => true,
            DatasetError::InvalidSchema(_)
            | DatasetError::Exists(_)
            | DatasetError::Incompatible(_)
            | DatasetError::NotFound(_)
            | DatasetError::NoVersion(..)
            | DatasetError::NoProfile(..) => false,
        }
    }
}

/// Declares a dataset and announces it on the bus, atomically (through the outbox).
pub async fn create(context: &ServiceContext, new: NewDataset) -> Result<Dataset, DatasetError> {
    new.schema.validate()?;
    let dataset = Dataset { name: new.name, schema: new.schema, created_at: Timestamp::now() };
    let schema_json = schema_json(&dataset.schema);
    let row = dataset.clone();
    context
        .db
        .run(move |conn| cairn_db::write_transaction(conn, |conn| insert(conn, &row, schema_json)))
        .await
        .map_err(|error| match error {
            DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                DatasetError::Exists(dataset.name.clone())
            }
            other => DatasetError::Database(other),
        })?;
    // The declaration is committed; publishing now only saves the relay's next tick.
    if let Err(error) = context.outbox.flush().await {
        tracing::warn!(%error, "dataset event queued for the relay");
    }
    Ok(dataset)
}

fn insert(conn: &mut AnyConnection, dataset: &Dataset, schema_json: String) -> Result<(), DbError> {
    diesel::insert_into(dsl::datasets)
        .values((
            dsl::name.eq(dataset.name.as_str()),
            dsl::schema_json.eq(&schema_json),
            dsl::created_at.eq(dataset.created_at.as_micros()),
        ))
        .execute(conn)?;
    insert_revision(conn, dataset.name.as_str(), 1, dataset.created_at, &schema_json, &[])?;
    Outbox::stage(
        conn,
        &DatasetCreated {
            dataset: dataset.name.to_string(),
            schema_json,
            created_at_unix_micros: dataset.created_at.as_micros(),
        },
    )?;
    Ok(())
}

fn insert_revision(
    conn: &mut AnyConnection,
    dataset: &str,
    revision: i64,
    changed_at: Timestamp,
    schema_json: &str,
    added: &[String],
) -> Result<(), DbError> {
    diesel::insert_into(dataset_schemas::table)
        .values((
            dataset_schemas::dataset.eq(dataset),
            dataset_schemas::revision.eq(revision),
            dataset_schemas::changed_at.eq(changed_at.as_micros()),
            dataset_schemas::schema_json.eq(schema_json),
            dataset_schemas::added_json.eq(names_json(added)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Replaces a dataset's schema with `new` if it only appends nullable columns (recorded as a
/// new revision and announced); any other change is refused: it needs a new dataset. The same
/// schema again changes nothing.
pub async fn evolve(context: &ServiceContext, name: String, new: Schema) -> Result<Dataset, DatasetError> {
    let current = get(context, name).await?;
    let added: Vec<String> = current.schema.evolution(&new)?.iter().map(|c| c.name.to_string()).collect();
    if added.is_empty() {
        return Ok(current);
    }
    let dataset = current.name.to_string();
    let expected = current.schema.clone();
    let evolved = new.clone();
    let changed = context
        .db
        .run(move |conn| {
            cairn_db::write_transaction(conn, |conn| {
                // Batches commit under the same lock, so a version's schema is never stale.
                catalog::lock_dataset(conn, &dataset)?;
                let stored: String = dsl::datasets.find(&dataset).select(dsl::schema_json).first(conn)?;
                if serde_json::from_str::<Schema>(&stored).ok().as_ref() != Some(&expected) {
                    return Ok(false);
                }
                let revision: i64 = dataset_schemas::table
                    .filter(dataset_schemas::dataset.eq(&dataset))
                    .select(diesel::dsl::max(dataset_schemas::revision))
                    .first::<Option<i64>>(conn)?
                    .unwrap_or(0)
                    + 1;
                let schema_json = schema_json(&evolved);
                let changed_at = Timestamp::now();
                diesel::update(dsl::datasets.find(&dataset))
                    .set(dsl::schema_json.eq(&schema_json))
                    .execute(conn)?;
                insert_revision(conn, &dataset, revision, changed_at, &schema_json, &added)?;
                Outbox::stage(
                    conn,
                    &DatasetSchemaEvolved {
                        dataset: dataset.clone(),
                        revision,
                        schema_json,
                        added_columns: added.clone(),
                        changed_at_unix_micros: changed_at.as_micros(),
                    },
                )?;
                Ok::<_, DbError>(true)
            })
        })
        .await?;
    if !changed {
        return Err(DatasetError::Conflict(current.name.to_string()));
    }
    context.outbox.wake();
    Ok(Dataset { schema: new, ..current })
}

/// A list of column names as JSON.
#[expect(clippy::unwrap_used, reason = "strings always serialize")]
fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap()
}

/// A schema as JSON.
#[expect(clippy::unwrap_used, reason = "a schema is names, types and rules: it always serializes")]
fn schema_json(schema: &Schema) -> String {
    serde_json::to_string(schema).unwrap()
}

/// Every schema a dataset has had, oldest first.
pub async fn revisions(context: &ServiceContext, name: String) -> Result<Vec<SchemaRevision>, DatasetError> {
    let dataset = get(context, name).await?;
    let key = dataset.name.to_string();
    let rows: Vec<(i64, i64, String, String)> = context
        .db
        .run(move |conn| {
            Ok(dataset_schemas::table
                .filter(dataset_schemas::dataset.eq(&key))
                .order(dataset_schemas::revision.asc())
                .select((
                    dataset_schemas::revision,
                    dataset_schemas::changed_at,
                    dataset_schemas::schema_json,
                    dataset_schemas::added_json,
                ))
                .load(conn)?)
        })
        .await?;
    let corrupt = |reason: String| DatasetError::Corrupt(dataset.name.to_string(), reason);
    rows.into_iter()
        .map(|(revision, changed_at, schema_json, added_json)| {
            Ok(SchemaRevision {
                revision,
                changed_at: Timestamp::from_micros(changed_at)
                    .ok_or_else(|| corrupt("bad timestamp".into()))?,
                added_columns: serde_json::from_str(&added_json).map_err(|e| corrupt(e.to_string()))?,
                schema: serde_json::from_str(&schema_json).map_err(|e| corrupt(e.to_string()))?,
            })
        })
        .collect()
}

pub async fn get(context: &ServiceContext, name: String) -> Result<Dataset, DatasetError> {
    let wanted = name.clone();
    let row: Option<(String, String, i64)> = context
        .db
        .run(move |conn| {
            Ok(dsl::datasets
                .filter(dsl::name.eq(&name))
                .select((dsl::name, dsl::schema_json, dsl::created_at))
                .first(conn)
                .optional()?)
        })
        .await?;
    match row {
        Some(row) => decode(row),
        None => Err(DatasetError::NotFound(wanted)),
    }
}

pub async fn list(context: &ServiceContext) -> Result<Vec<Dataset>, DatasetError> {
    let rows: Vec<(String, String, i64)> = context
        .db
        .run(|conn| {
            Ok(dsl::datasets
                .order(dsl::name.asc())
                .select((dsl::name, dsl::schema_json, dsl::created_at))
                .load(conn)?)
        })
        .await?;
    rows.into_iter().map(decode).collect()
}

fn decode((name, schema_json, created_at): (String, String, i64)) -> Result<Dataset, DatasetError> {
    let corrupt = |reason: String| DatasetError::Corrupt(name.clone(), reason);
    Ok(Dataset {
        name: Name::parse(name.clone()).map_err(|e| corrupt(e.to_string()))?,
        schema: serde_json::from_str(&schema_json).map_err(|e| corrupt(e.to_string()))?,
        created_at: Timestamp::from_micros(created_at).ok_or_else(|| corrupt("bad timestamp".into()))?,
    })
}
