//! Experiments: named groups of runs with an artifact location and tags.

use cairn_db::{AnyConnection, Database, Sql, write_transaction};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::filter::{self, Entity};
use super::key_values;
use super::search::{push_comparison, push_tag_clause};
use super::validate::{self, MAX_TAG_VALUE_LENGTH};
use super::{
    Experiment, KeyValue, LifecycleStage, Page, TrackingError, ViewType, now_millis, page_offset, page_size,
    push_page, split_page,
};

#[derive(QueryableByName)]
struct ExperimentRow {
    #[diesel(sql_type = BigInt)]
    experiment_id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    artifact_location: String,
    #[diesel(sql_type = Text)]
    lifecycle_stage: String,
    #[diesel(sql_type = BigInt)]
    creation_time: i64,
    #[diesel(sql_type = BigInt)]
    last_update_time: i64,
}

const COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

/// Experiment ids are integers on the wire as strings; anything else names no experiment.
pub(crate) fn parse_id(id: &str) -> Result<i64, TrackingError> {
    id.trim().parse().map_err(|_| TrackingError::NotFound(format!("no experiment with id {id}")))
}

/// Creates an experiment; its id.
pub async fn create_experiment(
    db: &Database,
    name: String,
    artifact_location: Option<String>,
    tags: Vec<KeyValue>,
) -> Result<i64, TrackingError> {
    validate::experiment_name(&name)?;
    for tag in &tags {
        validate::key("tag", &tag.key)?;
        validate::value("tag", &tag.key, &tag.value, MAX_TAG_VALUE_LENGTH)?;
    }
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            if let Some(existing) = find(conn, backend, "name", name.clone().into())? {
                return Err(TrackingError::AlreadyExists(match existing.lifecycle_stage {
                    LifecycleStage::Active => format!("experiment `{name}` already exists"),
                    LifecycleStage::Deleted => format!(
                        "experiment `{name}` already exists in the deleted state; restore it or choose another name"
                    ),
                }));
            }
            let now = now_millis();
            #[derive(QueryableByName)]
            struct Id {
                #[diesel(sql_type = BigInt)]
                experiment_id: i64,
            }
            let mut insert = Sql::new(backend);
            insert
                .push("INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (")
                .bind(name.clone())
                .push(", ")
                .bind(artifact_location.clone().unwrap_or_default())
                .push(", 'active', ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(") RETURNING experiment_id");
            let id = insert.load::<Id>(conn)?.first().map(|row| row.experiment_id).ok_or_else(|| {
                TrackingError::Database(cairn_db::DbError::Corrupt("INSERT returned no id".into()))
            })?;
            // Artifacts of an experiment without a location live in the registry's own store.
            if artifact_location.as_deref().is_none_or(str::is_empty) {
                let mut update = Sql::new(backend);
                update
                    .push("UPDATE experiments SET artifact_location = ")
                    .bind(format!("mlflow-artifacts:/{id}"))
                    .push(" WHERE experiment_id = ")
                    .bind(id);
                update.execute(conn)?;
            }
            key_values::upsert(conn, backend, "experiment_tags", "experiment_id", id, &tags)?;
            Ok(id)
        })
    })
    .await
}

pub async fn experiment(db: &Database, id: &str) -> Result<Experiment, TrackingError> {
    let id = parse_id(id)?;
    let backend = db.backend();
    db.call(move |conn| {
        find(conn, backend, "experiment_id", id.into())?
            .ok_or_else(|| TrackingError::NotFound(format!("no experiment with id {id}")))
    })
    .await
}

pub async fn experiment_by_name(db: &Database, name: String) -> Result<Experiment, TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        find(conn, backend, "name", name.clone().into())?
            .ok_or_else(|| TrackingError::NotFound(format!("no experiment named `{name}`")))
    })
    .await
}

/// The experiment whose `column` equals `value`, with its tags.
pub(crate) fn find(
    conn: &mut AnyConnection,
    backend: cairn_db::Backend,
    column: &str,
    value: cairn_db::SqlValue,
) -> Result<Option<Experiment>, TrackingError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM experiments WHERE {column} = ")).bind(value);
    let rows = sql.load::<ExperimentRow>(conn)?;
    Ok(with_tags(conn, backend, rows)?.pop())
}

fn with_tags(
    conn: &mut AnyConnection,
    backend: cairn_db::Backend,
    rows: Vec<ExperimentRow>,
) -> Result<Vec<Experiment>, TrackingError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let owners = rows.iter().map(|row| row.experiment_id.into()).collect();
    let tags = key_values::load(conn, backend, "experiment_tags", "experiment_id", owners)?;
    rows.into_iter()
        .map(|row| {
            Ok(Experiment {
                id: row.experiment_id,
                tags: tags.of(&row.experiment_id.to_string()),
                name: row.name,
                artifact_location: row.artifact_location,
                lifecycle_stage: LifecycleStage::parse(&row.lifecycle_stage)?,
                creation_time: row.creation_time,
                last_update_time: row.last_update_time,
            })
        })
        .collect()
}

/// The experiment, which must exist; with `active`, it must also not be deleted.
pub(crate) fn existing(
    conn: &mut AnyConnection,
    backend: cairn_db::Backend,
    id: i64,
    active: bool,
) -> Result<Experiment, TrackingError> {
    let experiment = find(conn, backend, "experiment_id", id.into())?
        .ok_or_else(|| TrackingError::NotFound(format!("no experiment with id {id}")))?;
    if active && experiment.lifecycle_stage != LifecycleStage::Active {
        return Err(TrackingError::Invalid(format!(
            "experiment {id} must be in the active state; it is deleted"
        )));
    }
    Ok(experiment)
}

fn touch(
    conn: &mut AnyConnection,
    backend: cairn_db::Backend,
    id: i64,
    now: i64,
) -> Result<(), TrackingError> {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE experiments SET last_update_time = ").bind(now).push(" WHERE experiment_id = ").bind(id);
    sql.execute(conn)?;
    Ok(())
}

pub async fn set_experiment_tag(db: &Database, id: &str, tag: KeyValue) -> Result<(), TrackingError> {
    let id = parse_id(id)?;
    validate::key("tag", &tag.key)?;
    validate::value("tag", &tag.key, &tag.value, MAX_TAG_VALUE_LENGTH)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            existing(conn, backend, id, true)?;
            key_values::upsert(
                conn,
                backend,
                "experiment_tags",
                "experiment_id",
                id,
                std::slice::from_ref(&tag),
            )?;
            touch(conn, backend, id, now_millis())
        })
    })
    .await
}

pub async fn delete_experiment_tag(db: &Database, id: &str, key: String) -> Result<(), TrackingError> {
    let id = parse_id(id)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            existing(conn, backend, id, true)?;
            let mut sql = Sql::new(backend);
            sql.push("DELETE FROM experiment_tags WHERE experiment_id = ")
                .bind(id)
                .push(" AND key = ")
                .bind(key.clone());
            if sql.execute(conn)? == 0 {
                return Err(TrackingError::NotFound(format!("experiment {id} has no tag `{key}`")));
            }
            touch(conn, backend, id, now_millis())
        })
    })
    .await
}

pub async fn rename_experiment(db: &Database, id: &str, name: String) -> Result<(), TrackingError> {
    let id = parse_id(id)?;
    validate::experiment_name(&name)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            existing(conn, backend, id, true)?;
            if find(conn, backend, "name", name.clone().into())?.is_some_and(|other| other.id != id) {
                return Err(TrackingError::AlreadyExists(format!("experiment `{name}` already exists")));
            }
            let mut sql = Sql::new(backend);
            sql.push("UPDATE experiments SET name = ")
                .bind(name.clone())
                .push(", last_update_time = ")
                .bind(now_millis())
                .push(" WHERE experiment_id = ")
                .bind(id);
            sql.execute(conn)?;
            Ok(())
        })
    })
    .await
}

/// Deletes (softly) or restores an experiment with its runs: deleting marks the active runs
/// deleted at the same instant, and restoring brings back exactly those.
pub async fn set_experiment_stage(
    db: &Database,
    id: &str,
    stage: LifecycleStage,
) -> Result<(), TrackingError> {
    let id = parse_id(id)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let experiment = existing(conn, backend, id, false)?;
            if experiment.lifecycle_stage == stage {
                return Err(TrackingError::Invalid(format!("experiment {id} is already {}", stage.as_str())));
            }
            let now = now_millis();
            let mut runs = Sql::new(backend);
            match stage {
                LifecycleStage::Deleted => {
                    runs.push("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ")
                        .bind(now)
                        .push(" WHERE lifecycle_stage = 'active' AND experiment_id = ")
                        .bind(id);
                }
                LifecycleStage::Active => {
                    runs.push("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE deleted_time = ")
                        .bind(experiment.last_update_time)
                        .push(" AND experiment_id = ")
                        .bind(id);
                }
            }
            runs.execute(conn)?;
            let mut sql = Sql::new(backend);
            sql.push("UPDATE experiments SET lifecycle_stage = ")
                .bind(stage.as_str())
                .push(", last_update_time = ")
                .bind(now)
                .push(" WHERE experiment_id = ")
                .bind(id);
            sql.execute(conn)?;
            Ok(())
        })
    })
    .await
}

#[derive(Debug, Clone, Default)]
pub struct ExperimentSearch {
    pub filter: String,
    pub view: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

pub async fn search_experiments(
    db: &Database,
    search: ExperimentSearch,
) -> Result<Page<Experiment>, TrackingError> {
    let clauses = filter::parse_filter(&search.filter)?;
    let offset = page_offset(search.page_token.as_deref())?;
    let limit = page_size(search.max_results, 1000)?;
    let backend = db.backend();
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM experiments e WHERE e.lifecycle_stage IN "))
        .bind_list(search.view.stages().iter().copied());
    for clause in &clauses {
        sql.push(" AND ");
        match clause.key.entity {
            Entity::Tag => push_tag_clause(
                &mut sql,
                "experiment_tags",
                "experiment_id",
                "e.experiment_id",
                clause,
                false,
            )?,
            Entity::Attribute => {
                let column = attribute_column(&clause.key.name, clause.position)?;
                push_comparison(&mut sql, column, clause, column != "e.name")?;
            }
            Entity::Metric | Entity::Param | Entity::Dataset => {
                return Err(filter::FilterError::at(
                    clause.position,
                    "experiments can be filtered by attributes (name, creation_time, last_update_time) and tags",
                )
                .into());
            }
        }
    }
    let mut order = Vec::new();
    for text in &search.order_by {
        let by = filter::parse_order_by(text)?;
        if by.key.entity != Entity::Attribute {
            return Err(filter::FilterError::at(
                by.position,
                "experiments can be ordered by attributes only",
            )
            .into());
        }
        let column = attribute_column(&by.key.name, by.position)?;
        order.push(format!("{column} {}", if by.ascending { "ASC" } else { "DESC" }));
    }
    if order.is_empty() {
        order.push("e.creation_time DESC".into());
    }
    order.push("e.experiment_id ASC".into());
    push_page(&mut sql, &order, offset, limit);
    db.call(move |conn| {
        let (rows, next_page_token) = split_page(sql.load::<ExperimentRow>(conn)?, offset, limit);
        Ok(Page { items: with_tags(conn, backend, rows)?, next_page_token })
    })
    .await
}

fn attribute_column(name: &str, position: usize) -> Result<&'static str, TrackingError> {
    Ok(match name {
        "name" | "experiment_name" => "e.name",
        "experiment_id" => "e.experiment_id",
        "creation_time" => "e.creation_time",
        "last_update_time" => "e.last_update_time",
        other => {
            return Err(filter::FilterError::at(
                position,
                format!("unknown experiment attribute `{other}` (name, experiment_id, creation_time, last_update_time)"),
            )
            .into());
        }
    })
}
