//! The real `mlflow` Python client against the registry, scenario by scenario, on SQLite and on
//! PostgreSQL (tests/python/mlflow_client.py holds the scenarios and their checks).
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use cairn_service::RunningService;
use cairn_testkit::{NatsServer, TestDb};

struct Registry {
    service: Option<RunningService>,
    config: cairn_config::CairnConfig,
    _db: TestDb,
    _nats: NatsServer,
    _dir: tempfile::TempDir,
}

impl Registry {
    async fn start(db: TestDb) -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config = cairn_testkit::config(&nats.url(), Some(db.url()), dir.path(), &[]);
        let service = cairn_registry::run(config.clone()).await.unwrap();
        Self { service: Some(service), config, _db: db, _nats: nats, _dir: dir }
    }

    fn url(&self) -> String {
        self.service.as_ref().unwrap().url()
    }

    async fn restart(&mut self) {
        self.service.take().unwrap().stop().await;
        self.service = Some(cairn_registry::run(self.config.clone()).await.unwrap());
    }

    /// Runs a scenario with the mlflow client; its standard output.
    async fn scenario(&self, name: &str, args: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/mlflow_client.py");
        let output = tokio::process::Command::new(cairn_testkit::python())
            .arg(script)
            .arg(name)
            .args(args)
            .env("MLFLOW_TRACKING_URI", self.url())
            // A 5xx would otherwise be retried for minutes.
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "scenario {name} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

async fn on_each_backend(name: &str, args: &[&str]) {
    for db in TestDb::each() {
        let registry = Registry::start(db).await;
        registry.scenario(name, args).await;
    }
}

#[tokio::test]
async fn experiments_runs_params_metrics_and_tags() {
    on_each_backend("tracking", &[]).await;
}

#[tokio::test]
async fn search_runs_with_filters_ordering_and_pages() {
    on_each_backend("search", &[]).await;
}

#[tokio::test]
async fn errors_carry_mlflow_codes() {
    on_each_backend("errors", &[]).await;
}

#[tokio::test]
async fn eight_concurrent_writers_lose_no_metric_point() {
    on_each_backend("concurrent", &["8", "5"]).await;
}

#[tokio::test]
async fn a_restart_loses_nothing_acknowledged() {
    for db in TestDb::each() {
        let mut registry = Registry::start(db).await;
        let run_id = registry.scenario("create_run", &[]).await;
        registry.restart().await;
        registry.scenario("check_run", &[run_id.trim()]).await;
    }
}
