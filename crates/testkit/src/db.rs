use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};

/// A database of a test's own, removed when dropped.
pub enum TestDb {
    Sqlite { url: String, _dir: tempfile::TempDir },
    Postgres { url: String, admin_url: String, name: String },
}

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb::Sqlite { url, _dir: dir }
    }

    /// Creates a fresh database on the PostgreSQL server of `CAIRN_TEST_POSTGRES_URL`.
    pub fn postgres() -> Self {
        let admin_url = std::env::var("CAIRN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
        let name = format!("cairn_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|error| {
            panic!(
                "cannot reach PostgreSQL ({error}); start it (apt install postgresql) or set \
                 CAIRN_TEST_POSTGRES_URL"
            )
        });
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        TestDb::Postgres { url, admin_url, name }
    }

    /// Both backends, for tests that must hold on each.
    pub fn each() -> [TestDb; 2] {
        [TestDb::sqlite(), TestDb::postgres()]
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            TestDb::Sqlite { .. } => "sqlite",
            TestDb::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name, .. } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}
