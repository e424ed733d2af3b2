//! MLflow 3 logged models: a model's files with the run that produced them, its parameters and
//! tags, created PENDING and finalized READY (or FAILED) once its files are uploaded.

use cairn_db::{AnyConnection, Backend, Database, Sql, write_transaction};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::experiments::{self, parse_id};
use super::filter::{self, Entity, FilterError};
use super::names::random_run_name;
use super::search::{push_comparison, push_tag_clause};
use super::validate::{self, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH};
use super::{
    KeyValue, Page, TrackingError, key_values, now_millis, page_offset, page_size, push_page, runs,
    split_page,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStatus {
    Pending,
    Ready,
    Failed,
}

impl ModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Pending => "PENDING",
            ModelStatus::Ready => "READY",
            ModelStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [ModelStatus::Pending, ModelStatus::Ready, ModelStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub artifact_uri: String,
    pub status: ModelStatus,
    pub status_message: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(QueryableByName)]
struct ModelRow {
    #[diesel(sql_type = Text)]
    model_id: String,
    #[diesel(sql_type = BigInt)]
    experiment_id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    artifact_uri: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    status_message: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    model_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    source_run_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    creation_time: i64,
    #[diesel(sql_type = BigInt)]
    last_update_time: i64,
}

const COLUMNS: &str = "model_id, experiment_id, name, artifact_uri, status, status_message, model_type, \
                       source_run_id, creation_time, last_update_time";

fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<ModelRow>,
) -> Result<Vec<LoggedModel>, TrackingError> {
    let owners = || rows.iter().map(|row| row.model_id.as_str().into()).collect();
    let params = key_values::load(conn, backend, "logged_model_params", "model_id", owners())?;
    let tags = key_values::load(conn, backend, "logged_model_tags", "model_id", owners())?;
    rows.into_iter()
        .map(|row| {
            Ok(LoggedModel {
                status: ModelStatus::parse(&row.status).ok_or_else(|| {
                    cairn_db::DbError::Corrupt(format!("logged model status `{}`", row.status))
                })?,
                params: params.of(&row.model_id),
                tags: tags.of(&row.model_id),
                model_id: row.model_id,
                experiment_id: row.experiment_id,
                name: row.name,
                artifact_uri: row.artifact_uri,
                status_message: row.status_message,
                model_type: row.model_type,
                source_run_id: row.source_run_id,
                creation_time: row.creation_time,
                last_update_time: row.last_update_time,
            })
        })
        .collect()
}

/// The model, which must exist and not be deleted.
pub(crate) fn existing(
    conn: &mut AnyConnection,
    backend: Backend,
    model_id: &str,
) -> Result<LoggedModel, TrackingError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {COLUMNS} FROM logged_models WHERE lifecycle_stage = 'active' AND model_id = "
    ))
    .bind(model_id);
    let rows = sql.load::<ModelRow>(conn)?;
    load(conn, backend, rows)?
        .pop()
        .ok_or_else(|| TrackingError::NotFound(format!("no logged model with id {model_id}")))
}

#[derive(Debug, Clone, Default)]
pub struct NewLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

fn validate_items(kind: &str, items: &[KeyValue], limit: usize) -> Result<(), TrackingError> {
    for item in items {
        validate::key(kind, &item.key)?;
        validate::value(kind, &item.key, &item.value, limit)?;
    }
    Ok(())
}

pub async fn create_logged_model(db: &Database, new: NewLoggedModel) -> Result<LoggedModel, TrackingError> {
    let experiment_id = parse_id(&new.experiment_id)?;
    validate_items("param", &new.params, MAX_PARAM_VALUE_LENGTH)?;
    validate_items("tag", &new.tags, MAX_TAG_VALUE_LENGTH)?;
    let name = new.name.filter(|name| !name.is_empty()).unwrap_or_else(random_run_name);
    let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let experiment = experiments::existing(conn, backend, experiment_id, true)?;
            if let Some(run_id) = &new.source_run_id {
                runs::existing(conn, backend, run_id, false)?;
            }
            let artifact_uri =
                format!("{}/models/{model_id}/artifacts", experiment.artifact_location.trim_end_matches('/'));
            let now = now_millis();
            let mut sql = Sql::new(backend);
            sql.push(&format!("INSERT INTO logged_models ({COLUMNS}, lifecycle_stage) VALUES ("))
                .bind(model_id.clone())
                .push(", ")
                .bind(experiment_id)
                .push(", ")
                .bind(name.clone())
                .push(", ")
                .bind(artifact_uri)
                .push(", 'PENDING', NULL, ")
                .bind(new.model_type.clone())
                .push(", ")
                .bind(new.source_run_id.clone())
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(", 'active')");
            sql.execute(conn)?;
            key_values::upsert(
                conn,
                backend,
                "logged_model_params",
                "model_id",
                model_id.as_str(),
                &new.params,
            )?;
            key_values::upsert(conn, backend, "logged_model_tags", "model_id", model_id.as_str(), &new.tags)?;
            existing(conn, backend, &model_id)
        })
    })
    .await
}

pub async fn logged_model(db: &Database, model_id: String) -> Result<LoggedModel, TrackingError> {
    let backend = db.backend();
    db.call(move |conn| existing(conn, backend, &model_id)).await
}

/// Runs `change` on an existing model in a transaction, bumps its update time and returns it.
async fn change<F>(db: &Database, model_id: String, change: F) -> Result<LoggedModel, TrackingError>
where
    F: FnOnce(&mut AnyConnection, Backend, &LoggedModel) -> Result<(), TrackingError> + Send + 'static,
{
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let model = existing(conn, backend, &model_id)?;
            change(conn, backend, &model)?;
            let mut sql = Sql::new(backend);
            sql.push("UPDATE logged_models SET last_update_time = ")
                .bind(now_millis())
                .push(" WHERE model_id = ")
                .bind(model_id.clone());
            sql.execute(conn)?;
            existing(conn, backend, &model_id)
        })
    })
    .await
}

pub async fn finalize_logged_model(
    db: &Database,
    model_id: String,
    status: ModelStatus,
) -> Result<LoggedModel, TrackingError> {
    if status == ModelStatus::Pending {
        return Err(TrackingError::Invalid(
            "a logged model is finalized READY or FAILED, not PENDING".into(),
        ));
    }
    change(db, model_id, move |conn, backend, model| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE logged_models SET status = ")
            .bind(status.as_str())
            .push(" WHERE model_id = ")
            .bind(model.model_id.clone());
        sql.execute(conn)?;
        Ok(())
    })
    .await
}

pub async fn set_logged_model_tags(
    db: &Database,
    model_id: String,
    tags: Vec<KeyValue>,
) -> Result<(), TrackingError> {
    validate_items("tag", &tags, MAX_TAG_VALUE_LENGTH)?;
    change(db, model_id, move |conn, backend, model| {
        key_values::upsert(conn, backend, "logged_model_tags", "model_id", model.model_id.as_str(), &tags)
    })
    .await?;
    Ok(())
}

pub async fn delete_logged_model_tag(
    db: &Database,
    model_id: String,
    key: String,
) -> Result<(), TrackingError> {
    change(db, model_id, move |conn, backend, model| {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM logged_model_tags WHERE model_id = ")
            .bind(model.model_id.clone())
            .push(" AND key = ")
            .bind(key.clone());
        if sql.execute(conn)? == 0 {
            return Err(TrackingError::NotFound(format!(
                "logged model {} has no tag `{key}`",
                model.model_id
            )));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Parameters are written once, as a run's are.
pub async fn log_logged_model_params(
    db: &Database,
    model_id: String,
    params: Vec<KeyValue>,
) -> Result<(), TrackingError> {
    validate_items("param", &params, MAX_PARAM_VALUE_LENGTH)?;
    change(db, model_id, move |conn, backend, model| {
        for param in &params {
            if let Some(before) = model.params.iter().find(|p| p.key == param.key && p.value != param.value) {
                return Err(TrackingError::Invalid(format!(
                    "param `{}` of logged model {} is `{}`; changing it is not allowed",
                    param.key, model.model_id, before.value
                )));
            }
        }
        key_values::upsert(conn, backend, "logged_model_params", "model_id", model.model_id.as_str(), &params)
    })
    .await?;
    Ok(())
}

pub async fn delete_logged_model(db: &Database, model_id: String) -> Result<(), TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE logged_models SET lifecycle_stage = 'deleted', last_update_time = ")
            .bind(now_millis())
            .push(" WHERE lifecycle_stage = 'active' AND model_id = ")
            .bind(model_id.clone());
        if sql.execute(conn)? == 0 {
            return Err(TrackingError::NotFound(format!("no logged model with id {model_id}")));
        }
        Ok(())
    })
    .await
}

/// Records that `run_id` produced these models (at a step each).
pub async fn log_outputs(
    db: &Database,
    run_id: String,
    models: Vec<(String, i64)>,
) -> Result<(), TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            runs::existing(conn, backend, &run_id, true)?;
            for (model_id, step) in &models {
                existing(conn, backend, model_id)?;
                let mut sql = Sql::new(backend);
                sql.push("INSERT INTO run_outputs (run_uuid, model_id, step) VALUES (")
                    .bind(run_id.clone())
                    .push(", ")
                    .bind(model_id.clone())
                    .push(", ")
                    .bind(*step)
                    .push(") ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step");
                sql.execute(conn)?;
            }
            Ok(())
        })
    })
    .await
}

#[derive(Debug, Clone, Default)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub max_results: Option<i64>,
    /// Field names (`name`, `creation_timestamp`, …) and whether ascending.
    pub order_by: Vec<(String, bool)>,
    pub page_token: Option<String>,
}

pub async fn search_logged_models(
    db: &Database,
    search: LoggedModelSearch,
) -> Result<Page<LoggedModel>, TrackingError> {
    let experiments = search.experiment_ids.iter().map(|id| parse_id(id)).collect::<Result<Vec<_>, _>>()?;
    let clauses = filter::parse_filter(&search.filter)?;
    let offset = page_offset(search.page_token.as_deref())?;
    let limit = page_size(search.max_results, 100)?;
    let backend = db.backend();
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM logged_models m WHERE m.lifecycle_stage = 'active'"));
    if !experiments.is_empty() {
        sql.push(" AND m.experiment_id IN ").bind_list(experiments);
    }
    for clause in &clauses {
        sql.push(" AND ");
        match clause.key.entity {
            Entity::Attribute => {
                let (column, numeric) = attribute(&clause.key.name, clause.position)?;
                push_comparison(&mut sql, column, clause, numeric)?;
            }
            Entity::Tag => {
                push_tag_clause(&mut sql, "logged_model_tags", "model_id", "m.model_id", clause, false)?
            }
            Entity::Param => {
                push_tag_clause(&mut sql, "logged_model_params", "model_id", "m.model_id", clause, false)?
            }
            Entity::Metric | Entity::Dataset => {
                return Err(FilterError::at(
                    clause.position,
                    "logged models are filtered by attributes, tags and params",
                )
                .into());
            }
        }
    }
    let mut order = Vec::new();
    for (field, ascending) in &search.order_by {
        let (column, _) = attribute(field.strip_prefix("attributes.").unwrap_or(field), 1)?;
        order.push(format!("{column} {}", if *ascending { "ASC" } else { "DESC" }));
    }
    order.push("m.creation_time DESC".into());
    order.push("m.model_id ASC".into());
    push_page(&mut sql, &order, offset, limit);
    db.call(move |conn| {
        let (rows, next_page_token) = split_page(sql.load::<ModelRow>(conn)?, offset, limit);
        Ok(Page { items: load(conn, backend, rows)?, next_page_token })
    })
    .await
}

fn attribute(name: &str, position: usize) -> Result<(&'static str, bool), TrackingError> {
    Ok(match name {
        "name" => ("m.name", false),
        "model_id" => ("m.model_id", false),
        "source_run_id" => ("m.source_run_id", false),
        "status" => ("m.status", false),
        "model_type" => ("m.model_type", false),
        "creation_timestamp" | "creation_time" => ("m.creation_time", true),
        "last_updated_timestamp" | "last_update_time" => ("m.last_update_time", true),
        other => {
            return Err(FilterError::at(
                position,
                format!(
                    "unknown logged model attribute `{other}` (name, model_id, source_run_id, status, model_type, \
                     creation_timestamp, last_updated_timestamp)"
                ),
            )
            .into());
        }
    })
}
