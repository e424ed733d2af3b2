//! Registered models: a name under which versions are registered, with a description and tags.

use std::collections::HashMap;

use cairn_db::{AnyConnection, Backend, Database, Sql, write_transaction};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::aliases::aliases_of;
use super::audit::record;
use super::versions::{self, latest_per_stage};
use super::{ModelError, RegisteredModel, check_name};
use crate::artifacts::{self, Artifacts};
use crate::tracking::filter::{self, Entity, FilterError};
use crate::tracking::search::{push_comparison, push_tag_clause};
use crate::tracking::{
    KeyValue, Page, key_values, now_millis, page_offset, page_size, push_page, split_page,
};

#[derive(QueryableByName)]
pub(super) struct ModelRow {
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    #[diesel(sql_type = Text)]
    pub(super) description: String,
    #[diesel(sql_type = BigInt)]
    pub(super) creation_time: i64,
    #[diesel(sql_type = BigInt)]
    pub(super) last_update_time: i64,
}

pub(super) const COLUMNS: &str = "name, description, creation_time, last_update_time";

fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<ModelRow>,
) -> Result<Vec<RegisteredModel>, ModelError> {
    let owners = || rows.iter().map(|row| row.name.as_str().into()).collect();
    let tags = key_values::load(conn, backend, "registered_model_tags", "name", owners())?;
    let names = || rows.iter().map(|row| row.name.clone()).collect();
    let mut aliases = by_model(aliases_of(conn, backend, names())?);
    let mut latest =
        by_model(latest_per_stage(conn, backend, names())?.into_iter().map(|v| (v.name.clone(), v)));
    Ok(rows
        .into_iter()
        .map(|row| RegisteredModel {
            tags: tags.of(&row.name),
            aliases: aliases.remove(&row.name).unwrap_or_default(),
            latest_versions: latest.remove(&row.name).unwrap_or_default(),
            name: row.name,
            description: row.description,
            creation_time: row.creation_time,
            last_update_time: row.last_update_time,
        })
        .collect())
}

/// Items grouped by their owner (a model's name, a run's id), in the order given.
pub(crate) fn by_model<T>(items: impl IntoIterator<Item = (String, T)>) -> HashMap<String, Vec<T>> {
    let mut grouped: HashMap<String, Vec<T>> = HashMap::new();
    for (name, item) in items {
        grouped.entry(name).or_default().push(item);
    }
    grouped
}

pub(crate) fn existing(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
) -> Result<RegisteredModel, ModelError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM registered_models WHERE name = ")).bind(name);
    let rows = sql.load::<ModelRow>(conn)?;
    load(conn, backend, rows)?
        .pop()
        .ok_or_else(|| ModelError::NotFound(format!("no registered model named `{name}`")))
}

/// Bumps the model's update time; on PostgreSQL this also locks its row until the transaction
/// ends, which serializes version numbering.
pub(crate) fn touch(conn: &mut AnyConnection, backend: Backend, name: &str) -> Result<(), ModelError> {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE registered_models SET last_update_time = ")
        .bind(now_millis())
        .push(" WHERE name = ")
        .bind(name);
    if sql.execute(conn)? == 0 {
        return Err(ModelError::NotFound(format!("no registered model named `{name}`")));
    }
    Ok(())
}

pub(crate) fn entity(name: &str) -> String {
    format!("registered_model:{name}")
}

pub async fn create_model(
    db: &Database,
    name: String,
    description: String,
    tags: Vec<KeyValue>,
    actor: String,
) -> Result<RegisteredModel, ModelError> {
    check_name(&name)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let mut exists = Sql::new(backend);
            exists.push("SELECT name, description, creation_time, last_update_time FROM registered_models WHERE name = ").bind(name.clone());
            if !exists.load::<ModelRow>(conn)?.is_empty() {
                return Err(ModelError::AlreadyExists(format!("registered model `{name}` already exists")));
            }
            let now = now_millis();
            let mut sql = Sql::new(backend);
            sql.push(&format!("INSERT INTO registered_models ({COLUMNS}) VALUES ("))
                .bind(name.clone())
                .push(", ")
                .bind(description.clone())
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
            sql.execute(conn)?;
            key_values::upsert(conn, backend, "registered_model_tags", "name", name.as_str(), &tags)?;
            let model = existing(conn, backend, &name)?;
            record(conn, backend, &actor, "create_registered_model", &entity(&name), None::<&()>, Some(&model))?;
            Ok(model)
        })
    })
    .await
}

pub async fn model(db: &Database, name: String) -> Result<RegisteredModel, ModelError> {
    let backend = db.backend();
    db.call(move |conn| existing(conn, backend, &name)).await
}

/// Applies `change` to an existing model, audits it as `action` and returns the model after.
pub(crate) async fn change<F>(
    db: &Database,
    name: String,
    action: &'static str,
    actor: String,
    change: F,
) -> Result<RegisteredModel, ModelError>
where
    F: FnOnce(&mut AnyConnection, Backend) -> Result<Option<String>, ModelError> + Send + 'static,
{
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let before = existing(conn, backend, &name)?;
            touch(conn, backend, &name)?;
            // A rename returns the new name.
            let name = change(conn, backend)?.unwrap_or(name);
            let after = existing(conn, backend, &name)?;
            record(conn, backend, &actor, action, &entity(&before.name), Some(&before), Some(&after))?;
            Ok(after)
        })
    })
    .await
}

pub async fn rename_model(
    db: &Database,
    name: String,
    new_name: String,
    actor: String,
) -> Result<RegisteredModel, ModelError> {
    check_name(&new_name)?;
    change(db, name.clone(), "rename_registered_model", actor, move |conn, backend| {
        let mut taken = Sql::new(backend);
        taken.push("SELECT name, description, creation_time, last_update_time FROM registered_models WHERE name = ").bind(new_name.clone());
        if !taken.load::<ModelRow>(conn)?.is_empty() {
            return Err(ModelError::AlreadyExists(format!("registered model `{new_name}` already exists")));
        }
        let mut sql = Sql::new(backend);
        sql.push("UPDATE registered_models SET name = ").bind(new_name.clone()).push(" WHERE name = ").bind(name);
        sql.execute(conn)?;
        Ok(Some(new_name))
    })
    .await
}

pub async fn update_model(
    db: &Database,
    name: String,
    description: String,
    actor: String,
) -> Result<RegisteredModel, ModelError> {
    change(db, name.clone(), "update_registered_model", actor, move |conn, backend| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE registered_models SET description = ")
            .bind(description)
            .push(" WHERE name = ")
            .bind(name);
        sql.execute(conn)?;
        Ok(None)
    })
    .await
}

pub async fn set_model_tag(
    db: &Database,
    name: String,
    tag: KeyValue,
    actor: String,
) -> Result<(), ModelError> {
    crate::tracking::validate::key("tag", &tag.key)?;
    change(db, name.clone(), "set_registered_model_tag", actor, move |conn, backend| {
        key_values::upsert(conn, backend, "registered_model_tags", "name", name.as_str(), &[tag])?;
        Ok(None)
    })
    .await?;
    Ok(())
}

pub async fn delete_model_tag(
    db: &Database,
    name: String,
    key: String,
    actor: String,
) -> Result<(), ModelError> {
    change(db, name.clone(), "delete_registered_model_tag", actor, move |conn, backend| {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM registered_model_tags WHERE name = ")
            .bind(name.clone())
            .push(" AND key = ")
            .bind(key.clone());
        if sql.execute(conn)? == 0 {
            return Err(ModelError::NotFound(format!("registered model `{name}` has no tag `{key}`")));
        }
        Ok(None)
    })
    .await?;
    Ok(())
}

/// Deletes a model with its versions, tags and aliases (the audit log keeps what they were).
pub async fn delete_model(
    db: &Database,
    artifacts: &Artifacts,
    name: String,
    actor: String,
) -> Result<(), ModelError> {
    let backend = db.backend();
    let paths = db.call(move |conn| {
        write_transaction(conn, |conn| {
            let before = existing(conn, backend, &name)?;
            let paths = versions::delete_files_of(conn, backend, &name, None)?;
            for table in ["model_aliases", "registered_model_tags"] {
                let mut sql = Sql::new(backend);
                sql.push(&format!("DELETE FROM {table} WHERE name = ")).bind(name.clone());
                sql.execute(conn)?;
            }
            let mut tags = Sql::new(backend);
            tags.push("DELETE FROM model_version_tags WHERE version_id IN (SELECT id FROM model_versions WHERE name = ")
                .bind(name.clone())
                .push(")");
            tags.execute(conn)?;
            for table in ["model_versions", "registered_models"] {
                let mut sql = Sql::new(backend);
                sql.push(&format!("DELETE FROM {table} WHERE name = ")).bind(name.clone());
                sql.execute(conn)?;
            }
            record(conn, backend, &actor, "delete_registered_model", &entity(&name), Some(&before), None::<&()>)?;
            Ok::<_, ModelError>(paths)
        })
    })
    .await?;
    artifacts::delete_objects(artifacts, &paths).await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ModelSearch {
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

pub async fn search_models(db: &Database, search: ModelSearch) -> Result<Page<RegisteredModel>, ModelError> {
    let clauses = filter::parse_filter(&search.filter).map_err(crate::tracking::TrackingError::from)?;
    let offset = page_offset(search.page_token.as_deref())?;
    let limit = page_size(search.max_results, 100)?;
    let backend = db.backend();
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM registered_models r WHERE 1 = 1"));
    for clause in &clauses {
        sql.push(" AND ");
        match (clause.key.entity, clause.key.name.as_str()) {
            (Entity::Attribute, "name") => push_comparison(&mut sql, "r.name", clause, false)?,
            (Entity::Tag, _) => {
                push_tag_clause(&mut sql, "registered_model_tags", "name", "r.name", clause, true)?
            }
            _ => {
                return Err(crate::tracking::TrackingError::from(FilterError::at(
                    clause.position,
                    "registered models are filtered by name and tags",
                ))
                .into());
            }
        }
    }
    let mut order = Vec::new();
    for text in &search.order_by {
        let by = filter::parse_order_by(text).map_err(crate::tracking::TrackingError::from)?;
        let column = match by.key.name.as_str() {
            "name" => "r.name",
            "timestamp" | "last_updated_timestamp" => "r.last_update_time",
            "creation_timestamp" => "r.creation_time",
            other => {
                return Err(ModelError::Invalid(format!(
                    "cannot order registered models by `{other}` (name, timestamp, last_updated_timestamp)"
                )));
            }
        };
        order.push(format!("{column} {}", if by.ascending { "ASC" } else { "DESC" }));
    }
    order.push("r.name ASC".into());
    push_page(&mut sql, &order, offset, limit);
    db.call(move |conn| {
        let (rows, next_page_token) = split_page(sql.load::<ModelRow>(conn)?, offset, limit);
        Ok(Page { items: load(conn, backend, rows)?, next_page_token })
    })
    .await
}
