use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness as _, embed_migrations};

use crate::AnyConnection;
use crate::database::DbError;

/// One crate's migrations, written once per backend (their SQL dialects differ).
#[derive(Clone, Copy)]
pub struct Migrations {
    pub name: &'static str,
    pub sqlite: &'static EmbeddedMigrations,
    pub postgres: &'static EmbeddedMigrations,
}

/// Lets a `&'static EmbeddedMigrations` be run (diesel wants an owned source).
struct Source(&'static EmbeddedMigrations);

impl<DB: Backend> MigrationSource<DB> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

/// The shared tables every service has (inbox, outbox).
pub(crate) const SHARED: Migrations = Migrations {
    name: "cairn-db",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

impl Migrations {
    pub(crate) fn apply(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        let applied = match conn {
            AnyConnection::Sqlite(conn) => conn.run_pending_migrations(Source(self.sqlite)).map(|v| v.len()),
            AnyConnection::Postgresql(conn) => {
                conn.run_pending_migrations(Source(self.postgres)).map(|v| v.len())
            }
        }
        .map_err(|error| DbError::Migration(format!("{}: {error}", self.name)))?;
        if applied > 0 {
            tracing::info!(migrations = self.name, applied, "database migrated");
        }
        Ok(())
    }

    pub(crate) fn pending(&self, conn: &mut AnyConnection) -> Result<bool, DbError> {
        match conn {
            AnyConnection::Sqlite(conn) => conn.has_pending_migration(Source(self.sqlite)),
            AnyConnection::Postgresql(conn) => conn.has_pending_migration(Source(self.postgres)),
        }
        .map_err(|error| DbError::Migration(format!("{}: {error}", self.name)))
    }
}
