//! The monitor's tables: the reader's position, each version's reference, the open windows and
//! the closed ones. What one batch of the log changed is written in one transaction.

use cairn_api::MonitorWindow;
use cairn_db::{Database, DbError, Sql, write_transaction};
use cairn_domain::Timestamp;
use cairn_events::v1::DriftDetected;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use crate::reference::ModelReference;
use crate::window::Open;

/// The prediction log's reader.
const READER: &str = "predictions";

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    json: String,
}

#[derive(QueryableByName)]
struct Sequence {
    #[diesel(sql_type = BigInt)]
    next_sequence: i64,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, row: Json) -> Result<T, DbError> {
    serde_json::from_str(&row.json).map_err(|error| DbError::Corrupt(format!("{what}: {error}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|error| DbError::Corrupt(error.to_string()))
}

/// The next stream sequence to read (1 when nothing was read yet).
pub async fn position(db: &Database) -> Result<u64, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT next_sequence FROM monitor_position WHERE reader = ").bind(READER);
        let next = sql.load::<Sequence>(conn)?.into_iter().next().map_or(1, |row| row.next_sequence);
        Ok(u64::try_from(next).unwrap_or(1))
    })
    .await
}

pub async fn open_windows(db: &Database) -> Result<Vec<Open>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT window_state AS json FROM monitor_open_windows");
        sql.load::<Json>(conn)?.into_iter().map(|row| decode("an open window", row)).collect()
    })
    .await
}

pub async fn reference(
    db: &Database,
    model: String,
    version: i64,
) -> Result<Option<ModelReference>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT reference AS json FROM monitor_references WHERE model = ")
            .bind(model.clone())
            .push(" AND version = ")
            .bind(version);
        let what = format!("the reference of {model}@{version}");
        sql.load::<Json>(conn)?.into_iter().next().map(|row| decode(&what, row)).transpose()
    })
    .await
}

pub async fn save_reference(db: &Database, reference: &ModelReference) -> Result<(), DbError> {
    let backend = db.backend();
    let json = encode(reference)?;
    let (model, version) = (reference.model.clone(), reference.version);
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO monitor_references (model, version, reference, built_at) VALUES (")
            .bind(model)
            .push(", ")
            .bind(version)
            .push(", ")
            .bind(json)
            .push(", ")
            .bind(Timestamp::now().as_micros())
            .push(") ON CONFLICT (model, version) DO UPDATE SET reference = excluded.reference, built_at = excluded.built_at");
        sql.execute(conn)?;
        Ok(())
    })
    .await
}

/// What handling some of the log (or the clock) changed.
#[derive(Debug, Default)]
pub struct Change {
    pub open: Vec<Open>,
    /// Judged windows, each with its counts (the open window it was).
    pub closed: Vec<(MonitorWindow, Open)>,
    pub events: Vec<DriftDetected>,
    /// Predictions kept to join ground truth to (endpoints with feedback).
    pub kept: Vec<crate::feedback::Kept>,
    /// The reader's new position, when the change came from the log.
    pub next_sequence: Option<u64>,
}

pub async fn commit(db: &Database, change: &Change) -> Result<(), DbError> {
    let backend = db.backend();
    let open: Vec<(String, String, i64, String)> = change
        .open
        .iter()
        .map(|open| {
            let key = &open.key;
            Ok((key.endpoint.clone(), key.model.clone(), key.version, encode(open)?))
        })
        .collect::<Result<_, DbError>>()?;
    let closed: Vec<(MonitorWindow, String, String)> = change
        .closed
        .iter()
        .map(|(window, counts)| Ok((window.clone(), encode(window)?, encode(counts)?)))
        .collect::<Result<_, DbError>>()?;
    let events = change.events.clone();
    let kept = change.kept.clone();
    let next = change.next_sequence.map(|next| i64::try_from(next).unwrap_or(i64::MAX));
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            for (endpoint, model, version, json) in open {
                let mut sql = Sql::new(backend);
                sql.push("INSERT INTO monitor_open_windows (endpoint, model, version, window_state) VALUES (")
                    .bind(endpoint)
                    .push(", ")
                    .bind(model)
                    .push(", ")
                    .bind(version)
                    .push(", ")
                    .bind(json)
                    .push(
                        ") ON CONFLICT (endpoint, model, version) DO UPDATE SET window_state = excluded.window_state",
                    );
                sql.execute(conn)?;
            }
            for (window, json, counts) in closed {
                let mut sql = Sql::new(backend);
                sql.push(
                    "INSERT INTO monitor_windows (endpoint, model, version, number, started_at, ended_at, \
                     predictions, dataset_drift, report, counts) VALUES (",
                )
                .bind(window.endpoint)
                .push(", ")
                .bind(window.model)
                .push(", ")
                .bind(window.version)
                .push(", ")
                .bind(window.number)
                .push(", ")
                .bind(window.started_at.as_micros())
                .push(", ")
                .bind(window.ended_at.as_micros())
                .push(", ")
                .bind(i64::try_from(window.predictions).unwrap_or(i64::MAX))
                .push(", ")
                .bind(i64::from(window.dataset_drift))
                .push(", ")
                .bind(json)
                .push(", ")
                .bind(counts)
                .push(")");
                sql.execute(conn)?;
            }
            for event in &events {
                Outbox::stage(conn, event)?;
            }
            crate::feedback::keep(conn, &kept)?;
            if let Some(next) = next {
                let mut sql = Sql::new(backend);
                sql.push("INSERT INTO monitor_position (reader, next_sequence) VALUES (")
                    .bind(READER)
                    .push(", ")
                    .bind(next)
                    .push(") ON CONFLICT (reader) DO UPDATE SET next_sequence = excluded.next_sequence");
                sql.execute(conn)?;
            }
            Ok(())
        })
    })
    .await
}

/// An endpoint's closed windows, newest first.
pub async fn windows(db: &Database, endpoint: String, limit: i64) -> Result<Vec<MonitorWindow>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT report AS json FROM monitor_windows WHERE endpoint = ")
            .bind(endpoint)
            .push(" ORDER BY ended_at DESC, number DESC LIMIT ")
            .bind(limit);
        sql.load::<Json>(conn)?.into_iter().map(|row| decode("a closed window", row)).collect()
    })
    .await
}

/// Predictions of a model version on an endpoint so far: its judged windows and its open one.
pub async fn predictions_of(
    db: &Database,
    endpoint: String,
    model: String,
    version: i64,
) -> Result<u64, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        #[derive(QueryableByName)]
        struct Total {
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            total: Option<i64>,
        }
        let mut closed = Sql::new(backend);
        closed
            .push("SELECT SUM(predictions) AS total FROM monitor_windows WHERE endpoint = ")
            .bind(endpoint.clone())
            .push(" AND model = ")
            .bind(model.clone())
            .push(" AND version = ")
            .bind(version);
        let closed = closed.load::<Total>(conn)?.into_iter().next().and_then(|row| row.total).unwrap_or(0);
        let mut open = Sql::new(backend);
        open.push("SELECT window_state AS json FROM monitor_open_windows WHERE endpoint = ")
            .bind(endpoint)
            .push(" AND model = ")
            .bind(model)
            .push(" AND version = ")
            .bind(version);
        let open = open
            .load::<Json>(conn)?
            .into_iter()
            .next()
            .map(|row| decode::<Open>("an open window", row))
            .transpose()?
            .map_or(0, |open| open.predictions);
        Ok(u64::try_from(closed).unwrap_or(0) + open)
    })
    .await
}

/// The counts of an endpoint's latest judged window of each model version.
pub async fn latest_counts(db: &Database, endpoint: String) -> Result<Vec<Open>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT w.counts AS json FROM monitor_windows w WHERE w.endpoint = ").bind(endpoint).push(
            " AND w.counts IS NOT NULL AND w.number = (SELECT MAX(l.number) FROM monitor_windows l \
                 WHERE l.endpoint = w.endpoint AND l.model = w.model AND l.version = w.version) \
                 ORDER BY w.model, w.version",
        );
        sql.load::<Json>(conn)?.into_iter().map(|row| decode("a judged window's counts", row)).collect()
    })
    .await
}
