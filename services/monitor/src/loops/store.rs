//! The loops' tables: each loop's policy and state, and its decisions.

use cairn_api::{LoopEvent, LoopPolicy};
use cairn_db::{Database, DbError, Sql, write_transaction};
use cairn_domain::Timestamp;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::State;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    endpoint: String,
    #[diesel(sql_type = Text)]
    policy: String,
    #[diesel(sql_type = Text)]
    state: String,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = Text)]
    endpoint: String,
    #[diesel(sql_type = BigInt)]
    cycle: i64,
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    step: String,
    #[diesel(sql_type = Text)]
    detail: String,
    #[diesel(sql_type = Text)]
    numbers: String,
}

/// A loop as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub endpoint: String,
    pub policy: LoopPolicy,
    pub state: State,
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {error}"))
}

fn decode(row: Row) -> Result<Stored, DbError> {
    let what = format!("the loop of `{}`", row.endpoint);
    Ok(Stored {
        policy: serde_json::from_str(&row.policy).map_err(|error| corrupt(&what, error))?,
        state: serde_json::from_str(&row.state).map_err(|error| corrupt(&what, error))?,
        endpoint: row.endpoint,
    })
}

pub async fn all(db: &Database) -> Result<Vec<Stored>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT endpoint, policy, state FROM monitor_loops ORDER BY endpoint");
        sql.load::<Row>(conn)?.into_iter().map(decode).collect()
    })
    .await
}

pub async fn get(db: &Database, endpoint: String) -> Result<Option<Stored>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT endpoint, policy, state FROM monitor_loops WHERE endpoint = ").bind(endpoint);
        sql.load::<Row>(conn)?.into_iter().next().map(decode).transpose()
    })
    .await
}

/// Writes the loop and appends `events` to its history, in one transaction.
pub async fn save(db: &Database, stored: &Stored, events: Vec<LoopEvent>) -> Result<(), DbError> {
    let backend = db.backend();
    let policy = serde_json::to_string(&stored.policy).map_err(|error| corrupt("a loop policy", error))?;
    let state = serde_json::to_string(&stored.state).map_err(|error| corrupt("a loop state", error))?;
    let endpoint = stored.endpoint.clone();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut sql = Sql::new(backend);
            sql.push("INSERT INTO monitor_loops (endpoint, policy, state, updated_at) VALUES (")
                .bind(endpoint.clone())
                .push(", ")
                .bind(policy)
                .push(", ")
                .bind(state)
                .push(", ")
                .bind(Timestamp::now().as_micros())
                .push(
                    ") ON CONFLICT (endpoint) DO UPDATE SET policy = excluded.policy, state = excluded.state, \
                     updated_at = excluded.updated_at",
                );
            sql.execute(conn)?;
            for event in events {
                #[derive(QueryableByName)]
                struct Seq {
                    #[diesel(sql_type = BigInt)]
                    seq: i64,
                }
                let mut next = Sql::new(backend);
                next.push("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM monitor_loop_events WHERE endpoint = ")
                    .bind(endpoint.clone());
                let seq = next.load::<Seq>(conn)?.into_iter().next().map_or(1, |row| row.seq);
                let numbers = serde_json::to_string(&event.numbers).map_err(|error| corrupt("numbers", error))?;
                cairn_service::Outbox::stage(
                    conn,
                    &cairn_events::v1::LoopDecided {
                        deployment: endpoint.clone(),
                        cycle: event.cycle,
                        step: event.step.clone(),
                        detail: event.detail.clone(),
                        numbers_json: numbers.clone(),
                        at_unix_micros: event.at.as_micros(),
                    },
                )?;
                let mut sql = Sql::new(backend);
                sql.push("INSERT INTO monitor_loop_events (endpoint, seq, cycle, at, step, detail, numbers) VALUES (")
                    .bind(endpoint.clone())
                    .push(", ")
                    .bind(seq)
                    .push(", ")
                    .bind(event.cycle)
                    .push(", ")
                    .bind(event.at.as_micros())
                    .push(", ")
                    .bind(event.step)
                    .push(", ")
                    .bind(event.detail)
                    .push(", ")
                    .bind(numbers)
                    .push(")");
                sql.execute(conn)?;
            }
            Ok(())
        })
    })
    .await
}

pub async fn delete(db: &Database, endpoint: String) -> Result<bool, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM monitor_loops WHERE endpoint = ").bind(endpoint);
        Ok(sql.execute(conn)? > 0)
    })
    .await
}

/// The loop's decisions, oldest first (the latest `limit`).
pub async fn history(db: &Database, endpoint: String, limit: i64) -> Result<Vec<LoopEvent>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(
            "SELECT endpoint, cycle, at, step, detail, numbers FROM monitor_loop_events WHERE endpoint = ",
        )
        .bind(endpoint)
        .push(" ORDER BY seq DESC LIMIT ")
        .bind(limit);
        let mut events = sql
            .load::<EventRow>(conn)?
            .into_iter()
            .map(|row| {
                Ok(LoopEvent {
                    at: Timestamp::from_micros(row.at)
                        .ok_or_else(|| corrupt("a loop event", format!("time {} out of range", row.at)))?,
                    numbers: serde_json::from_str(&row.numbers)
                        .map_err(|error| corrupt("a loop event", error))?,
                    endpoint: row.endpoint,
                    cycle: row.cycle,
                    step: row.step,
                    detail: row.detail,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        events.reverse();
        Ok(events)
    })
    .await
}
