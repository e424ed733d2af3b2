//! The `pipeline_runs` table: each run as one JSON document, rewritten at every step with the
//! events that announce the step, in one transaction.

use cairn_db::{Database, DbError, Sql, write_transaction};
use cairn_domain::Timestamp;
use cairn_events::v1::{PipelineRunChanged, TrialChanged};
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::Text;

use super::RunRecord;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    record: String,
}

fn decode(row: Row) -> Result<RunRecord, DbError> {
    serde_json::from_str(&row.record)
        .map_err(|error| DbError::Corrupt(format!("pipeline run `{}`: {error}", row.id)))
}

fn encode(record: &RunRecord) -> Result<String, DbError> {
    serde_json::to_string(record).map_err(|error| DbError::Corrupt(error.to_string()))
}

/// Events a change announces.
#[derive(Debug, Default)]
pub struct Announce {
    pub run: Option<PipelineRunChanged>,
    pub trials: Vec<TrialChanged>,
}

pub async fn insert(db: &Database, record: &RunRecord, announce: Announce) -> Result<(), DbError> {
    let backend = db.backend();
    let json = encode(record)?;
    let run = &record.run;
    let (id, pipeline, state) = (run.id.clone(), run.pipeline.to_string(), run.state.as_str());
    let (created, updated) = (run.created_at.as_micros(), run.updated_at.as_micros());
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut sql = Sql::new(backend);
            sql.push(
                "INSERT INTO pipeline_runs (id, pipeline, state, record, created_at, updated_at) VALUES (",
            )
            .bind(id)
            .push(", ")
            .bind(pipeline)
            .push(", ")
            .bind(state)
            .push(", ")
            .bind(json)
            .push(", ")
            .bind(created)
            .push(", ")
            .bind(updated)
            .push(")");
            sql.execute(conn)?;
            stage(conn, announce)
        })
    })
    .await
}

pub async fn save(db: &Database, record: &RunRecord, announce: Announce) -> Result<(), DbError> {
    let backend = db.backend();
    let json = encode(record)?;
    let (id, state) = (record.run.id.clone(), record.run.state.as_str());
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut sql = Sql::new(backend);
            sql.push("UPDATE pipeline_runs SET state = ")
                .bind(state)
                .push(", record = ")
                .bind(json)
                .push(", updated_at = ")
                .bind(Timestamp::now().as_micros())
                .push(" WHERE id = ")
                .bind(id);
            sql.execute(conn)?;
            stage(conn, announce)
        })
    })
    .await
}

fn stage(conn: &mut cairn_db::AnyConnection, announce: Announce) -> Result<(), DbError> {
    if let Some(event) = &announce.run {
        Outbox::stage(conn, event)?;
    }
    for event in &announce.trials {
        Outbox::stage(conn, event)?;
    }
    Ok(())
}

pub async fn get(db: &Database, id: String) -> Result<Option<RunRecord>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, record FROM pipeline_runs WHERE id = ").bind(id);
        sql.load::<Row>(conn)?.into_iter().next().map(decode).transpose()
    })
    .await
}

/// The latest `limit` runs (of one pipeline, when given), newest first.
pub async fn list(db: &Database, pipeline: Option<String>, limit: i64) -> Result<Vec<RunRecord>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, record FROM pipeline_runs");
        if let Some(pipeline) = pipeline {
            sql.push(" WHERE pipeline = ").bind(pipeline);
        }
        sql.push(" ORDER BY created_at DESC, id DESC LIMIT ").bind(limit);
        sql.load::<Row>(conn)?.into_iter().map(decode).collect()
    })
    .await
}

/// The ids of the runs not finished, oldest first: what a starting orchestrator resumes.
pub async fn unfinished(db: &Database) -> Result<Vec<String>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT id, record FROM pipeline_runs WHERE state NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY created_at");
        Ok(sql.load::<Row>(conn)?.into_iter().map(|row| row.id).collect())
    })
    .await
}
