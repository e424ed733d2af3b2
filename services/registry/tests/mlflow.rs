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
        Self::start_with(db, &[]).await
    }

    async fn start_with(db: TestDb, extra: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config = cairn_testkit::config(&nats.url(), Some(db.url()), dir.path(), extra);
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

    /// Runs a scenario with the mlflow client; the last line it printed (the client prints
    /// links to runs before it).
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
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout.lines().last().unwrap_or_default().trim().to_owned()
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
async fn artifacts_stream_stay_inside_their_run_and_are_verified() {
    for db in TestDb::each() {
        let registry = Registry::start_with(db, &[("CAIRN__REGISTRY__MAX_ARTIFACT_BYTES", "4194304")]).await;
        let run_id = &registry.scenario("artifacts", &[]).await;
        let root = registry.config.artifacts_root().join(format!("0/{run_id}/artifacts"));
        // A file changed behind the registry's back, or swapped for a symlink to a file outside,
        // no longer matches its recorded hash: the download fails instead of serving it.
        std::fs::write(root.join("notes.txt"), "tampered").unwrap();
        registry.scenario("download_fails", &[run_id, "notes.txt"]).await;
        std::fs::remove_file(root.join("meta.json")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("meta.json")).unwrap();
        registry.scenario("download_fails", &[run_id, "meta.json"]).await;
    }
}

#[tokio::test]
async fn log_model_creates_uploads_and_finalizes_a_logged_model() {
    on_each_backend("logged_models", &[]).await;
}

#[tokio::test]
async fn registered_models_versions_aliases_and_stages() {
    on_each_backend("registry", &[]).await;
}

#[tokio::test]
async fn a_restart_loses_nothing_acknowledged() {
    for db in TestDb::each() {
        let mut registry = Registry::start(db).await;
        let run_id = registry.scenario("create_run", &[]).await;
        registry.restart().await;
        registry.scenario("check_run", &[&run_id]).await;
    }
}
