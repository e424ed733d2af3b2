//! Dataset declarations: the core, free of HTTP.

use cairn_api::{Dataset, NewDataset};
use cairn_db::{AnyConnection, DbError};
use cairn_domain::{Name, SchemaError, Timestamp};
use cairn_events::v1::DatasetCreated;
use cairn_service::{Outbox, ServiceContext};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::schema::datasets::dsl;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("invalid schema: {0}")]
    InvalidSchema(#[from] SchemaError),
    #[error("dataset `{0}` already exists")]
    Exists(Name),
    #[error("dataset `{0}` does not exist")]
    NotFound(String),
    #[error("stored dataset `{0}` cannot be read: {1}")]
    Corrupt(String, String),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Declares a dataset and announces it on the bus, atomically (through the outbox).
pub async fn create(context: &ServiceContext, new: NewDataset) -> Result<Dataset, DatasetError> {
    new.schema.validate()?;
    let dataset = Dataset { name: new.name, schema: new.schema, created_at: Timestamp::now() };
    let schema_json = serde_json::to_string(&dataset.schema)
        .map_err(|e| DatasetError::Corrupt(dataset.name.to_string(), e.to_string()))?;
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
