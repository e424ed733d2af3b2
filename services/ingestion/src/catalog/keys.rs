//! The key digests of datasets with unique keys (`dataset_keys`), one event day at a time.

use cairn_db::{AnyConnection, DbError, Sql};
use cairn_records::Validator;
use diesel::prelude::*;

use super::corrupt;

/// The key digests committed for `dataset` on event day `day` (see `dataset_keys`).
pub(crate) fn keys_of_day(conn: &mut AnyConnection, dataset: &str, day: i32) -> Result<Vec<u128>, DbError> {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Binary)]
        digest: Vec<u8>,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT digest FROM dataset_keys WHERE dataset = ")
        .bind(dataset)
        .push(" AND day = ")
        .bind(i64::from(day));
    sql.load::<Key>(conn)?
        .into_iter()
        .map(|key| {
            <[u8; 16]>::try_from(key.digest.as_slice())
                .map(u128::from_be_bytes)
                .map_err(|_| corrupt("key digest", "not 16 bytes"))
        })
        .collect()
}

/// What recording a batch's keys found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum KeysRecorded {
    /// Every key was new.
    All,
    /// Some key was there already: a concurrent batch committed it after this one read its day.
    Conflict,
}

/// Records the keys a batch committed. Inside the commit's transaction: on a conflict the
/// transaction must not commit.
pub(crate) fn insert_keys(
    conn: &mut AnyConnection,
    dataset: &str,
    keys: &[u128],
) -> Result<KeysRecorded, DbError> {
    // Three values a row; SQLite allows 32 766 bound values in a statement.
    for chunk in keys.chunks(2048) {
        let mut sql = Sql::new(conn.backend());
        sql.push("INSERT INTO dataset_keys (dataset, day, digest) VALUES ");
        for (i, digest) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" })
                .bind(dataset)
                .push(", ")
                .bind(i64::from(Validator::digest_day(*digest)))
                .push(", ")
                .bind(digest.to_be_bytes().to_vec())
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        let inserted = sql.execute(conn)?;
        if inserted < chunk.len() {
            return Ok(KeysRecorded::Conflict);
        }
    }
    Ok(KeysRecorded::All)
}
