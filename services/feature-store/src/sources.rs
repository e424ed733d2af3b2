//! The catalog of source datasets, kept from ingestion's events: each dataset's schema, the
//! files its batches added (with their event-time bounds) and the files of each version.

use cairn_api::SourceDataset;
use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_db::{AnyConnection, Database, DbError, Sql, inbox};
use cairn_domain::{Name, Schema, Timestamp};
use cairn_events::topology::{FEATURE_STORE_DATASETS, FEATURE_STORE_SCHEMAS, FEATURE_STORE_VERSIONS};
use cairn_events::v1::{DatasetBatchIngested, DatasetCreated, DatasetSchemaEvolved, DatasetVersionCreated};
use cairn_service::{ServiceContext, StartError};
use diesel::prelude::*;

use crate::schema::source_datasets::dsl;
use crate::schema::{source_files, source_version_files, source_versions};

const CONSUMER: &str = FEATURE_STORE_DATASETS.durable;
const SCHEMAS_CONSUMER: &str = FEATURE_STORE_SCHEMAS.durable;

pub(crate) async fn follow_datasets(context: &ServiceContext) -> Result<ConsumerHandle, StartError> {
    context.follow(&FEATURE_STORE_DATASETS, context.db.clone(), record).await
}

async fn record(db: Database, delivery: Delivery<DatasetCreated>) -> Result<(), HandlerError> {
    let event = delivery.event;
    let name = Name::parse(event.dataset.clone())
        .map_err(|error| HandlerError::reject(format!("dataset name: {error}")))?;
    let schema = schema_of(&event.schema_json)?;
    let created_at = Timestamp::from_micros(event.created_at_unix_micros).ok_or_else(|| {
        HandlerError::reject(format!("created at {} µs: not a time", event.created_at_unix_micros))
    })?;
    let source = SourceDataset {
        name,
        schema,
        created_at,
        event_id: delivery.event_id.to_string(),
        trace_id: delivery.trace_id,
    };
    let event_id = source.event_id.clone();
    db.run(move |conn| {
        inbox::apply_once(conn, CONSUMER, &event_id, |conn| upsert(conn, &source, &event.schema_json))
    })
    .await?;
    Ok(())
}

/// A schema an event carries, checked; one that is not is no redelivery's to mend.
fn schema_of(json: &str) -> Result<Schema, HandlerError> {
    let schema: Schema = serde_json::from_str(json)
        .map_err(|error| HandlerError::reject(format!("dataset schema: {error}")))?;
    schema.validate().map_err(|error| HandlerError::reject(format!("dataset schema: {error}")))?;
    Ok(schema)
}

/// Follows the columns datasets gain, so the catalog holds each dataset's current schema.
pub(crate) async fn follow_schemas(context: &ServiceContext) -> Result<ConsumerHandle, StartError> {
    context.follow(&FEATURE_STORE_SCHEMAS, context.db.clone(), evolve).await
}

async fn evolve(db: Database, delivery: Delivery<DatasetSchemaEvolved>) -> Result<(), HandlerError> {
    let event = delivery.event;
    schema_of(&event.schema_json)?;
    let name = event.dataset.clone();
    let known =
        db.run(move |conn| Ok(dsl::source_datasets.find(&name).count().get_result::<i64>(conn)? > 0)).await?;
    if !known {
        // Its declaration comes through the other consumer; wait for it.
        return Err(HandlerError::retry(format!("dataset `{}` is not known yet", event.dataset)));
    }
    let event_id = delivery.event_id.to_string();
    db.run(move |conn| {
        inbox::apply_once(conn, SCHEMAS_CONSUMER, &event_id, |conn| {
            // An older revision arriving late changes nothing.
            diesel::update(
                dsl::source_datasets
                    .filter(dsl::name.eq(&event.dataset).and(dsl::schema_revision.lt(event.revision))),
            )
            .set((dsl::schema_json.eq(&event.schema_json), dsl::schema_revision.eq(event.revision)))
            .execute(conn)?;
            Ok(())
        })
    })
    .await?;
    Ok(())
}

/// Follows the versions of datasets: the files each adds, for entity rows taken from a version.
pub(crate) async fn follow_versions(context: &ServiceContext) -> Result<ConsumerHandle, StartError> {
    context.follow(&FEATURE_STORE_VERSIONS, context.db.clone(), record_version).await
}

async fn record_version(db: Database, delivery: Delivery<DatasetVersionCreated>) -> Result<(), HandlerError> {
    let event = delivery.event;
    let event_id = delivery.event_id.to_string();
    db.run(move |conn| {
        inbox::apply_once(conn, FEATURE_STORE_VERSIONS.durable, &event_id, |conn| {
            diesel::insert_into(source_versions::table)
                .values((
                    source_versions::dataset.eq(&event.dataset),
                    source_versions::version.eq(event.version),
                    source_versions::rows.eq(event.rows),
                    source_versions::created_at.eq(event.created_at_unix_micros),
                ))
                .execute(conn)?;
            for chunk in event.files.chunks(500) {
                let mut sql = Sql::new(conn.backend());
                sql.push("INSERT INTO source_version_files (dataset, version, path) VALUES ");
                for (i, path) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" })
                        .bind(event.dataset.as_str())
                        .push(", ")
                        .bind(event.version)
                        .push(", ")
                        .bind(path.as_str())
                        .push(")");
                }
                sql.execute(conn)?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(())
}

/// Records the files a batch added to its dataset, with the batch's event-time bounds and its
/// place in the stream (the order files are read in); a file recorded before is left as it is.
pub(crate) fn record_files(
    conn: &mut AnyConnection,
    batch: &DatasetBatchIngested,
    sequence: i64,
) -> Result<(), DbError> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "INSERT INTO source_files (dataset, path, batch_id, sequence, min_event_micros, max_event_micros) VALUES ",
    );
    for (i, path) in batch.files.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" })
            .bind(batch.dataset.as_str())
            .push(", ")
            .bind(path.as_str())
            .push(", ")
            .bind(batch.batch_id.as_str())
            .push(", ")
            .bind(sequence)
            .push(", ")
            .bind(batch.min_event_time_unix_micros)
            .push(", ")
            .bind(batch.max_event_time_unix_micros)
            .push(")");
    }
    sql.push(" ON CONFLICT DO NOTHING");
    sql.execute(conn)?;
    Ok(())
}

/// The files of `dataset`'s version `version` (its latest recorded when `None`) with the
/// version's number, oldest first; `None` when the feature store knows no such version.
pub(crate) async fn version_files(
    db: &Database,
    dataset: String,
    version: Option<i64>,
) -> Result<Option<(i64, Vec<String>)>, DbError> {
    db.run(move |conn| {
        let Some(version) = known_version(conn, &dataset, version)? else { return Ok(None) };
        let files = source_version_files::table
            .filter(source_version_files::dataset.eq(&dataset).and(source_version_files::version.le(version)))
            .order((source_version_files::version.asc(), source_version_files::path.asc()))
            .select(source_version_files::path)
            .load(conn)?;
        Ok(Some((version, files)))
    })
    .await
}

/// `dataset`'s latest version the feature store knows of, if any.
pub(crate) async fn latest_version(db: &Database, dataset: String) -> Result<Option<i64>, DbError> {
    db.run(move |conn| known_version(conn, &dataset, None)).await
}

/// `version` of `dataset` (its latest when `None`), if recorded.
fn known_version(
    conn: &mut AnyConnection,
    dataset: &str,
    version: Option<i64>,
) -> Result<Option<i64>, DbError> {
    let mut query = source_versions::table
        .filter(source_versions::dataset.eq(dataset))
        .select(source_versions::version)
        .order(source_versions::version.desc())
        .into_boxed();
    if let Some(version) = version {
        query = query.filter(source_versions::version.eq(version));
    }
    Ok(query.first::<i64>(conn).optional()?)
}

fn upsert(conn: &mut AnyConnection, source: &SourceDataset, schema_json: &str) -> Result<(), DbError> {
    diesel::delete(dsl::source_datasets.filter(dsl::name.eq(source.name.as_str()))).execute(conn)?;
    diesel::insert_into(dsl::source_datasets)
        .values((
            dsl::name.eq(source.name.as_str()),
            dsl::schema_json.eq(schema_json),
            dsl::created_at.eq(source.created_at.as_micros()),
            dsl::event_id.eq(&source.event_id),
            dsl::trace_id.eq(&source.trace_id),
        ))
        .execute(conn)?;
    Ok(())
}

type Row = (String, String, i64, String, Option<String>);

pub(crate) async fn list(db: &Database, name: Option<String>) -> Result<Vec<SourceDataset>, DbError> {
    let rows: Vec<Row> = db
        .run(move |conn| {
            let mut query = dsl::source_datasets
                .select((dsl::name, dsl::schema_json, dsl::created_at, dsl::event_id, dsl::trace_id))
                .order(dsl::name.asc())
                .into_boxed();
            if let Some(name) = name {
                query = query.filter(dsl::name.eq(name));
            }
            Ok(query.load(conn)?)
        })
        .await?;
    // Rows were validated before they were written: one that no longer reads is damaged.
    let corrupt = |name: &str, error: &dyn std::fmt::Display| {
        DbError::Corrupt(format!("source dataset `{name}`: {error}"))
    };
    rows.into_iter()
        .map(|(name, schema_json, created_at, event_id, trace_id)| {
            Ok(SourceDataset {
                schema: serde_json::from_str(&schema_json).map_err(|error| corrupt(&name, &error))?,
                created_at: Timestamp::from_micros(created_at)
                    .ok_or_else(|| corrupt(&name, &format!("created at {created_at} µs is not a time")))?,
                name: Name::parse(name.clone()).map_err(|error| corrupt(&name, &error))?,
                event_id,
                trace_id,
            })
        })
        .collect()
}

/// The files ingested into `dataset` whose batches hold event times in `[start, end)` (from the
/// beginning without `start`), in the order they were ingested.
pub(crate) async fn files_of(
    db: &Database,
    dataset: String,
    start: Option<i64>,
    end: i64,
) -> Result<Vec<String>, DbError> {
    db.run(move |conn| {
        let mut query = source_files::table
            .filter(source_files::dataset.eq(dataset))
            .filter(source_files::min_event_micros.lt(end))
            .select(source_files::path)
            .order((source_files::sequence.asc(), source_files::path.asc()))
            .into_boxed();
        if let Some(start) = start {
            query = query.filter(source_files::max_event_micros.ge(start));
        }
        Ok(query.load::<String>(conn)?)
    })
    .await
}
