#![doc = include_str!("../README.md")]

mod api;
mod definitions;
mod features;
mod materialize;
pub mod online;
pub mod point_in_time;
mod schema;
mod sources;
mod training_data;
mod transform;

use std::sync::Arc;

use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};
use diesel_migrations::embed_migrations;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-feature-store",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// A mutex's guard; a panic elsewhere while it was held leaves data that is still usable here
/// (every critical section leaves it whole), so poisoning is ignored.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the feature store; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let context = cairn_service::start(ServiceKind::FeatureStore, config, &[MIGRATIONS]).await?;
    let settings = &context.config.features;
    let metrics = online::OnlineMetrics::register(context.metrics.registry())
        .map_err(|error| StartError::Other(format!("online store metrics: {error}")))?;
    let store = online::NatsOnlineStore::with_metrics(
        context.bus.clone(),
        settings.online_replica_mib.saturating_mul(1024 * 1024),
        context.shutdown.clone(),
        Some(metrics),
    );
    let options = online::ReadOptions { null_outside_max_age: settings.null_outside_max_age };
    let offline = cairn_storage::OfflineStore::from_config(&context.config)
        .map_err(|error| StartError::Other(format!("offline store: {error}")))?;
    let staging = training_data::Staging::new(&context.config);
    std::fs::create_dir_all(&staging.dir).map_err(|error| {
        StartError::Other(format!("scratch directory {}: {error}", staging.dir.display()))
    })?;
    let transforms = transform::Transforms::new(
        offline.clone(),
        context.db.clone(),
        usize::try_from(settings.transform_memory_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
        staging.dir.clone(),
    );
    let features = Arc::new(features::Features::new(
        online::OnlineFeatures::new(store, online::Catalog::default(), options),
        offline,
        transforms,
        context.db.clone(),
        context.outbox.clone(),
        staging,
    ));
    materialize::fail_interrupted(&context.db).await?;
    features.reload().await?;
    if settings.materialize_interval_secs > 0 {
        let interval = std::time::Duration::from_secs(settings.materialize_interval_secs);
        materialize::schedule(features.clone(), interval, context.shutdown.clone());
    }
    let consumers = vec![
        sources::follow_datasets(&context).await?,
        sources::follow_schemas(&context).await?,
        materialize::follow_batches(&context, features.clone()).await?,
        sources::follow_versions(&context).await?,
    ];
    let state = actix_web::web::Data::new(api::AppState { context: context.clone(), features });
    context.serve(api::openapi(), move |cfg| api::configure(cfg, state.clone()), consumers)
}
