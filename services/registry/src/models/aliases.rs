//! Aliases (`champion`, `challenger`, any name) point at one version of a model; every move is
//! kept in `alias_history`, audited, and announced on the bus.

use cairn_db::{AnyConnection, Backend, Database, Sql, write_transaction};
use cairn_events::v1;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::approvals::is_protected;
use super::audit::record;
use super::registered::{self, touch};
use super::versions;
use super::{Alias, ModelError, ModelVersion, timestamp};
use crate::tracking::now_millis;
use cairn_api::{AliasAt, AliasMove};
use cairn_domain::Timestamp;

#[derive(QueryableByName)]
struct AliasRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    alias: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// The aliases of the models `names`.
pub(crate) fn aliases_of(
    conn: &mut AnyConnection,
    backend: Backend,
    names: Vec<String>,
) -> Result<Vec<(String, Alias)>, ModelError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend);
    sql.push("SELECT name, alias, version FROM model_aliases WHERE ")
        .in_text_set("name", names)
        .push(" ORDER BY alias");
    Ok(sql
        .load::<AliasRow>(conn)?
        .into_iter()
        .map(|row| (row.name, Alias { alias: row.alias, version: row.version }))
        .collect())
}

/// `latest` and `v<number>` mean something in `models:/` URIs already; an alias cannot be one.
fn check_alias(alias: &str) -> Result<(), ModelError> {
    let reserved = alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1
            && alias[1..].chars().all(|c| c.is_ascii_digit())
            && alias.starts_with(['v', 'V']));
    if reserved {
        return Err(ModelError::Invalid(format!("`{alias}` is reserved and cannot be an alias")));
    }
    if alias.is_empty()
        || alias.len() > 255
        || !alias.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(ModelError::Invalid(format!(
            "invalid alias `{alias}`: 1 to 255 letters, digits, `_` and `-`"
        )));
    }
    Ok(())
}

fn current(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    alias: &str,
) -> Result<Option<i64>, ModelError> {
    let mut sql = Sql::new(backend);
    sql.push("SELECT name, alias, version FROM model_aliases WHERE name = ")
        .bind(name)
        .push(" AND alias = ")
        .bind(alias);
    Ok(sql.load::<AliasRow>(conn)?.first().map(|row| row.version))
}

/// Moves (or with `None` removes) an alias, recording history, audit and the event together.
/// A protected alias moves only `approved` (through an approved request).
pub(crate) fn move_alias(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    alias: &str,
    version: Option<i64>,
    actor: &str,
    approved: bool,
) -> Result<(), ModelError> {
    touch(conn, backend, name)?;
    if !approved && is_protected(conn, backend, name, alias)? {
        return Err(ModelError::Forbidden(format!(
            "alias `{alias}` of `{name}` is protected: request the move (POST /v1/models/{name}/aliases/{alias}/requests \
             or `cairn models request`) and have an approver approve it"
        )));
    }
    let previous = current(conn, backend, name, alias)?;
    let mut sql = Sql::new(backend);
    match version {
        Some(version) => {
            versions::existing(conn, backend, name, version)?;
            sql.push("INSERT INTO model_aliases (name, alias, version) VALUES (")
                .bind(name)
                .push(", ")
                .bind(alias)
                .push(", ")
                .bind(version)
                .push(") ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version");
        }
        None => {
            if previous.is_none() {
                return Err(ModelError::NotFound(format!(
                    "registered model `{name}` has no alias `{alias}`"
                )));
            }
            sql.push("DELETE FROM model_aliases WHERE name = ").bind(name).push(" AND alias = ").bind(alias);
        }
    }
    sql.execute(conn)?;
    let mut history = Sql::new(backend);
    history
        .push("INSERT INTO alias_history (name, alias, version, changed_at, changed_by) VALUES (")
        .bind(name)
        .push(", ")
        .bind(alias)
        .push(", ")
        .bind(version)
        .push(", ")
        .bind(now_millis())
        .push(", ")
        .bind(actor)
        .push(")");
    history.execute(conn)?;
    let before = previous.map(|v| Alias { alias: alias.to_owned(), version: v });
    let after = version.map(|v| Alias { alias: alias.to_owned(), version: v });
    let action =
        if version.is_some() { "set_registered_model_alias" } else { "delete_registered_model_alias" };
    record(
        conn,
        backend,
        actor,
        action,
        &format!("registered_model_alias:{name}@{alias}"),
        before.as_ref(),
        after.as_ref(),
    )?;
    Outbox::stage(
        conn,
        &v1::ModelAliasChanged {
            model: name.to_owned(),
            alias: alias.to_owned(),
            previous_version: previous.unwrap_or(0),
            version: version.unwrap_or(0),
            changed_by: actor.to_owned(),
        },
    )?;
    Ok(())
}

pub async fn set_alias(
    db: &Database,
    outbox: &Outbox,
    name: String,
    alias: String,
    version: i64,
    actor: String,
) -> Result<(), ModelError> {
    check_alias(&alias)?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| move_alias(conn, backend, &name, &alias, Some(version), &actor, false))
    })
    .await?;
    outbox.wake();
    Ok(())
}

pub async fn delete_alias(
    db: &Database,
    outbox: &Outbox,
    name: String,
    alias: String,
    actor: String,
) -> Result<(), ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| move_alias(conn, backend, &name, &alias, None, &actor, false))
    })
    .await?;
    outbox.wake();
    Ok(())
}

pub async fn version_by_alias(
    db: &Database,
    name: String,
    alias: String,
) -> Result<ModelVersion, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        registered::existing(conn, backend, &name)?;
        let version = current(conn, backend, &name, &alias)?.ok_or_else(|| {
            ModelError::NotFound(format!("registered model `{name}` has no alias `{alias}`"))
        })?;
        versions::existing(conn, backend, &name, version)
    })
    .await
}

/// Every move of the alias, oldest first.
fn history(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    alias: &str,
) -> Result<Vec<AliasMove>, ModelError> {
    #[derive(QueryableByName)]
    struct Move {
        #[diesel(sql_type = Nullable<BigInt>)]
        version: Option<i64>,
        #[diesel(sql_type = BigInt)]
        changed_at: i64,
        #[diesel(sql_type = Text)]
        changed_by: String,
    }
    let mut sql = Sql::new(backend);
    sql.push("SELECT version, changed_at, changed_by FROM alias_history WHERE name = ")
        .bind(name)
        .push(" AND alias = ")
        .bind(alias)
        .push(" ORDER BY changed_at, version");
    sql.load::<Move>(conn)?
        .into_iter()
        .map(|m| {
            Ok(AliasMove {
                alias: alias.to_owned(),
                version: m.version,
                changed_at: timestamp(m.changed_at)?,
                changed_by: m.changed_by,
            })
        })
        .collect()
}

/// Which version the alias pointed at at `at` (now when `None`), with its whole history.
pub async fn alias_at(
    db: &Database,
    name: String,
    alias: String,
    at: Option<Timestamp>,
) -> Result<AliasAt, ModelError> {
    let at = at.unwrap_or_else(Timestamp::now);
    let backend = db.backend();
    db.call(move |conn| {
        registered::existing(conn, backend, &name)?;
        let history = history(conn, backend, &name, &alias)?;
        if history.is_empty() {
            return Err(ModelError::NotFound(format!(
                "registered model `{name}` never had the alias `{alias}`"
            )));
        }
        let version = history.iter().rev().find(|m| m.changed_at <= at).and_then(|m| m.version);
        Ok(AliasAt { alias, at, version, history })
    })
    .await
}
