//! Model versions: numbered per registered model, immutable once created. A version's files
//! are copied under `registered/<version id>/` of the artifact store when it is created, so
//! nothing done later to the run or logged model it came from changes what it serves.

use std::collections::HashMap;

use cairn_db::{AnyConnection, Backend, Database, DbError, Sql, write_transaction};
use cairn_events::v1;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::aliases::aliases_of;
use super::audit::record;
use super::onnx;
use super::registered::{self, touch};
use super::{ModelError, ModelVersion, Stage};
use crate::artifacts::{self, Artifacts};
use crate::tracking::filter::{self, Entity, FilterError};
use crate::tracking::search::{push_comparison, push_tag_clause};
use crate::tracking::{
    self, KeyValue, Page, TrackingError, key_values, now_millis, page_offset, page_size, push_page,
    split_page,
};

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    creation_time: i64,
    #[diesel(sql_type = BigInt)]
    last_update_time: i64,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    source: String,
    #[diesel(sql_type = Nullable<Text>)]
    run_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    run_link: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    model_id: Option<String>,
    #[diesel(sql_type = Text)]
    storage_location: String,
    #[diesel(sql_type = Text)]
    current_stage: String,
    #[diesel(sql_type = Nullable<Text>)]
    signature: Option<String>,
}

const COLUMNS: &str = "id, name, version, creation_time, last_update_time, description, user_id, source, run_id, \
                       run_link, model_id, storage_location, current_stage, signature";

fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<VersionRow>,
) -> Result<Vec<ModelVersion>, ModelError> {
    let tags = key_values::load(
        conn,
        backend,
        "model_version_tags",
        "version_id",
        rows.iter().map(|r| r.id.as_str().into()).collect(),
    )?;
    let mut aliases: HashMap<(String, i64), Vec<String>> = HashMap::new();
    for (name, alias) in aliases_of(conn, backend, rows.iter().map(|row| row.name.clone()).collect())? {
        aliases.entry((name, alias.version)).or_default().push(alias.alias);
    }
    rows.into_iter()
        .map(|row| {
            Ok(ModelVersion {
                tags: tags.of(&row.id),
                aliases: aliases.remove(&(row.name.clone(), row.version)).unwrap_or_default(),
                current_stage: Stage::stored(&row.current_stage)?,
                signature: row.signature.map(|json| serde_json::from_str(&json)).transpose().map_err(
                    |error| DbError::Corrupt(format!("signature of model version {}: {error}", row.id)),
                )?,
                id: row.id,
                name: row.name,
                version: row.version,
                creation_time: row.creation_time,
                last_update_time: row.last_update_time,
                description: row.description,
                user_id: row.user_id,
                source: row.source,
                run_id: row.run_id,
                run_link: row.run_link,
                model_id: row.model_id,
                storage_location: row.storage_location,
            })
        })
        .collect()
}

pub(crate) fn existing(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    version: i64,
) -> Result<ModelVersion, ModelError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM model_versions WHERE name = "))
        .bind(name)
        .push(" AND version = ")
        .bind(version);
    let rows = sql.load::<VersionRow>(conn)?;
    load(conn, backend, rows)?
        .pop()
        .ok_or_else(|| ModelError::NotFound(format!("registered model `{name}` has no version {version}")))
}

/// The newest version in each stage of each of the models `names`, by model and version: one
/// statement however many models a page holds.
pub(crate) fn latest_per_stage(
    conn: &mut AnyConnection,
    backend: Backend,
    names: Vec<String>,
) -> Result<Vec<ModelVersion>, ModelError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM model_versions v WHERE "))
        .in_text_set("v.name", names)
        .push(" AND version = (SELECT MAX(version) FROM model_versions w WHERE w.name = v.name AND w.current_stage = v.current_stage) ORDER BY v.name, v.version");
    let rows = sql.load::<VersionRow>(conn)?;
    load(conn, backend, rows)
}

pub(crate) fn entity(name: &str, version: i64) -> String {
    format!("model_version:{name}/{version}")
}

#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub name: String,
    /// `models:/<logged model id>`, `runs:/<run id>/<path>`, `mlflow-artifacts:/...`, or an
    /// external URI (kept as a reference, not copied).
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: String,
    pub tags: Vec<KeyValue>,
    pub model_id: Option<String>,
    pub user_id: String,
}

/// The artifact-store path an `mlflow-artifacts:` URI names.
fn store_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, path)| path),
        None => rest,
    };
    Some(rest.trim_matches('/').to_owned())
}

/// Where a source's files are in the artifact store (if they are), and the run and logged
/// model it implies.
async fn resolve_source(
    db: &Database,
    source: &str,
) -> Result<(Option<String>, Option<String>, Option<String>), ModelError> {
    if let Some(model_id) =
        source.strip_prefix("models:/").filter(|id| id.starts_with("m-") && !id.contains('/'))
    {
        let model = tracking::logged_model(db, model_id.to_owned()).await?;
        return Ok((store_path(&model.artifact_uri), model.source_run_id, Some(model.model_id)));
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (run_id, path) = rest.trim_start_matches('/').split_once('/').unwrap_or((rest, ""));
        let run = tracking::run(db, run_id.to_owned()).await?;
        let root = store_path(&run.info.artifact_uri);
        let path = path.trim_matches('/');
        let location = root.map(|root| if path.is_empty() { root } else { format!("{root}/{path}") });
        return Ok((location, Some(run.info.run_id), None));
    }
    Ok((store_path(source), None, None))
}

pub async fn create_version(
    db: &Database,
    outbox: &Outbox,
    artifacts: &Artifacts,
    new: NewVersion,
    actor: String,
) -> Result<ModelVersion, ModelError> {
    for tag in &new.tags {
        tracking::validate::key("tag", &tag.key)?;
    }
    registered::model(db, new.name.clone()).await?;
    let (location, source_run, source_model) = resolve_source(db, &new.source).await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (storage_location, files) = match &location {
        Some(from) => {
            let to = format!("registered/{id}");
            let files = artifacts::copy_tree(db, artifacts, from.clone(), to.clone()).await?;
            if files.is_empty() {
                return Err(ModelError::Invalid(format!("source `{}` has no files", new.source)));
            }
            (format!("mlflow-artifacts:/{to}"), files)
        }
        None => (new.source.clone(), Vec::new()),
    };
    let run_id = new.run_id.clone().filter(|id| !id.is_empty()).or(source_run);
    let model_id = new.model_id.clone().filter(|id| !id.is_empty()).or(source_model);
    let onnx = onnx_file(&files);
    let onnx_sha256 = onnx.map(|file| file.sha256.clone()).unwrap_or_default();
    let signature = match onnx {
        Some(file) => read_signature(artifacts, file).await,
        None => None,
    };
    let backend = db.backend();
    let created = db
        .call(move |conn| {
            write_transaction(conn, |conn| {
                touch(conn, backend, &new.name)?;
                #[derive(QueryableByName)]
                struct Max {
                    #[diesel(sql_type = Nullable<BigInt>)]
                    version: Option<i64>,
                }
                let mut max = Sql::new(backend);
                max.push("SELECT MAX(version) AS version FROM model_versions WHERE name = ")
                    .bind(new.name.clone());
                let version = max.load::<Max>(conn)?.first().and_then(|m| m.version).unwrap_or(0) + 1;
                let now = now_millis();
                let mut sql = Sql::new(backend);
                sql.push(&format!("INSERT INTO model_versions ({COLUMNS}) VALUES ("));
                sql.bind(id.clone()).push(", ").bind(new.name.clone()).push(", ").bind(version).push(", ");
                sql.bind(now).push(", ").bind(now).push(", ").bind(new.description.clone()).push(", ");
                sql.bind(new.user_id.clone())
                    .push(", ")
                    .bind(new.source.clone())
                    .push(", ")
                    .bind(run_id.clone());
                sql.push(", ").bind(new.run_link.clone()).push(", ").bind(model_id.clone()).push(", ");
                sql.bind(storage_location.clone()).push(", 'None', ").bind(signature.clone()).push(")");
                sql.execute(conn)?;
                key_values::upsert(
                    conn,
                    backend,
                    "model_version_tags",
                    "version_id",
                    id.as_str(),
                    &new.tags,
                )?;
                artifacts::insert_files(conn, backend, &files)?;
                let created = existing(conn, backend, &new.name, version)?;
                record(
                    conn,
                    backend,
                    &actor,
                    "create_model_version",
                    &entity(&new.name, version),
                    None::<&()>,
                    Some(&created),
                )?;
                Outbox::stage(
                    conn,
                    &v1::ModelVersionCreated {
                        model: new.name.clone(),
                        version,
                        run_id: run_id.clone().unwrap_or_default(),
                        artifact_uri: storage_location.clone(),
                        artifact_sha256: onnx_sha256.clone(),
                    },
                )?;
                Ok::<_, ModelError>(created)
            })
        })
        .await?;
    outbox.wake();
    Ok(created)
}

/// The ONNX model file of a version whose files the registry stores (none for a version
/// registered from a URI it does not store, or without an `.onnx` file).
pub(crate) async fn model_file(
    db: &Database,
    storage_location: &str,
) -> Result<Option<cairn_api::ModelFile>, ModelError> {
    let Some(root) = store_path(storage_location) else { return Ok(None) };
    let files = artifacts::files_under(db, root).await?;
    Ok(onnx_file(&files).map(|file| cairn_api::ModelFile {
        path: file.path.clone(),
        bytes: file.bytes,
        sha256: file.sha256.clone(),
    }))
}

/// The version's ONNX model: the `.onnx` file nearest the root (MLflow's ONNX flavour keeps
/// `model.onnx` beside `MLmodel`), the first by path among equals.
fn onnx_file(files: &[artifacts::CopiedFile]) -> Option<&artifacts::CopiedFile> {
    files
        .iter()
        .filter(|file| file.path.ends_with(".onnx"))
        .min_by_key(|file| (file.path.matches('/').count(), file.path.as_str()))
}

/// The signature of the ONNX model `file`, as JSON, streamed from the store (and checked against
/// its hash). A file that is not a readable model gets none, and a warning: the version is
/// still created, as MLflow would create it.
async fn read_signature(artifacts: &Artifacts, file: &artifacts::CopiedFile) -> Option<String> {
    use futures::TryStreamExt as _;
    let path = cairn_objects::ObjectPath::from(file.path.as_str());
    let bytes = cairn_objects::get_verified(&artifacts.store, &path, file.bytes as u64, file.sha256.clone())
        .map_err(std::io::Error::other)
        .into_async_read();
    match onnx::signature(Box::pin(bytes)).await {
        Ok(signature) => Some(signature_json(&signature)),
        Err(error) => {
            tracing::warn!(file = %file.path, %error, "model version without a signature");
            None
        }
    }
}

#[expect(
    clippy::unwrap_used,
    reason = "a signature is names, type strings and integers: JSON represents them all"
)]
fn signature_json(signature: &cairn_api::OnnxSignature) -> String {
    serde_json::to_string(signature).unwrap()
}

pub async fn version(db: &Database, name: String, version: i64) -> Result<ModelVersion, ModelError> {
    let backend = db.backend();
    db.call(move |conn| existing(conn, backend, &name, version)).await
}

/// Applies `change` to an existing version, audits it and returns the version after.
async fn change<F>(
    db: &Database,
    name: String,
    version: i64,
    action: &'static str,
    actor: String,
    change: F,
) -> Result<ModelVersion, ModelError>
where
    F: FnOnce(&mut AnyConnection, Backend, &ModelVersion) -> Result<(), ModelError> + Send + 'static,
{
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            touch(conn, backend, &name)?;
            let before = existing(conn, backend, &name, version)?;
            change(conn, backend, &before)?;
            let mut sql = Sql::new(backend);
            sql.push("UPDATE model_versions SET last_update_time = ")
                .bind(now_millis())
                .push(" WHERE id = ")
                .bind(before.id.clone());
            sql.execute(conn)?;
            let after = existing(conn, backend, &name, version)?;
            record(conn, backend, &actor, action, &entity(&name, version), Some(&before), Some(&after))?;
            Ok(after)
        })
    })
    .await
}

/// Only the description of a version changes; what it is never does.
pub async fn update_version(
    db: &Database,
    name: String,
    version: i64,
    description: String,
    actor: String,
) -> Result<ModelVersion, ModelError> {
    change(db, name, version, "update_model_version", actor, move |conn, backend, v| {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE model_versions SET description = ")
            .bind(description)
            .push(" WHERE id = ")
            .bind(v.id.clone());
        sql.execute(conn)?;
        Ok(())
    })
    .await
}

pub async fn set_version_tag(
    db: &Database,
    name: String,
    version: i64,
    tag: KeyValue,
    actor: String,
) -> Result<(), ModelError> {
    tracking::validate::key("tag", &tag.key)?;
    change(db, name, version, "set_model_version_tag", actor, move |conn, backend, v| {
        key_values::upsert(conn, backend, "model_version_tags", "version_id", v.id.as_str(), &[tag])?;
        Ok(())
    })
    .await?;
    Ok(())
}

pub async fn delete_version_tag(
    db: &Database,
    name: String,
    version: i64,
    key: String,
    actor: String,
) -> Result<(), ModelError> {
    change(db, name, version, "delete_model_version_tag", actor, move |conn, backend, v| {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM model_version_tags WHERE version_id = ")
            .bind(v.id.clone())
            .push(" AND key = ")
            .bind(key.clone());
        if sql.execute(conn)? == 0 {
            return Err(ModelError::NotFound(format!(
                "version {} of `{}` has no tag `{key}`",
                v.version, v.name
            )));
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Moves a version to a stage; with `archive_existing`, the versions in that stage (Staging or
/// Production) move to Archived.
pub async fn transition_stage(
    db: &Database,
    outbox: &Outbox,
    name: String,
    version: i64,
    stage: Stage,
    archive_existing: bool,
    actor: String,
) -> Result<ModelVersion, ModelError> {
    let changed_by = actor.clone();
    let moved =
        change(db, name, version, "transition_model_version_stage", actor, move |conn, backend, v| {
            if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
                let mut others = Sql::new(backend);
                others
                    .push("UPDATE model_versions SET current_stage = 'Archived' WHERE name = ")
                    .bind(v.name.clone())
                    .push(" AND current_stage = ")
                    .bind(stage.as_str())
                    .push(" AND version <> ")
                    .bind(v.version);
                others.execute(conn)?;
            }
            let mut sql = Sql::new(backend);
            sql.push("UPDATE model_versions SET current_stage = ")
                .bind(stage.as_str())
                .push(" WHERE id = ")
                .bind(v.id.clone());
            sql.execute(conn)?;
            Outbox::stage(
                conn,
                &v1::ModelStageChanged {
                    model: v.name.clone(),
                    version: v.version,
                    previous_stage: v.current_stage.as_str().to_owned(),
                    stage: stage.as_str().to_owned(),
                    changed_by: changed_by.clone(),
                },
            )?;
            Ok(())
        })
        .await?;
    outbox.wake();
    Ok(moved)
}

/// Paths of the registered copies of a model's versions (or of one), with their index rows
/// removed; the caller deletes the files once the transaction has committed.
pub(crate) fn delete_files_of(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    version: Option<i64>,
) -> Result<Vec<String>, ModelError> {
    let mut ids = Sql::new(backend);
    ids.push(&format!("SELECT {COLUMNS} FROM model_versions WHERE name = ")).bind(name);
    if let Some(version) = version {
        ids.push(" AND version = ").bind(version);
    }
    let mut paths = Vec::new();
    for row in ids.load::<VersionRow>(conn)? {
        paths.extend(artifacts::remove_index_under(conn, backend, &format!("registered/{}", row.id))?);
    }
    Ok(paths)
}

pub async fn delete_version(
    db: &Database,
    artifacts: &Artifacts,
    name: String,
    version: i64,
    actor: String,
) -> Result<(), ModelError> {
    let backend = db.backend();
    let paths = db
        .call(move |conn| {
            write_transaction(conn, |conn| {
                touch(conn, backend, &name)?;
                let before = existing(conn, backend, &name, version)?;
                let paths = delete_files_of(conn, backend, &name, Some(version))?;
                let mut aliases = Sql::new(backend);
                aliases
                    .push("DELETE FROM model_aliases WHERE name = ")
                    .bind(name.clone())
                    .push(" AND version = ")
                    .bind(version);
                aliases.execute(conn)?;
                let mut tags = Sql::new(backend);
                tags.push("DELETE FROM model_version_tags WHERE version_id = ").bind(before.id.clone());
                tags.execute(conn)?;
                let mut sql = Sql::new(backend);
                sql.push("DELETE FROM model_versions WHERE id = ").bind(before.id.clone());
                sql.execute(conn)?;
                record(
                    conn,
                    backend,
                    &actor,
                    "delete_model_version",
                    &entity(&name, version),
                    Some(&before),
                    None::<&()>,
                )?;
                Ok::<_, ModelError>(paths)
            })
        })
        .await?;
    artifacts::delete_objects(artifacts, &paths).await?;
    Ok(())
}

/// Where the version's files can be downloaded from.
pub async fn download_uri(db: &Database, name: String, version: i64) -> Result<String, ModelError> {
    Ok(self::version(db, name, version).await?.storage_location)
}

/// The newest version in each of `stages` (every stage when empty).
pub async fn latest_versions(
    db: &Database,
    name: String,
    stages: Vec<Stage>,
) -> Result<Vec<ModelVersion>, ModelError> {
    let model = registered::model(db, name).await?;
    Ok(model
        .latest_versions
        .into_iter()
        .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
        .collect())
}

#[derive(Debug, Clone, Default)]
pub struct VersionSearch {
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

fn attribute(name: &str, position: usize) -> Result<(&'static str, bool), ModelError> {
    Ok(match name {
        "name" => ("v.name", false),
        "run_id" => ("v.run_id", false),
        "source" | "source_path" => ("v.source", false),
        "model_id" => ("v.model_id", false),
        "current_stage" => ("v.current_stage", false),
        "version_number" | "version" => ("v.version", true),
        "creation_timestamp" => ("v.creation_time", true),
        "last_updated_timestamp" | "timestamp" => ("v.last_update_time", true),
        other => {
            return Err(TrackingError::from(FilterError::at(
                position,
                format!("unknown model version attribute `{other}` (name, run_id, source_path, model_id, current_stage, version_number)"),
            ))
            .into());
        }
    })
}

pub async fn search_versions(db: &Database, search: VersionSearch) -> Result<Page<ModelVersion>, ModelError> {
    let clauses = filter::parse_filter(&search.filter).map_err(TrackingError::from)?;
    let offset = page_offset(search.page_token.as_deref())?;
    let limit = page_size(search.max_results, 10_000)?;
    let backend = db.backend();
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM model_versions v WHERE 1 = 1"));
    for clause in &clauses {
        sql.push(" AND ");
        match clause.key.entity {
            Entity::Attribute => {
                let (column, numeric) = attribute(&clause.key.name, clause.position)?;
                push_comparison(&mut sql, column, clause, numeric)?;
            }
            Entity::Tag => {
                push_tag_clause(&mut sql, "model_version_tags", "version_id", "v.id", clause, true)?
            }
            _ => {
                return Err(TrackingError::from(FilterError::at(
                    clause.position,
                    "model versions are filtered by attributes and tags",
                ))
                .into());
            }
        }
    }
    let mut order = Vec::new();
    for text in &search.order_by {
        let by = filter::parse_order_by(text).map_err(TrackingError::from)?;
        let (column, _) = attribute(&by.key.name, by.position)?;
        order.push(format!("{column} {}", if by.ascending { "ASC" } else { "DESC" }));
    }
    order.push("v.name ASC".into());
    order.push("v.version DESC".into());
    push_page(&mut sql, &order, offset, limit);
    db.call(move |conn| {
        let (rows, next_page_token) = split_page(sql.load::<VersionRow>(conn)?, offset, limit);
        Ok(Page { items: load(conn, backend, rows)?, next_page_token })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::store_path;

    #[test]
    fn artifact_uris_name_store_paths() {
        assert_eq!(store_path("mlflow-artifacts:/0/abc/artifacts").as_deref(), Some("0/abc/artifacts"));
        assert_eq!(
            store_path("mlflow-artifacts://host:5000/0/models/m-1/artifacts/").as_deref(),
            Some("0/models/m-1/artifacts")
        );
        assert_eq!(store_path("s3://bucket/x"), None);
    }
}
