//! Who is calling. With `registry.tokens` set, every request to the registry's APIs must carry
//! a user's token — HTTP basic auth with the token as password (MLflow clients send
//! MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD that way) or `Authorization: Bearer`
//! (MLFLOW_TRACKING_TOKEN) — and is refused with 401 otherwise. Without tokens the caller is
//! whoever the request names (basic-auth user or `X-Cairn-User`), for a trusted network.

use std::collections::BTreeMap;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, ResponseError as _, web};
use base64::Engine as _;
use cairn_config::Secret;
use cairn_http::{ApiError, ErrorKind};

use crate::Registry;
use crate::mlflow::{ErrorCode, MlflowError};

/// The authenticated (or, without tokens, claimed) user of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn of(request: &HttpRequest) -> String {
        request.extensions().get::<Actor>().map_or_else(|| "anonymous".to_owned(), |actor| actor.0.clone())
    }
}

/// Users and their tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens(pub BTreeMap<String, Secret>);

enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

fn credentials(request: &ServiceRequest) -> Option<Credentials> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
        let (user, password) =
            String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned()))?;
        return Some(Credentials::Basic { user, password });
    }
    header.strip_prefix("Bearer ").map(|token| Credentials::Bearer(token.trim().to_owned()))
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Tokens {
    /// The user the request is from, or `None` when tokens are required and it has none valid.
    fn user(&self, request: &ServiceRequest) -> Option<String> {
        let given = credentials(request);
        if self.0.is_empty() {
            let claimed = match given {
                Some(Credentials::Basic { user, .. }) => Some(user),
                _ => request.headers().get("x-cairn-user").and_then(|v| v.to_str().ok()).map(str::to_owned),
            };
            return Some(claimed.filter(|user| !user.is_empty()).unwrap_or_else(|| "anonymous".to_owned()));
        }
        let valid = |user: &str, token: &str| {
            self.0.get(user).and_then(Secret::expose).is_some_and(|t| same(t, token))
        };
        match given? {
            Credentials::Basic { user, password } => valid(&user, &password).then_some(user),
            Credentials::Bearer(token) => {
                self.0.iter().find(|(user, _)| valid(user, &token)).map(|(user, _)| user.clone())
            }
        }
    }
}

/// Middleware: records the `Actor`, or answers 401 in the shape the API's clients read. Without
/// the registry's state in the app (a wiring mistake) it refuses every request with 500: it
/// cannot tell whether tokens are required, so it must not guess that they are not.
pub(crate) async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = request.app_data::<web::Data<Registry>>() else {
        let error = "the registry's state is missing from the app: authentication cannot be checked";
        let response = if is_mlflow(&request) {
            MlflowError::internal(&error).error_response()
        } else {
            ApiError::internal(error).error_response()
        };
        return Ok(request.into_response(response));
    };
    match state.tokens.user(&request) {
        Some(user) => {
            request.extensions_mut().insert(Actor(user));
            Ok(next.call(request).await?.map_into_boxed_body())
        }
        None => {
            let message = "authentication required: HTTP basic auth with a registry token as password, or Authorization: Bearer TOKEN";
            let mut response = if is_mlflow(&request) {
                MlflowError::new(ErrorCode::Unauthenticated, message).error_response()
            } else {
                HttpResponse::Unauthorized().json(ApiError::new(ErrorKind::Unauthorized, message).body())
            };
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"cairn-registry\""));
            Ok(request.into_response(response))
        }
    }
}

/// MLflow's API answers in MLflow's error shape, Cairn's own in the platform's.
fn is_mlflow(request: &ServiceRequest) -> bool {
    request.path().starts_with("/api/")
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::authenticate;

    /// An app whose state was never registered: both APIs refuse instead of letting the request
    /// through unauthenticated.
    #[actix_web::test]
    async fn missing_state_refuses_every_request() {
        let app = test::init_service(
            App::new()
                .service(
                    web::scope("/v1")
                        .wrap(from_fn(authenticate))
                        .route("/models", web::get().to(HttpResponse::Ok)),
                )
                .service(
                    web::scope("/api/2.0/mlflow")
                        .wrap(from_fn(authenticate))
                        .route("/experiments/search", web::get().to(HttpResponse::Ok)),
                ),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/v1/models").to_request()).await;
        assert_eq!(response.status(), 500);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error"]["code"], "internal", "{body}");
        let request = test::TestRequest::get().uri("/api/2.0/mlflow/experiments/search").to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["error_code"], "INTERNAL_ERROR", "{body}");
    }
}
