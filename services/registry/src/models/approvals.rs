//! Protected aliases: an approver protects an alias of a model; from then on it moves only
//! when someone requests the move and an approver other than the requester approves it. Every
//! step is audited and announced on the bus.

use cairn_api::AliasRequest;
use cairn_db::{AnyConnection, Backend, Database, Sql, write_transaction};
use cairn_events::v1;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::aliases::move_alias;
use super::audit::record;
use super::registered::touch;
use super::{ModelError, timestamp, versions};
use crate::tracking::now_millis;

/// Who may approve: the configured approvers.
#[derive(Debug, Clone, Default)]
pub struct Approvers(pub Vec<String>);

impl Approvers {
    fn check(&self, actor: &str, what: &str) -> Result<(), ModelError> {
        if self.0.iter().any(|approver| approver == actor) {
            Ok(())
        } else {
            Err(ModelError::Forbidden(format!(
                "{what} needs an approver (registry.approvers); `{actor}` is not one"
            )))
        }
    }
}

pub(crate) fn is_protected(
    conn: &mut AnyConnection,
    backend: Backend,
    name: &str,
    alias: &str,
) -> Result<bool, ModelError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = Sql::new(backend);
    sql.push("SELECT COUNT(*) AS n FROM protected_aliases WHERE name = ")
        .bind(name)
        .push(" AND alias = ")
        .bind(alias);
    Ok(sql.load::<Count>(conn)?.first().is_some_and(|c| c.n > 0))
}

pub async fn set_protection(
    db: &Database,
    approvers: &Approvers,
    name: String,
    alias: String,
    protected: bool,
    actor: String,
) -> Result<(), ModelError> {
    approvers.check(&actor, "protecting an alias")?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            touch(conn, backend, &name)?;
            let mut sql = Sql::new(backend);
            if protected {
                sql.push("INSERT INTO protected_aliases (name, alias, protected_by, protected_at) VALUES (")
                    .bind(name.clone())
                    .push(", ")
                    .bind(alias.clone())
                    .push(", ")
                    .bind(actor.clone())
                    .push(", ")
                    .bind(now_millis())
                    .push(") ON CONFLICT (name, alias) DO NOTHING");
            } else {
                sql.push("DELETE FROM protected_aliases WHERE name = ")
                    .bind(name.clone())
                    .push(" AND alias = ")
                    .bind(alias.clone());
            }
            sql.execute(conn)?;
            let action = if protected { "protect_alias" } else { "unprotect_alias" };
            let state = serde_json::json!({"protected": protected});
            record(
                conn,
                backend,
                &actor,
                action,
                &format!("registered_model_alias:{name}@{alias}"),
                None::<&()>,
                Some(&state),
            )
        })
    })
    .await
}

#[derive(QueryableByName)]
struct RequestRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    alias: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    requested_by: String,
    #[diesel(sql_type = BigInt)]
    requested_at: i64,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Nullable<Text>)]
    decided_by: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    decided_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    decision_reason: Option<String>,
}

impl RequestRow {
    fn request(self) -> Result<AliasRequest, ModelError> {
        Ok(AliasRequest {
            id: self.id,
            model: self.name,
            alias: self.alias,
            version: self.version,
            requested_by: self.requested_by,
            requested_at: timestamp(self.requested_at)?,
            reason: self.reason,
            state: self.state,
            decided_by: self.decided_by,
            decided_at: self.decided_at.map(timestamp).transpose()?,
            decision_reason: self.decision_reason,
        })
    }
}

const COLUMNS: &str = "id, name, alias, version, requested_by, requested_at, reason, state, decided_by, decided_at, decision_reason";

fn find(conn: &mut AnyConnection, backend: Backend, id: &str) -> Result<AliasRequest, ModelError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM alias_requests WHERE id = ")).bind(id);
    sql.load::<RequestRow>(conn)?
        .pop()
        .ok_or_else(|| ModelError::NotFound(format!("no alias request {id}")))?
        .request()
}

/// Asks for `alias` of `name` to point at `version`.
pub async fn request_move(
    db: &Database,
    outbox: &Outbox,
    name: String,
    alias: String,
    version: i64,
    reason: String,
    actor: String,
) -> Result<AliasRequest, ModelError> {
    let backend = db.backend();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let request = db
        .call(move |conn| {
            write_transaction(conn, |conn| {
                touch(conn, backend, &name)?;
                versions::existing(conn, backend, &name, version)?;
                if !is_protected(conn, backend, &name, &alias)? {
                    return Err(ModelError::Invalid(format!(
                        "alias `{alias}` of `{name}` is not protected: set it directly"
                    )));
                }
                let mut sql = Sql::new(backend);
                sql.push(&format!("INSERT INTO alias_requests ({COLUMNS}) VALUES ("))
                    .bind(id.clone())
                    .push(", ")
                    .bind(name.clone())
                    .push(", ")
                    .bind(alias.clone())
                    .push(", ")
                    .bind(version)
                    .push(", ")
                    .bind(actor.clone())
                    .push(", ")
                    .bind(now_millis())
                    .push(", ")
                    .bind(reason.clone())
                    .push(", 'pending', NULL, NULL, NULL)");
                sql.execute(conn)?;
                let request = find(conn, backend, &id)?;
                record(
                    conn,
                    backend,
                    &actor,
                    "request_alias_move",
                    &format!("alias_request:{id}"),
                    None::<&()>,
                    Some(&request),
                )?;
                Outbox::stage(
                    conn,
                    &v1::ApprovalRequested {
                        request_id: id.clone(),
                        model: name.clone(),
                        alias: alias.clone(),
                        version,
                        requested_by: actor.clone(),
                        reason: reason.clone(),
                    },
                )?;
                Ok::<_, ModelError>(request)
            })
        })
        .await?;
    outbox.wake();
    Ok(request)
}

/// Approves (moving the alias) or rejects a pending request. The approver must be one, and not
/// the person who asked.
pub async fn decide(
    db: &Database,
    outbox: &Outbox,
    approvers: &Approvers,
    id: String,
    approve: bool,
    reason: String,
    actor: String,
) -> Result<AliasRequest, ModelError> {
    approvers.check(&actor, "deciding on an alias request")?;
    let backend = db.backend();
    let decided = db
        .call(move |conn| {
            write_transaction(conn, |conn| {
                let before = find(conn, backend, &id)?;
                if before.state != "pending" {
                    return Err(ModelError::Conflict(format!(
                        "alias request {id} is already {}",
                        before.state
                    )));
                }
                if before.requested_by == actor {
                    return Err(ModelError::Forbidden(format!(
                        "`{actor}` asked for this move; another approver must decide it"
                    )));
                }
                if approve {
                    move_alias(
                        conn,
                        backend,
                        &before.model,
                        &before.alias,
                        Some(before.version),
                        &actor,
                        true,
                    )?;
                }
                let mut sql = Sql::new(backend);
                sql.push("UPDATE alias_requests SET state = ")
                    .bind(if approve { "approved" } else { "rejected" })
                    .push(", decided_by = ")
                    .bind(actor.clone())
                    .push(", decided_at = ")
                    .bind(now_millis())
                    .push(", decision_reason = ")
                    .bind(reason.clone())
                    .push(" WHERE id = ")
                    .bind(id.clone());
                sql.execute(conn)?;
                let after = find(conn, backend, &id)?;
                let action = if approve { "approve_alias_move" } else { "reject_alias_move" };
                record(
                    conn,
                    backend,
                    &actor,
                    action,
                    &format!("alias_request:{id}"),
                    Some(&before),
                    Some(&after),
                )?;
                Outbox::stage(
                    conn,
                    &v1::ApprovalDecided {
                        request_id: id.clone(),
                        model: after.model.clone(),
                        alias: after.alias.clone(),
                        version: after.version,
                        approved: approve,
                        decided_by: actor.clone(),
                        reason: reason.clone(),
                    },
                )?;
                Ok::<_, ModelError>(after)
            })
        })
        .await?;
    outbox.wake();
    Ok(decided)
}

/// Requests, oldest first; only those in `state` when given.
pub async fn requests(db: &Database, state: Option<String>) -> Result<Vec<AliasRequest>, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {COLUMNS} FROM alias_requests"));
        if let Some(state) = state {
            sql.push(" WHERE state = ").bind(state);
        }
        sql.push(" ORDER BY requested_at, id");
        sql.load::<RequestRow>(conn)?.into_iter().map(RequestRow::request).collect()
    })
    .await
}
