//! The `trigger_fires` table: each firing claimed once by its key.

use cairn_db::{Database, DbError, Sql};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable};

/// A firing: which pipeline's which trigger, and the key naming what fired it.
#[derive(Debug, Clone)]
pub struct Firing {
    pub pipeline: String,
    pub trigger: String,
    pub key: String,
}

/// Claims the firing: `false` when it was claimed before (it happened).
pub async fn claim(db: &Database, firing: Firing, fired_at: i64) -> Result<bool, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO trigger_fires (pipeline, trigger_name, key, fired_at) VALUES (")
            .bind(firing.pipeline)
            .push(", ")
            .bind(firing.trigger)
            .push(", ")
            .bind(firing.key)
            .push(", ")
            .bind(fired_at)
            .push(") ON CONFLICT DO NOTHING");
        Ok(sql.execute(conn)? == 1)
    })
    .await
}

/// Records the run a firing started.
pub async fn started(db: &Database, firing: Firing, run_id: String) -> Result<(), DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE trigger_fires SET run_id = ")
            .bind(run_id)
            .push(" WHERE pipeline = ")
            .bind(firing.pipeline)
            .push(" AND trigger_name = ")
            .bind(firing.trigger)
            .push(" AND key = ")
            .bind(firing.key);
        sql.execute(conn)?;
        Ok(())
    })
    .await
}

#[derive(QueryableByName)]
struct Latest {
    #[diesel(sql_type = Nullable<BigInt>)]
    fired_at: Option<i64>,
}

/// When `trigger` of `pipeline` last fired.
pub async fn latest(db: &Database, pipeline: String, trigger: String) -> Result<Option<i64>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT MAX(fired_at) AS fired_at FROM trigger_fires WHERE pipeline = ")
            .bind(pipeline)
            .push(" AND trigger_name = ")
            .bind(trigger);
        Ok(sql.load::<Latest>(conn)?.into_iter().next().and_then(|row| row.fired_at))
    })
    .await
}
