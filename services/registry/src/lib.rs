#![doc = include_str!("../README.md")]

mod api;
pub mod artifacts;
mod auth;
mod mlflow;
pub mod models;
pub mod tracking;

use artifacts::Artifacts;
use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::ServiceKind;
use cairn_objects::open_store;
use cairn_service::{RunningService, ServiceContext, StartError};
use diesel_migrations::embed_migrations;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-registry",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// The registry's state.
#[derive(Clone)]
pub struct Registry {
    pub context: ServiceContext,
    pub artifacts: Artifacts,
    pub approvers: models::Approvers,
    pub tokens: auth::Tokens,
}

/// Starts the registry service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let store = open_store(&config.storage.artifacts_url, &config.artifacts_root(), &config.storage.s3)
        .map_err(|error| StartError::Other(format!("artifact store: {error}")))?;
    let artifacts = Artifacts { store, max_bytes: config.registry.max_artifact_bytes };
    let approvers = models::Approvers(config.registry.approvers.clone());
    let tokens = auth::Tokens(config.registry.tokens.clone());
    let context = cairn_service::start(ServiceKind::Registry, config, &[MIGRATIONS]).await?;
    let state =
        actix_web::web::Data::new(Registry { context: context.clone(), artifacts, approvers, tokens });
    context.serve(
        api::openapi(),
        move |cfg| {
            cfg.app_data(state.clone());
            api::configure(cfg);
            mlflow::configure(cfg);
        },
        Vec::new(),
    )
}
