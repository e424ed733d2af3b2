#![doc = include_str!("../README.md")]

mod api;
mod definitions;
pub mod retrieval;
mod schema;
mod sources;

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

/// Starts the feature store; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let context = cairn_service::start(ServiceKind::FeatureStore, config, &[MIGRATIONS]).await?;
    let consumers = vec![sources::follow_datasets(&context).await?, sources::follow_schemas(&context).await?];
    let state = actix_web::web::Data::new(context.clone());
    context.serve(api::openapi(), move |cfg| api::configure(cfg, state.clone()), consumers)
}
