#![doc = include_str!("../README.md")]

mod api;
mod batches;
mod catalog;
mod datasets;
mod handoffs;
mod paging;
mod schema;
mod sink;
mod stream;
mod versions;

use std::path::PathBuf;

use cairn_config::{CairnConfig, S3Config};
use cairn_db::Migrations;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, ServiceContext, StartError};
use cairn_storage::OfflineStore;
use diesel_migrations::embed_migrations;

pub use batches::{BatchError, Format};
pub use datasets::DatasetError;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-ingestion",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// The ingestion service's state: its context, the offline store and batch settings.
#[derive(Clone)]
pub struct Ingestion {
    pub context: ServiceContext,
    pub store: OfflineStore,
    pub staging_root: PathBuf,
    pub quarantine_threshold: f64,
    pub stream_flush_rows: usize,
    pub stream_flush_millis: u64,
    /// For `s3://` imports.
    pub s3: S3Config,
    /// Local directories imports may read.
    pub import_roots: Vec<PathBuf>,
}

/// Starts the ingestion service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let store = OfflineStore::from_config(&config)
        .map_err(|error| StartError::Other(format!("offline store: {error}")))?;
    let staging_root = batches::staging_root(&config.data_dir);
    let settings = config.ingestion.clone();
    let s3 = config.storage.s3.clone();
    let context = cairn_service::start(ServiceKind::Ingestion, config, &[MIGRATIONS]).await?;
    let ingestion = Ingestion {
        context: context.clone(),
        store,
        staging_root,
        quarantine_threshold: settings.quarantine_threshold,
        stream_flush_rows: settings.stream_flush_rows,
        stream_flush_millis: settings.stream_flush_millis,
        s3: s3.clone(),
        import_roots: settings.import_roots.clone(),
    };
    let cleaned = batches::clean_up_interrupted(&ingestion)
        .await
        .map_err(|error| StartError::Other(format!("cleaning up interrupted batches: {error}")))?;
    if cleaned > 0 {
        tracing::warn!(batches = cleaned, "removed the files of batches interrupted by a restart");
    }
    let mut consumers = vec![stream::follow(&ingestion).await?];
    consumers.extend(handoffs::follow(&ingestion).await?);
    if settings.snapshot_interval_secs > 0 {
        // Ends with the service (it watches the shutdown token).
        stream::schedule_snapshots(
            &ingestion,
            std::time::Duration::from_secs(settings.snapshot_interval_secs),
        );
    }
    let state = actix_web::web::Data::new(ingestion);
    context.serve(api::openapi(), move |cfg| api::configure(cfg, state.clone()), consumers)
}
