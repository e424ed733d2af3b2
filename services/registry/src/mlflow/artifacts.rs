//! `/api/2.0/mlflow-artifacts/artifacts/...`: the artifact proxy the client uses for
//! `mlflow-artifacts:/` URIs. Bodies stream in both directions.

use actix_web::body::SizedStream;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{self, Payload};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::json::{message, required};
use super::{MlflowError, State, ok};
use crate::artifacts::{self, ArtifactError, safe_path};

/// Where artifact paths start in request paths.
const ROOT: &str = "/api/2.0/mlflow-artifacts/artifacts";

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/artifacts", web::get().to(list))
        .route("/artifacts/{path:.*}", web::put().to(upload))
        .route("/artifacts/{path:.*}", web::get().to(download))
        .route("/artifacts/{path:.*}", web::delete().to(delete));
}

/// The artifact path as sent (still percent-encoded: `safe_path` decodes it completely).
fn artifact_path(request: &HttpRequest) -> Result<String, MlflowError> {
    let raw = request.uri().path().strip_prefix(ROOT).unwrap_or_default().trim_start_matches('/');
    Ok(safe_path(raw)?)
}

async fn upload(state: State, request: HttpRequest, body: Payload) -> Result<HttpResponse, MlflowError> {
    let path = artifact_path(&request)?;
    let limit = state.artifacts.max_bytes;
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ArtifactError::TooLarge { limit }.into());
    }
    artifacts::upload(&state.context.db, &state.artifacts, path, body).await?;
    ok(json!({}))
}

async fn download(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let path = artifact_path(&request)?;
    let (size, stream) = artifacts::download(&state.context.db, &state.artifacts, path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(SizedStream::new(size, Box::pin(stream))))
}

#[derive(Deserialize)]
struct List {
    path: Option<String>,
}

async fn list(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let list: List = message(&request, &[])?;
    let path = safe_path(&required(list.path, "path")?)?;
    let entries = artifacts::list(&state.context.db, path).await?;
    let files: Vec<_> = entries
        .iter()
        .map(|entry| match entry.bytes {
            Some(bytes) => json!({"path": entry.name, "is_dir": entry.is_dir, "file_size": bytes}),
            None => json!({"path": entry.name, "is_dir": entry.is_dir}),
        })
        .collect();
    ok(json!({"files": files}))
}

async fn delete(state: State, request: HttpRequest) -> Result<HttpResponse, MlflowError> {
    let path = artifact_path(&request)?;
    artifacts::delete(&state.context.db, &state.artifacts, path).await?;
    ok(json!({}))
}
