//! The `endpoints` table: every replica's shared truth of what each endpoint serves.

use cairn_api::{Canary, EndpointSpec, StreamScoring};
use cairn_db::{AnyConnection, Backend, Database, DbError, Sql, write_transaction};
use cairn_domain::Timestamp;
use cairn_events::v1;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub name: String,
    pub spec: EndpointSpec,
    pub revision: i64,
    pub updated_at: Timestamp,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Nullable<Text>)]
    alias: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    version: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    canary_version: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    canary_basis_points: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    shadow_version: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    stream_input: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    stream_output: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    stream_entity_keys: Option<i64>,
    #[diesel(sql_type = BigInt)]
    revision: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
}

impl TryFrom<Row> for Stored {
    type Error = DbError;

    fn try_from(row: Row) -> Result<Self, DbError> {
        let updated_at = Timestamp::from_micros(row.updated_at)
            .ok_or_else(|| DbError::Corrupt(format!("endpoint `{}`: time {}", row.name, row.updated_at)))?;
        if row.alias.is_some() == row.version.is_some() {
            return Err(DbError::Corrupt(format!("endpoint `{}`: needs an alias or a version", row.name)));
        }
        let canary = match (row.canary_version, row.canary_basis_points) {
            (Some(version), Some(basis_points)) => {
                Some(Canary { version, weight: basis_points as f64 / 10_000.0 })
            }
            (None, None) => None,
            _ => return Err(DbError::Corrupt(format!("endpoint `{}`: half a canary", row.name))),
        };
        let stream = match (row.stream_input, row.stream_output) {
            (Some(input), Some(output)) => {
                Some(StreamScoring { input, output, entity_keys: row.stream_entity_keys == Some(1) })
            }
            (None, None) => None,
            _ => return Err(DbError::Corrupt(format!("endpoint `{}`: half a stream", row.name))),
        };
        Ok(Stored {
            spec: EndpointSpec {
                model: row.model,
                alias: row.alias,
                version: row.version,
                canary,
                shadow: row.shadow_version,
                stream,
            },
            name: row.name,
            revision: row.revision,
            updated_at,
        })
    }
}

const COLUMNS: &str = "name, model, alias, version, canary_version, canary_basis_points, shadow_version, \
                       stream_input, stream_output, stream_entity_keys, revision, updated_at";

pub async fn list(db: &Database) -> Result<Vec<Stored>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM endpoints ORDER BY name"));
        sql.load::<Row>(conn)?.into_iter().map(Stored::try_from).collect()
    })
    .await
}

pub async fn get(db: &Database, name: String) -> Result<Option<Stored>, DbError> {
    let backend = db.backend();
    db.call(move |conn| one(conn, backend, &name)).await
}

fn one(conn: &mut AnyConnection, backend: Backend, name: &str) -> Result<Option<Stored>, DbError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM endpoints WHERE name = ")).bind(name);
    sql.load::<Row>(conn)?.into_iter().next().map(Stored::try_from).transpose()
}

/// Creates or replaces the endpoint `name`, and stages the change for every replica.
pub async fn put(db: &Database, name: String, spec: EndpointSpec) -> Result<Stored, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let revision = one(conn, backend, &name)?.map_or(1, |stored| stored.revision + 1);
            let now = Timestamp::now();
            let mut sql = Sql::new(backend);
            sql.push(&format!("INSERT INTO endpoints ({COLUMNS}) VALUES ("))
                .bind(name.clone())
                .push(", ")
                .bind(spec.model.clone())
                .push(", ")
                .bind(spec.alias.clone())
                .push(", ")
                .bind(spec.version)
                .push(", ")
                .bind(spec.canary.as_ref().map(|canary| canary.version))
                .push(", ")
                .bind(spec.canary.as_ref().map(|canary| basis_points(canary.weight)))
                .push(", ")
                .bind(spec.shadow)
                .push(", ")
                .bind(spec.stream.as_ref().map(|stream| stream.input.clone()))
                .push(", ")
                .bind(spec.stream.as_ref().map(|stream| stream.output.clone()))
                .push(", ")
                .bind(spec.stream.as_ref().map(|stream| i64::from(stream.entity_keys)))
                .push(", ")
                .bind(revision)
                .push(", ")
                .bind(now.as_micros())
                .push(
                    ") ON CONFLICT (name) DO UPDATE SET model = excluded.model, alias = excluded.alias, \
                     version = excluded.version, canary_version = excluded.canary_version, \
                     canary_basis_points = excluded.canary_basis_points, shadow_version = \
                     excluded.shadow_version, stream_input = excluded.stream_input, stream_output = \
                     excluded.stream_output, stream_entity_keys = excluded.stream_entity_keys, \
                     revision = excluded.revision, updated_at = excluded.updated_at",
                );
            sql.execute(conn)?;
            Outbox::stage(conn, &changed(&name, &spec, revision, false))?;
            Ok(Stored { name, spec, revision, updated_at: now })
        })
    })
    .await
}

/// Deletes the endpoint `name`; false when there was none.
pub async fn delete(db: &Database, name: String) -> Result<bool, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let Some(stored) = one(conn, backend, &name)? else { return Ok(false) };
            let mut sql = Sql::new(backend);
            sql.push("DELETE FROM endpoints WHERE name = ").bind(name.clone());
            sql.execute(conn)?;
            Outbox::stage(conn, &changed(&name, &stored.spec, stored.revision + 1, true))?;
            Ok(true)
        })
    })
    .await
}

/// A weight in (0, 1) as whole basis points, as stored.
pub fn basis_points(weight: f64) -> i64 {
    (weight * 10_000.0).round() as i64
}

fn changed(name: &str, spec: &EndpointSpec, revision: i64, deleted: bool) -> v1::DeploymentChanged {
    let target = |version: i64, traffic: f64, shadow: bool| v1::DeploymentTarget {
        model: spec.model.clone(),
        version,
        traffic,
        shadow,
    };
    let canary_weight = spec.canary.as_ref().map_or(0.0, |canary| canary.weight);
    let mut targets = vec![target(spec.version.unwrap_or_default(), 1.0 - canary_weight, false)];
    targets.extend(spec.canary.as_ref().map(|canary| target(canary.version, canary.weight, false)));
    targets.extend(spec.shadow.map(|version| target(version, 0.0, true)));
    let strategy = match (&spec.canary, spec.shadow) {
        (Some(_), _) => v1::RolloutStrategy::Canary,
        (None, Some(_)) => v1::RolloutStrategy::Shadow,
        (None, None) => v1::RolloutStrategy::Direct,
    };
    v1::DeploymentChanged {
        deployment: name.to_owned(),
        strategy: strategy.into(),
        targets,
        revision,
        alias: spec.alias.clone().unwrap_or_default(),
        deleted,
    }
}
