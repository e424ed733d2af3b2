//! Registered models as Cairn's own API shows them: each with its tags, aliases and every
//! version, newest first, and one version with its lineage. A listing costs the same four
//! statements for one model or ten thousand.

use std::collections::{BTreeMap, HashMap};

use cairn_api::{Model, ModelVersionSummary};
use cairn_db::{AnyConnection, Backend, Database, Sql};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::aliases::aliases_of;
use super::registered::{COLUMNS, ModelRow, by_model};
use super::{ModelError, Stage, lineage, timestamp, versions};
use crate::tracking::{MAX_RESULTS, key_values};

#[derive(QueryableByName)]
struct SummaryRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    creation_time: i64,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    current_stage: String,
    #[diesel(sql_type = Nullable<Text>)]
    run_id: Option<String>,
}

/// Every registered model (the first `MAX_RESULTS` by name) with its versions.
pub async fn list_models(db: &Database) -> Result<Vec<Model>, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM registered_models ORDER BY name LIMIT ")).bind(MAX_RESULTS);
        let rows = sql.load::<ModelRow>(conn)?;
        overviews(conn, backend, rows)
    })
    .await
}

/// One registered model with its versions.
pub async fn model_overview(db: &Database, name: String) -> Result<Model, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM registered_models WHERE name = ")).bind(name.clone());
        let rows = sql.load::<ModelRow>(conn)?;
        overviews(conn, backend, rows)?
            .pop()
            .ok_or_else(|| ModelError::NotFound(format!("no registered model named `{name}`")))
    })
    .await
}

/// The models of `rows` with their tags, aliases and versions: three statements for all of them.
fn overviews(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<ModelRow>,
) -> Result<Vec<Model>, ModelError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let names = || rows.iter().map(|row| row.name.clone());
    let tags =
        key_values::load(conn, backend, "registered_model_tags", "name", names().map(Into::into).collect())?;
    let aliases = aliases_of(conn, backend, names().collect())?;
    let mut aliases_of_version: HashMap<(String, i64), Vec<String>> = HashMap::new();
    for (name, alias) in &aliases {
        aliases_of_version.entry((name.clone(), alias.version)).or_default().push(alias.alias.clone());
    }
    let mut sql = Sql::new(backend);
    sql.push(
        "SELECT name, version, creation_time, user_id, current_stage, run_id FROM model_versions WHERE ",
    )
    .in_text_set("name", names())
    .push(" ORDER BY name, version DESC");
    let mut versions = HashMap::<String, Vec<ModelVersionSummary>>::new();
    for row in sql.load::<SummaryRow>(conn)? {
        let summary = ModelVersionSummary {
            version: row.version,
            created_at: timestamp(row.creation_time)?,
            created_by: row.user_id,
            stage: Stage::stored(&row.current_stage)?.as_str().to_owned(),
            aliases: aliases_of_version.remove(&(row.name.clone(), row.version)).unwrap_or_default(),
            run_id: row.run_id,
        };
        versions.entry(row.name).or_default().push(summary);
    }
    let mut aliases = by_model(aliases);
    rows.into_iter()
        .map(|row| {
            Ok(Model {
                created_at: timestamp(row.creation_time)?,
                updated_at: timestamp(row.last_update_time)?,
                tags: tags.of(&row.name).into_iter().map(|t| (t.key, t.value)).collect(),
                aliases: aliases
                    .remove(&row.name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| (a.alias, a.version))
                    .collect::<BTreeMap<_, _>>(),
                versions: versions.remove(&row.name).unwrap_or_default(),
                name: row.name,
                description: row.description,
            })
        })
        .collect()
}

/// A version with what is behind it: run, parameters, metrics, code version, datasets.
pub async fn version_detail(
    db: &Database,
    name: String,
    version: i64,
) -> Result<cairn_api::ModelVersion, ModelError> {
    let version = versions::version(db, name, version).await?;
    let lineage = lineage::lineage(db, &version).await?;
    let model_file = versions::model_file(db, &version.storage_location).await?;
    Ok(cairn_api::ModelVersion {
        created_at: timestamp(version.creation_time)?,
        stage: version.current_stage.as_str().to_owned(),
        tags: version.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        name: version.name,
        version: version.version,
        created_by: version.user_id,
        description: version.description,
        source: version.source,
        storage_location: version.storage_location,
        aliases: version.aliases,
        model_id: version.model_id,
        lineage,
        signature: version.signature,
        model_file,
    })
}
