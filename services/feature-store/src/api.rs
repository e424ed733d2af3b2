use std::ops::Deref;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use cairn_http::{ApiError, ErrorKind};
use cairn_service::ServiceContext;
use utoipa::OpenApi as _;

use cairn_api::{
    Action, ApplyRequest, DatasetLineage, Definitions, Entity, EntityDef, FeatureDef, FeatureService,
    FeatureServiceDef, FeatureView, FeatureViewDef, Materialization, MaterializationState,
    MaterializeRequest, Plan, PlannedChange, Projection, SourceDataset, TrainingData, TrainingDataRequest,
};

use crate::definitions::{self, DefinitionError};
use crate::historical::{HistoricalError, HistoricalQuery};
use crate::materialize::{Features, MaterializeError};
use crate::online::{
    FeatureVector, FieldStatus, OnlineRequest, OnlineRequestError, OnlineResponse, ResponseMetadata,
};
use crate::sources;
use crate::transform;

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
    paths(list_sources, get_source, plan, apply, list_entities, list_views, view_versions, view_version,
          list_services, service_versions, materialize, materializations, materialization, get_online_features,
          historical_features, training_data),
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

/// Every dataset announced by ingestion.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", responses((status = 200, body = Vec<SourceDataset>)))]
async fn list_sources(state: State) -> Result<HttpResponse, ApiError> {
    let sources = sources::list(&state.db, None).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(sources))
}

/// One source dataset.
#[utoipa::path(get, path = "/v1/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = SourceDataset), (status = 404, body = cairn_http::ErrorBody)))]
async fn get_source(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let found = sources::list(&state.db, Some(name.clone())).await.map_err(ApiError::internal)?;
    match found.into_iter().next() {
        Some(source) => Ok(HttpResponse::Ok().json(source)),
        None => Err(ApiError::not_found(format!("no source dataset `{name}`"))),
    }
}

impl From<DefinitionError> for ApiError {
    fn from(error: DefinitionError) -> Self {
        match error {
            DefinitionError::Invalid { kind, ref name, ref field, .. } => {
                let details = serde_json::json!({"kind": kind, "name": name, "field": field});
                ApiError::invalid(error.to_string()).with_details(details)
            }
            DefinitionError::Stale => ApiError::conflict(error.to_string()),
            DefinitionError::Database(error) => ApiError::internal(error),
        }
    }
}

async fn resolve(state: &State, definitions: Definitions) -> Result<definitions::Resolved, ApiError> {
    let sources = sources::list(&state.db, None).await.map_err(ApiError::internal)?;
    let outputs = transform::outputs(&definitions, &sources).await?;
    Ok(definitions::resolve(definitions, &sources, &outputs)?)
}

/// What applying these definitions would create, change and delete.
#[utoipa::path(post, path = "/v1/features/plan", tag = "definitions", request_body = ApplyRequest,
    responses((status = 200, body = Plan), (status = 422, body = cairn_http::ErrorBody)))]
async fn plan(state: State, request: web::Json<ApplyRequest>) -> Result<HttpResponse, ApiError> {
    let desired = resolve(&state, request.into_inner().definitions).await?;
    Ok(HttpResponse::Ok().json(definitions::plan(&state.db, desired).await?))
}

/// Applies the definitions as a whole: everything in the plan, or nothing. With `plan_digest`,
/// only the plan that was confirmed (409 when it would now differ).
#[utoipa::path(post, path = "/v1/features/apply", tag = "definitions", request_body = ApplyRequest,
    responses((status = 200, body = Plan), (status = 409, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
async fn apply(state: State, request: web::Json<ApplyRequest>) -> Result<HttpResponse, ApiError> {
    let ApplyRequest { definitions, plan_digest } = request.into_inner();
    let desired = resolve(&state, definitions).await?;
    let plan = definitions::apply(&state.db, desired, plan_digest).await?;
    state.outbox.wake();
    state.features.reload().await.map_err(ApiError::internal)?;
    state.features.follow_new_versions(&plan).await;
    Ok(HttpResponse::Ok().json(plan))
}

/// Entities held now.
#[utoipa::path(get, path = "/v1/entities", tag = "definitions", responses((status = 200, body = Vec<Entity>)))]
async fn list_entities(state: State) -> Result<HttpResponse, ApiError> {
    let (entities, _, _) = definitions::held(&state.db).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(entities))
}

/// The latest version of every feature view (deleted ones marked).
#[utoipa::path(get, path = "/v1/feature-views", tag = "definitions", responses((status = 200, body = Vec<FeatureView>)))]
async fn list_views(state: State) -> Result<HttpResponse, ApiError> {
    let (_, views, _) = definitions::held(&state.db).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(views))
}

/// Every version of a feature view, oldest first.
#[utoipa::path(get, path = "/v1/feature-views/{name}/versions", tag = "definitions",
    params(("name" = String, Path, description = "Feature view")),
    responses((status = 200, body = Vec<FeatureView>), (status = 404, body = cairn_http::ErrorBody)))]
async fn view_versions(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let versions = definitions::view_versions(&state.db, name.clone()).await.map_err(ApiError::internal)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no feature view `{name}`")));
    }
    Ok(HttpResponse::Ok().json(versions))
}

/// One version of a feature view.
#[utoipa::path(get, path = "/v1/feature-views/{name}/versions/{version}", tag = "definitions",
    params(("name" = String, Path, description = "Feature view"), ("version" = i64, Path, description = "Version")),
    responses((status = 200, body = FeatureView), (status = 404, body = cairn_http::ErrorBody)))]
async fn view_version(state: State, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let versions = definitions::view_versions(&state.db, name.clone()).await.map_err(ApiError::internal)?;
    match versions.into_iter().find(|view| view.version == version) {
        Some(view) => Ok(HttpResponse::Ok().json(view)),
        None => Err(ApiError::not_found(format!("no version {version} of feature view `{name}`"))),
    }
}

/// The latest version of every feature service (deleted ones marked).
#[utoipa::path(get, path = "/v1/feature-services", tag = "definitions",
    responses((status = 200, body = Vec<FeatureService>)))]
async fn list_services(state: State) -> Result<HttpResponse, ApiError> {
    let (_, _, services) = definitions::held(&state.db).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(services))
}

/// Every version of a feature service, oldest first.
#[utoipa::path(get, path = "/v1/feature-services/{name}/versions", tag = "definitions",
    params(("name" = String, Path, description = "Feature service")),
    responses((status = 200, body = Vec<FeatureService>), (status = 404, body = cairn_http::ErrorBody)))]
async fn service_versions(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let versions =
        definitions::service_versions(&state.db, name.clone()).await.map_err(ApiError::internal)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no feature service `{name}`")));
    }
    Ok(HttpResponse::Ok().json(versions))
}

impl From<MaterializeError> for ApiError {
    fn from(error: MaterializeError) -> Self {
        match error {
            MaterializeError::NotFound(message) => ApiError::not_found(message),
            MaterializeError::Invalid(message) => ApiError::invalid(message),
            other => ApiError::internal(other),
        }
    }
}

/// Starts copying the latest values of a feature view version from the offline store to the
/// online store (202: follow it at `/v1/materializations/{id}`).
#[utoipa::path(post, path = "/v1/feature-views/{name}/materialize", tag = "online",
    params(("name" = String, Path, description = "Feature view")), request_body = MaterializeRequest,
    responses((status = 202, body = Materialization), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
async fn materialize(
    state: State,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // No body: from the watermark to now.
    let request: MaterializeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        MaterializeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| ApiError::invalid(format!("request body: {error}")))?
    };
    let run = state.features.start(&name, request).await?;
    Ok(HttpResponse::Accepted().json(run))
}

/// The latest materializations of a feature view, newest first.
#[utoipa::path(get, path = "/v1/feature-views/{name}/materializations", tag = "online",
    params(("name" = String, Path, description = "Feature view")),
    responses((status = 200, body = Vec<Materialization>)))]
async fn materializations(state: State, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let runs = state.features.materializations(name.into_inner()).await.map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(runs))
}

/// One materialization, with its progress while it runs.
#[utoipa::path(get, path = "/v1/materializations/{id}", tag = "online",
    params(("id" = String, Path, description = "Materialization id")),
    responses((status = 200, body = Materialization), (status = 404, body = cairn_http::ErrorBody)))]
async fn materialization(state: State, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    match state.features.materialization(id.clone()).await.map_err(ApiError::internal)? {
        Some(run) => Ok(HttpResponse::Ok().json(run)),
        None => Err(ApiError::not_found(format!("no materialization `{id}`"))),
    }
}

/// Feast's feature server API: the latest values of `view:feature` references or a feature
/// service for columns of entity keys, with a status and event time per value. The body is read
/// as JSON whatever its content type, as Feast's server does.
#[utoipa::path(post, path = "/get-online-features", tag = "online", request_body = OnlineRequest,
    responses((status = 200, body = OnlineResponse), (status = 400, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
async fn get_online_features(state: State, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let request: OnlineRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::new(ErrorKind::BadRequest, format!("request body: {error}")))?;
    match state.features.online.get(&request).await {
        Ok(response) => Ok(HttpResponse::Ok().content_type("application/json").body(response.to_json())),
        Err(OnlineRequestError::Invalid(message)) => Err(ApiError::invalid(message)),
        Err(OnlineRequestError::Store(error)) => Err(ApiError::unavailable(error.to_string())),
    }
}

impl From<HistoricalError> for ApiError {
    fn from(error: HistoricalError) -> Self {
        match error {
            HistoricalError::Invalid(message) => ApiError::invalid(message),
            HistoricalError::NotFound(message) => ApiError::not_found(message),
            HistoricalError::TooLarge(_) => ApiError::new(ErrorKind::PayloadTooLarge, error.to_string()),
            other => ApiError::internal(other),
        }
    }
}

/// Training data: the uploaded Parquet file of entity rows (join keys and a time column) with
/// the features of `features` (`view:feature`, comma separated) or `feature_service` joined as
/// of each row's time (Feast's point-in-time semantics), as a Parquet file: the entity rows in
/// their order with all their columns, then each view's features. `Cairn-Feature-Views` names
/// the view versions joined.
#[utoipa::path(post, path = "/v1/historical-features", tag = "definitions", params(HistoricalQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.apache.parquet"),
    responses((status = 200, description = "The training data", content_type = "application/vnd.apache.parquet"),
              (status = 413, body = cairn_http::ErrorBody), (status = 422, body = cairn_http::ErrorBody)))]
async fn historical_features(
    state: State,
    query: web::Query<HistoricalQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let joined = state.features.historical(&state.config, query.into_inner(), Some(body)).await?;
    let views = joined.views.join(",");
    let stream = tokio_util::io::ReaderStream::with_capacity(joined.open().await?, 1 << 20);
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.apache.parquet")
        .insert_header(("Cairn-Feature-Views", views))
        .streaming(stream))
}

/// Training data as a dataset version: the features joined onto the rows of a dataset version
/// (every column kept, labels included) as of each row's time, written to the offline store and
/// handed to ingestion, which adds it to `dataset` — declared from the result when it does not
/// exist — as a new version whose lineage names the feature service and view versions and the
/// dataset versions read (`lineage.training_data` is this answer's `id`).
#[utoipa::path(post, path = "/v1/training-data", tag = "definitions", request_body = TrainingDataRequest,
    responses((status = 202, body = TrainingData), (status = 404, body = cairn_http::ErrorBody),
              (status = 422, body = cairn_http::ErrorBody)))]
async fn training_data(
    state: State,
    request: web::Json<TrainingDataRequest>,
) -> Result<HttpResponse, ApiError> {
    let written = state.features.training_data(&state.config, request.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(written))
}
