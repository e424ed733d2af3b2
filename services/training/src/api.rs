//! HTTP: pipelines (`/v1/pipelines`) and their runs (`/v1/pipeline-runs`). Handlers parse, call
//! the core, and map.

mod error;
mod pipelines;
mod runs;

use actix_web::web;
use utoipa::OpenApi as _;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    pipelines::configure(cfg);
    runs::configure(cfg);
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(pipelines::plan, pipelines::apply, pipelines::list, pipelines::get, pipelines::versions,
          runs::start, runs::list, runs::get, runs::cancel, runs::reproduce),
    components(schemas(cairn_api::PipelineSpec, cairn_api::PipelinePlan, cairn_api::Pipeline,
                       cairn_api::NewPipelineRun, cairn_api::PipelineRun)),
    tags((name = "pipelines", description = "Pipelines: data, trainer, search, evaluation and registration, versioned"),
         (name = "runs", description = "Pipeline runs: trials on the workers, the platform's evaluation, gates, registration"))
)]
struct TrainingApi;

pub(crate) fn openapi() -> utoipa::openapi::OpenApi {
    TrainingApi::openapi()
}
