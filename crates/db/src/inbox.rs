//! Exactly-once effects for at-least-once delivery: a consumer records each event id it applied
//! in the same transaction as the effect, and skips ids it has seen.

use diesel::prelude::*;

use crate::schema::processed_events::dsl;
use crate::{AnyConnection, DbError};

/// Applies `effect` in a transaction unless `consumer` already applied `event_id`.
/// Returns `None` when the event was a duplicate.
pub fn apply_once<T>(
    conn: &mut AnyConnection,
    consumer: &str,
    event_id: &str,
    effect: impl FnOnce(&mut AnyConnection) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    crate::write_transaction(conn, |conn| {
        let seen: i64 = dsl::processed_events
            .filter(dsl::consumer.eq(consumer).and(dsl::event_id.eq(event_id)))
            .count()
            .get_result(conn)?;
        if seen > 0 {
            return Ok(None);
        }
        let output = effect(conn)?;
        // A concurrent duplicate fails here on the primary key and rolls the effect back.
        diesel::insert_into(dsl::processed_events)
            .values((
                dsl::consumer.eq(consumer),
                dsl::event_id.eq(event_id),
                dsl::processed_at.eq(cairn_domain::Timestamp::now().as_micros()),
            ))
            .execute(conn)?;
        Ok(Some(output))
    })
}

/// How many events `consumer` has applied.
pub fn processed_count(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    Ok(dsl::processed_events.filter(dsl::consumer.eq(consumer)).count().get_result(conn)?)
}
