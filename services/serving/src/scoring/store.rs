//! The `scoring_jobs` table: every scoring job and how far it has come, shared by the replicas.

use cairn_api::ScoringJob;
use cairn_db::{Database, DbError, Sql, SqlValue, write_transaction};
use cairn_domain::{Name, Timestamp};
use cairn_events::v1::PredictionsWritten;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    dataset: String,
    #[diesel(sql_type = BigInt)]
    dataset_version: i64,
    #[diesel(sql_type = Text)]
    output: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    rows_total: i64,
    #[diesel(sql_type = BigInt)]
    rows_scored: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    output_version: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    error: Option<String>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl TryFrom<Row> for ScoringJob {
    type Error = DbError;

    fn try_from(row: Row) -> Result<Self, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(format!("scoring job `{}`: {what}", row.id));
        let time = |micros| Timestamp::from_micros(micros).ok_or_else(|| corrupt("a time out of range"));
        let name = |text: &str| Name::parse(text).map_err(|error| corrupt(&error.to_string()));
        Ok(ScoringJob {
            model: row.model.clone(),
            version: row.version,
            dataset: name(&row.dataset)?,
            dataset_version: row.dataset_version,
            output: name(&row.output)?,
            state: row.state.clone(),
            rows: u64::try_from(row.rows_total).map_err(|_| corrupt("negative rows"))?,
            rows_scored: u64::try_from(row.rows_scored).map_err(|_| corrupt("negative rows"))?,
            output_version: row.output_version,
            error: row.error.clone(),
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
            id: row.id,
        })
    }
}

const COLUMNS: &str = "id, model, version, dataset, dataset_version, output, state, rows_total, rows_scored, \
                       output_version, error, created_at, updated_at";

fn rows_i64(rows: u64) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

pub async fn insert(db: &Database, job: ScoringJob) -> Result<ScoringJob, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("INSERT INTO scoring_jobs ({COLUMNS}) VALUES ("))
            .bind(job.id.clone())
            .push(", ")
            .bind(job.model.clone())
            .push(", ")
            .bind(job.version)
            .push(", ")
            .bind(job.dataset.to_string())
            .push(", ")
            .bind(job.dataset_version)
            .push(", ")
            .bind(job.output.to_string())
            .push(", ")
            .bind(job.state.clone())
            .push(", ")
            .bind(rows_i64(job.rows))
            .push(", ")
            .bind(rows_i64(job.rows_scored))
            .push(", ")
            .bind(job.output_version)
            .push(", ")
            .bind(job.error.clone())
            .push(", ")
            .bind(job.created_at.as_micros())
            .push(", ")
            .bind(job.updated_at.as_micros())
            .push(")");
        sql.execute(conn)?;
        Ok(job)
    })
    .await
}

pub async fn get(db: &Database, id: String) -> Result<Option<ScoringJob>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM scoring_jobs WHERE id = ")).bind(id);
        sql.load::<Row>(conn)?.into_iter().next().map(ScoringJob::try_from).transpose()
    })
    .await
}

/// The latest `limit` jobs, newest first.
pub async fn list(db: &Database, limit: i64) -> Result<Vec<ScoringJob>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM scoring_jobs ORDER BY created_at DESC, id DESC LIMIT "))
            .bind(limit);
        sql.load::<Row>(conn)?.into_iter().map(ScoringJob::try_from).collect()
    })
    .await
}

/// Sets `columns` of the job and renews its heartbeat (`updated_at`); `event` is staged in the
/// same transaction.
async fn update(
    db: &Database,
    id: String,
    columns: Vec<(&'static str, SqlValue)>,
    event: Option<PredictionsWritten>,
) -> Result<(), DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut sql = Sql::new(backend);
            sql.push("UPDATE scoring_jobs SET updated_at = ").bind(Timestamp::now().as_micros());
            for (column, value) in columns {
                sql.push(&format!(", {column} = ")).bind(value);
            }
            sql.push(" WHERE id = ").bind(id);
            sql.execute(conn)?;
            event.map_or(Ok(()), |event| Outbox::stage(conn, &event).map(drop))
        })
    })
    .await
}

/// Records progress, which is also the job's heartbeat.
pub async fn progress(db: &Database, id: String, rows_scored: u64) -> Result<(), DbError> {
    update(db, id, vec![("rows_scored", rows_i64(rows_scored).into())], None).await
}

/// Renews the job's heartbeat.
pub async fn touch(db: &Database, id: String) -> Result<(), DbError> {
    update(db, id, Vec::new(), None).await
}

/// The file is written: the hand-off to ingestion is staged with the state, in one transaction.
pub async fn written(db: &Database, id: String, rows: u64, event: PredictionsWritten) -> Result<(), DbError> {
    let columns = vec![("state", "written".into()), ("rows_scored", rows_i64(rows).into())];
    update(db, id, columns, Some(event)).await
}

/// The job's end: `succeeded` with the version that holds its rows, or `failed` with why.
pub async fn finish(db: &Database, id: String, outcome: Result<i64, String>) -> Result<(), DbError> {
    let (state, version, error) = match outcome {
        Ok(version) => ("succeeded", Some(version), None),
        Err(error) => ("failed", None, Some(error)),
    };
    let columns = vec![("state", state.into()), ("output_version", version.into()), ("error", error.into())];
    update(db, id, columns, None).await
}

/// Takes over the unfinished jobs nobody has touched for `idle` (their replica stopped): their
/// heartbeat is renewed in the same statement, so only one replica takes each.
pub async fn take_abandoned(db: &Database, idle: std::time::Duration) -> Result<Vec<ScoringJob>, DbError> {
    let backend = db.backend();
    let now = Timestamp::now().as_micros();
    let before = now.saturating_sub(i64::try_from(idle.as_micros()).unwrap_or(i64::MAX));
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE scoring_jobs SET updated_at = ")
            .bind(now)
            .push(" WHERE state IN ('running', 'written') AND updated_at < ")
            .bind(before)
            .push(&format!(" RETURNING {COLUMNS}"));
        sql.load::<Row>(conn)?.into_iter().map(ScoringJob::try_from).collect()
    })
    .await
}
