use diesel::Connection as _;
use diesel::connection::{AnsiTransactionManager, TransactionManager as _};

use crate::AnyConnection;

/// Runs `work` in a transaction meant to write. On SQLite it begins `IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads and then writes fails at once with
/// "database is locked" when another connection writes meanwhile (SQLite cannot wait there
/// without risking a deadlock), while an immediate one waits its turn (busy timeout).
pub fn write_transaction<T, E: From<diesel::result::Error>>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    let AnyConnection::Sqlite(inner) = conn else {
        return conn.transaction(work);
    };
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => {
            if let AnyConnection::Sqlite(inner) = conn {
                AnsiTransactionManager::commit_transaction(inner)?;
            }
            Ok(value)
        }
        Err(error) => {
            if let AnyConnection::Sqlite(inner) = conn {
                let _ = AnsiTransactionManager::rollback_transaction(inner);
            }
            Err(error)
        }
    }
}
