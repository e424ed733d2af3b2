//! The HTTP API: handlers that parse a request, make one call to the core (`Features`, the
//! catalog of sources, the definitions) and map its answer; the one mapping of the crate's
//! errors to HTTP is `api/errors.rs`.

mod definitions;
mod errors;
mod online;
mod sources;
mod training;

use std::ops::Deref;
use std::sync::Arc;

use actix_web::web;
use cairn_service::ServiceContext;
use utoipa::OpenApi as _;

use cairn_api::{
    Action, ApplyRequest, DatasetLineage, Definitions, Entity, EntityDef, FeatureDef, FeatureService,
    FeatureServiceDef, FeatureView, FeatureViewDef, Materialization, MaterializationState,
    MaterializeRequest, Plan, PlannedChange, Projection, SourceDataset, TrainingData, TrainingDataRequest,
};

use crate::features::Features;
use crate::online::{FeatureVector, FieldStatus, OnlineRequest, OnlineResponse, ResponseMetadata};

pub(crate) struct AppState {
    pub(crate) context: ServiceContext,
    pub(crate) features: Arc<Features>,
}

impl Deref for AppState {
    type Target = ServiceContext;

    fn deref(&self) -> &ServiceContext {
        &self.context
    }
}

type State = web::Data<AppState>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: State) {
    use self::definitions::*;
    use self::online::*;
    use self::sources::*;
    use self::training::*;
    cfg.app_data(state)
        .service(web::resource("/v1/sources").route(web::get().to(list_sources)))
        .service(web::resource("/v1/sources/{name}").route(web::get().to(get_source)))
        .service(web::resource("/v1/features/plan").route(web::post().to(plan)))
        .service(web::resource("/v1/features/apply").route(web::post().to(apply)))
        .service(web::resource("/v1/entities").route(web::get().to(list_entities)))
        .service(web::resource("/v1/feature-views").route(web::get().to(list_views)))
        .service(web::resource("/v1/feature-views/{name}/versions").route(web::get().to(view_versions)))
        .service(
            web::resource("/v1/feature-views/{name}/versions/{version}").route(web::get().to(view_version)),
        )
        .service(web::resource("/v1/feature-services").route(web::get().to(list_services)))
        .service(web::resource("/v1/feature-services/{name}/versions").route(web::get().to(service_versions)))
        .service(web::resource("/v1/feature-views/{name}/materialize").route(web::post().to(materialize)))
        .service(
            web::resource("/v1/feature-views/{name}/materializations").route(web::get().to(materializations)),
        )
        .service(web::resource("/v1/materializations/{id}").route(web::get().to(materialization)))
        .service(web::resource("/get-online-features").route(web::post().to(get_online_features)))
        .service(web::resource("/v1/historical-features").route(web::post().to(historical_features)))
        .service(web::resource("/v1/training-data").route(web::post().to(training_data)));
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(sources::list_sources, sources::get_source, definitions::plan, definitions::apply,
          definitions::list_entities, definitions::list_views, definitions::view_versions,
          definitions::view_version, definitions::list_services, definitions::service_versions,
          online::materialize, online::materializations, online::materialization,
          online::get_online_features, training::historical_features, training::training_data),
    components(schemas(SourceDataset, ApplyRequest, Definitions, EntityDef, FeatureViewDef, FeatureDef,
                       FeatureServiceDef, Plan, PlannedChange, Action, Entity, FeatureView, FeatureService,
                       Projection, MaterializeRequest, Materialization, MaterializationState, OnlineRequest,
                       OnlineResponse, ResponseMetadata, FeatureVector, FieldStatus, TrainingDataRequest,
                       TrainingData, DatasetLineage)),
    tags((name = "sources", description = "Datasets feature views can be built on"),
         (name = "definitions", description = "Entities, feature views and feature services"),
         (name = "online", description = "Materialization and online features (Feast's feature server API)"))
)]
struct FeatureStoreApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    FeatureStoreApi::openapi()
}
