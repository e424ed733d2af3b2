use std::fmt;
use std::path::PathBuf;

use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, ConnectionError, PgConnection, SqliteConnection};

/// A connection to either backend; queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A parsed database URL: `sqlite://PATH` (relative or absolute) or `postgres://…`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            // PostgreSQL URLs carry passwords: never print them.
            DatabaseUrl::Postgres(_) => f.write_str("postgres://[redacted]"),
        }
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Option<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return (!path.is_empty()).then(|| DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        (url.starts_with("postgres://") || url.starts_with("postgresql://"))
            .then(|| DatabaseUrl::Postgres(url.to_owned()))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn establish(&self, namespace: &str) -> Result<AnyConnection, ConnectionError> {
        match self {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // WAL lets readers proceed during writes; the busy timeout makes concurrent
                // writers from the pool wait for each other instead of failing; the memory map
                // lets reads use the file's pages in place instead of copying each one out of
                // the kernel (searches read thousands).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 1073741824;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                // Services may share one PostgreSQL database; each keeps its tables (and its
                // migration history) in a schema of its own.
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{namespace}\"; SET search_path TO \"{namespace}\""
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Postgresql(conn))
            }
        }
    }
}

/// r2d2 manager that opens the backend the URL names (the derive's own `establish` would try
/// each backend in turn).
pub(crate) struct Manager {
    pub(crate) url: DatabaseUrl,
    /// PostgreSQL schema holding this service's tables; a plain identifier.
    pub(crate) namespace: String,
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        self.url.establish(&self.namespace)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1").map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _: &mut AnyConnection) -> bool {
        false
    }
}
