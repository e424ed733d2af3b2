//! The whole platform under test.
#![expect(clippy::unwrap_used, reason = "a test harness fails loudly")]

use std::time::{Duration, Instant};

use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};
use cairn_testkit::{NatsServer, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

pub struct Platform {
    pub nats: NatsServer,
    pub config: CairnConfig,
    pub services: Vec<RunningService>,
    pub dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

/// Starts the service `kind` in this process.
pub async fn start_service(kind: ServiceKind, config: CairnConfig) -> Result<RunningService, StartError> {
    match kind {
        ServiceKind::Ingestion => cairn_ingestion::run(config).await,
        ServiceKind::FeatureStore => cairn_feature_store::run(config).await,
        ServiceKind::Training => cairn_training::run(config).await,
        ServiceKind::Registry => cairn_registry::run(config).await,
        ServiceKind::Serving => cairn_serving::run(config).await,
        ServiceKind::Monitor => cairn_monitor::run(config).await,
    }
}

impl Platform {
    pub async fn start(store: Store) -> Self {
        Self::start_with(store, &ServiceKind::ALL, &[]).await
    }

    /// Starts `kinds` with extra `CAIRN__…` settings.
    pub async fn start_with(store: Store, kinds: &[ServiceKind], extra: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let db = (store == Store::Postgres).then(TestDb::postgres);
        let config = cairn_testkit::config(&nats.url(), db.as_ref().map(TestDb::url), dir.path(), extra);
        let _ = cairn_telemetry::init("cairn-e2e", &config.telemetry);
        let mut platform = Self { nats, config, services: Vec::new(), dir, _db: db };
        for kind in kinds {
            let service = start_service(*kind, platform.config.clone()).await.unwrap();
            // Services listen on free ports: the ones started after it reach it at its own.
            platform.config.services.get_mut(*kind).url = service.url();
            platform.services.push(service);
        }
        platform
    }

    pub fn service(&self, kind: ServiceKind) -> &RunningService {
        self.services.iter().find(|s| s.kind == kind).unwrap()
    }

    pub fn client(&self, kind: ServiceKind) -> Client {
        Client::new(self.service(kind).url())
    }

    /// The database URL `kind` uses, for looking at its state from a test.
    pub fn database_url(&self, kind: ServiceKind) -> String {
        self.config.database_url(kind).expose().unwrap().to_owned()
    }

    /// Stops one service, as if its process had gone away.
    pub async fn stop_service(&mut self, kind: ServiceKind) {
        let at = self.services.iter().position(|s| s.kind == kind).unwrap();
        self.services.remove(at).stop().await;
    }

    /// Stops and restarts one service on the same configuration (and database).
    pub async fn restart(&mut self, kind: ServiceKind) {
        let at = self.services.iter().position(|s| s.kind == kind).unwrap();
        self.services.remove(at).stop().await;
        self.services.push(start_service(kind, self.config.clone()).await.unwrap());
    }

    pub async fn stop(self) {
        for service in self.services {
            service.stop().await;
        }
    }
}

/// Polls `check` until it returns `Some`, failing the test after 60 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
