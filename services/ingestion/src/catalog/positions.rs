//! Where each stream reader stands (`stream_positions`): committed with the reader's effects.

use cairn_db::{AnyConnection, DbError};
use diesel::prelude::*;

/// The last stream sequence `consumer` committed (0 before the first).
pub(crate) fn position(conn: &mut AnyConnection, consumer: &str) -> Result<i64, DbError> {
    use crate::schema::stream_positions::dsl;
    Ok(dsl::stream_positions.find(consumer).select(dsl::last_sequence).first(conn).optional()?.unwrap_or(0))
}

pub(crate) fn set_position(conn: &mut AnyConnection, consumer: &str, sequence: i64) -> Result<(), DbError> {
    use crate::schema::stream_positions::dsl;
    let updated = diesel::update(dsl::stream_positions.find(consumer))
        .set(dsl::last_sequence.eq(sequence))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(dsl::stream_positions)
            .values((dsl::consumer.eq(consumer), dsl::last_sequence.eq(sequence)))
            .execute(conn)?;
    }
    Ok(())
}
