#![doc = include_str!("../README.md")]

mod api;
mod datasets;
mod schema;

use cairn_config::CairnConfig;
use cairn_db::Migrations;
use cairn_domain::ServiceKind;
use cairn_service::{RunningService, StartError};
use diesel_migrations::embed_migrations;

pub use datasets::DatasetError;

pub const MIGRATIONS: Migrations = Migrations {
    name: "cairn-ingestion",
    sqlite: &embed_migrations!("migrations/sqlite"),
    postgres: &embed_migrations!("migrations/postgres"),
};

/// Starts the ingestion service; the returned handle knows its bound address.
pub async fn run(config: CairnConfig) -> Result<RunningService, StartError> {
    let context = cairn_service::start(ServiceKind::Ingestion, config, &[MIGRATIONS]).await?;
    let state = actix_web::web::Data::new(context.clone());
    context.serve(api::openapi(), move |cfg| api::configure(cfg, state.clone()), Vec::new())
}
