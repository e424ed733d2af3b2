use std::time::Duration;

use diesel::connection::SimpleConnection as _;

use crate::connection::Manager;
use crate::migrations::SHARED;
use crate::{AnyConnection, Backend, DatabaseUrl, Migrations};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database url must be sqlite://PATH or postgres://…")]
    InvalidUrl,
    #[error("database namespace `{0}` must be lowercase letters, digits and `_`")]
    InvalidNamespace(String),
    #[error("cannot create the directory for the SQLite file: {0}")]
    Directory(std::io::Error),
    #[error("cannot connect to the {backend} database: {reason}")]
    Connect { backend: Backend, reason: String },
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database task was cancelled")]
    Cancelled,
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl DbError {
    /// The database cannot be reached or has no connection to spare: trying again later may
    /// succeed (HTTP answers 503, a consumer naks). Anything else is a bug or damaged data.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Connect { .. } | DbError::Pool(_) | DbError::Cancelled => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            DbError::InvalidUrl
            | DbError::InvalidNamespace(_)
            | DbError::Directory(_)
            | DbError::Query(_)
            | DbError::Migration(_)
            | DbError::Corrupt(_) => false,
        }
    }
}

/// A pooled, migrated database.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    migrations: Vec<Migrations>,
}

impl Database {
    /// Opens a pool on `url` and applies the shared migrations and `migrations` (the service's).
    /// On PostgreSQL everything lives in the schema `namespace` (one per service).
    pub async fn connect(
        url: &str,
        pool_size: u32,
        namespace: &str,
        migrations: &[Migrations],
    ) -> Result<Self, DbError> {
        let url = DatabaseUrl::parse(url).ok_or(DbError::InvalidUrl)?;
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if namespace.is_empty() || !namespace.chars().all(plain) {
            return Err(DbError::InvalidNamespace(namespace.to_owned()));
        }
        if let DatabaseUrl::Sqlite(path) = &url
            && let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(DbError::Directory)?;
        }
        let backend = url.backend();
        let migrations: Vec<_> = std::iter::once(SHARED).chain(migrations.iter().copied()).collect();
        let all = migrations.clone();
        let namespace = namespace.to_owned();
        tokio::task::spawn_blocking(move || {
            let pool = r2d2::Pool::builder()
                .max_size(pool_size)
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(10))
                .build(Manager { url, namespace })
                .map_err(|error| DbError::Connect { backend, reason: error.to_string() })?;
            let mut conn = pool.get().map_err(|error| DbError::Pool(error.to_string()))?;
            for set in &all {
                set.apply(&mut conn)?;
            }
            Ok(Self { pool, backend, migrations })
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `work` on a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, DbError> + Send + 'static,
    {
        self.call(work).await
    }

    /// Like [`Database::run`], for work with an error type of its own.
    pub async fn call<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|error| DbError::Pool(error.to_string()))?;
            work(&mut conn)
        })
        .await
        .map_err(|_| DbError::Cancelled)?
    }

    /// What keeps the database from serving: empty when it is reachable and fully migrated.
    pub async fn readiness(&self) -> Vec<String> {
        let migrations = self.migrations.clone();
        let checked = self
            .run(move |conn| {
                conn.batch_execute("SELECT 1")?;
                let mut pending = Vec::new();
                for set in &migrations {
                    if set.pending(conn)? {
                        pending.push(format!("database: migrations of {} pending", set.name));
                    }
                }
                Ok(pending)
            })
            .await;
        checked.unwrap_or_else(|error| vec![format!("database: {error}")])
    }
}
