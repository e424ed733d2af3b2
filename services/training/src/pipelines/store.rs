//! The `pipelines` table: every applied version of every pipeline.

use cairn_api::{Pipeline, PipelineSpec};
use cairn_db::{Database, DbError, Sql, write_transaction};
use cairn_domain::{Name, Timestamp};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    spec: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl TryFrom<Row> for Pipeline {
    type Error = DbError;

    fn try_from(row: Row) -> Result<Self, DbError> {
        let corrupt =
            |what: String| DbError::Corrupt(format!("pipeline `{}` v{}: {what}", row.name, row.version));
        Ok(Pipeline {
            name: Name::parse(&row.name).map_err(|error| corrupt(error.to_string()))?,
            version: row.version,
            spec: serde_json::from_str::<PipelineSpec>(&row.spec)
                .map_err(|error| corrupt(error.to_string()))?,
            created_at: Timestamp::from_micros(row.created_at)
                .ok_or_else(|| corrupt("a time out of range".into()))?,
        })
    }
}

const COLUMNS: &str = "name, version, spec, created_at";

/// The latest version of `name`, or a given one.
pub async fn get(db: &Database, name: String, version: Option<i64>) -> Result<Option<Pipeline>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM pipelines WHERE name = ")).bind(name);
        match version {
            Some(version) => sql.push(" AND version = ").bind(version),
            None => sql.push(" ORDER BY version DESC LIMIT 1"),
        };
        sql.load::<Row>(conn)?.into_iter().next().map(Pipeline::try_from).transpose()
    })
    .await
}

/// Every version of `name`, oldest first.
pub async fn versions(db: &Database, name: String) -> Result<Vec<Pipeline>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM pipelines WHERE name = "))
            .bind(name)
            .push(" ORDER BY version");
        sql.load::<Row>(conn)?.into_iter().map(Pipeline::try_from).collect()
    })
    .await
}

/// The latest version of every pipeline, by name.
pub async fn latest(db: &Database) -> Result<Vec<Pipeline>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!(
            "SELECT {COLUMNS} FROM pipelines p WHERE version = \
             (SELECT MAX(version) FROM pipelines q WHERE q.name = p.name) ORDER BY name"
        ));
        sql.load::<Row>(conn)?.into_iter().map(Pipeline::try_from).collect()
    })
    .await
}

/// Adds `spec` as version `version` of its pipeline; `Ok(false)` when another apply took that
/// version first.
pub async fn insert(db: &Database, spec: &PipelineSpec, version: i64) -> Result<bool, DbError> {
    let backend = db.backend();
    let name = spec.name.to_string();
    let json = serde_json::to_string(spec).map_err(|error| DbError::Corrupt(error.to_string()))?;
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut taken = Sql::new(backend);
            taken
                .push("SELECT name, version, spec, created_at FROM pipelines WHERE name = ")
                .bind(name.clone())
                .push(" AND version = ")
                .bind(version);
            if !taken.load::<Row>(conn)?.is_empty() {
                return Ok(false);
            }
            let mut sql = Sql::new(backend);
            sql.push(&format!("INSERT INTO pipelines ({COLUMNS}) VALUES ("))
                .bind(name)
                .push(", ")
                .bind(version)
                .push(", ")
                .bind(json)
                .push(", ")
                .bind(Timestamp::now().as_micros())
                .push(")");
            sql.execute(conn)?;
            Ok(true)
        })
    })
    .await
}
