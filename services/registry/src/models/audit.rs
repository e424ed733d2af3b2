//! The append-only audit log: who changed what, when, and the entity before and after.

use cairn_db::{AnyConnection, Backend, Database, Sql};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

use super::ModelError;
use crate::tracking::now_millis;

#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName)]
pub struct AuditRecord {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    /// Milliseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub at: i64,
    #[diesel(sql_type = Text)]
    pub actor: String,
    #[diesel(sql_type = Text)]
    pub action: String,
    /// `registered_model:<name>` or `model_version:<name>/<version>`.
    #[diesel(sql_type = Text)]
    pub entity: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub before_json: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub after_json: Option<String>,
}

/// Records a change; call inside the transaction that makes it.
pub(crate) fn record<B: Serialize, A: Serialize>(
    conn: &mut AnyConnection,
    backend: Backend,
    actor: &str,
    action: &str,
    entity: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), ModelError> {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO audit_log (at, actor, action, entity, before_json, after_json) VALUES (")
        .bind(now_millis())
        .push(", ")
        .bind(actor)
        .push(", ")
        .bind(action)
        .push(", ")
        .bind(entity)
        .push(", ")
        .bind(before.and_then(|b| serde_json::to_string(b).ok()))
        .push(", ")
        .bind(after.and_then(|a| serde_json::to_string(a).ok()))
        .push(")");
    sql.execute(conn)?;
    Ok(())
}

/// The log, oldest first, optionally of entities starting with `entity` and after `after_seq`.
pub async fn audit_log(
    db: &Database,
    entity: Option<String>,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(
            "SELECT seq, at, actor, action, entity, before_json, after_json FROM audit_log WHERE seq > ",
        )
        .bind(after_seq);
        if let Some(entity) = entity {
            sql.push(" AND entity = ").bind(entity);
        }
        sql.push(" ORDER BY seq LIMIT ").bind(limit);
        Ok(sql.load::<AuditRecord>(conn)?)
    })
    .await
}
