//! The transactional outbox: events written beside the state change they describe, published by
//! the service's relay, deleted once JetStream has stored them.

use diesel::prelude::*;

use crate::schema::outbox::{self, dsl};
use crate::{AnyConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxEvent {
    pub event_id: String,
    pub subject: String,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
    pub created_at: i64,
}

/// Adds an event; call inside the transaction that makes the change.
pub fn enqueue(conn: &mut AnyConnection, event: &OutboxEvent) -> Result<(), DbError> {
    diesel::insert_into(dsl::outbox).values(event).execute(conn)?;
    Ok(())
}

/// The oldest unpublished events, in the order they were written.
pub fn oldest(conn: &mut AnyConnection, limit: i64) -> Result<Vec<OutboxEvent>, DbError> {
    Ok(dsl::outbox
        .order((dsl::created_at.asc(), dsl::event_id.asc()))
        .limit(limit)
        .select(OutboxEvent::as_select())
        .load(conn)?)
}

/// Removes published events.
pub fn remove(conn: &mut AnyConnection, event_ids: &[String]) -> Result<(), DbError> {
    diesel::delete(dsl::outbox.filter(dsl::event_id.eq_any(event_ids))).execute(conn)?;
    Ok(())
}
