//! The append-only audit log: who changed what, when, and the entity before and after.

use cairn_api::AuditEntry;
use cairn_db::{AnyConnection, Backend, Database, DbError, Sql};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

use super::{ModelError, timestamp};
use crate::tracking::now_millis;

#[derive(QueryableByName)]
struct AuditRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    /// Milliseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Text)]
    actor: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    entity: String,
    #[diesel(sql_type = Nullable<Text>)]
    before_json: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    after_json: Option<String>,
}

impl AuditRow {
    fn entry(self) -> Result<AuditEntry, DbError> {
        let seq = self.seq;
        let json = |text: Option<String>| {
            text.map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|error| DbError::Corrupt(format!("audit entry {seq}: {error}")))
        };
        Ok(AuditEntry {
            seq,
            at: timestamp(self.at)?,
            actor: self.actor,
            action: self.action,
            entity: self.entity,
            before: json(self.before_json)?,
            after: json(self.after_json)?,
        })
    }
}

/// Which part of the log to read.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Only this entity (`registered_model:<name>`, `model_version:<name>/<version>`).
    pub entity: Option<String>,
    /// Only entries after this sequence number (for paging).
    pub after: i64,
    /// At most this many, 1 to `AuditQuery::MAX_LIMIT`.
    pub limit: i64,
}

impl AuditQuery {
    pub const DEFAULT_LIMIT: i64 = 1000;
    pub const MAX_LIMIT: i64 = 10_000;
}

/// Serializes what an entity was or became. Every audited value is a plain struct of strings,
/// numbers and string-keyed maps, which JSON always represents.
#[expect(clippy::unwrap_used, reason = "audited values always serialize to JSON (see above)")]
fn json<T: Serialize>(value: Option<&T>) -> Option<String> {
    value.map(|value| serde_json::to_string(value).unwrap())
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
        .bind(json(before))
        .push(", ")
        .bind(json(after))
        .push(")");
    sql.execute(conn)?;
    Ok(())
}

/// The log, oldest first. A stored entry that no longer reads back is reported as corruption.
pub async fn audit_log(db: &Database, query: AuditQuery) -> Result<Vec<AuditEntry>, ModelError> {
    if !(1..=AuditQuery::MAX_LIMIT).contains(&query.limit) {
        return Err(ModelError::Invalid(format!("limit must be between 1 and {}", AuditQuery::MAX_LIMIT)));
    }
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(
            "SELECT seq, at, actor, action, entity, before_json, after_json FROM audit_log WHERE seq > ",
        )
        .bind(query.after);
        if let Some(entity) = query.entity {
            sql.push(" AND entity = ").bind(entity);
        }
        sql.push(" ORDER BY seq LIMIT ").bind(query.limit);
        Ok(sql.load::<AuditRow>(conn)?.into_iter().map(AuditRow::entry).collect::<Result<_, _>>()?)
    })
    .await
}
