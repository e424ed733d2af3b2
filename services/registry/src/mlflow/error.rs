//! MLflow's error body, `{"error_code": "...", "message": "..."}`, with MLflow's codes and
//! statuses. The client retries 5xx answers for minutes, so only what might pass on a retry is
//! one; everything decided by the request is a 4xx.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::artifacts::ArtifactError;
use crate::models::ModelError;
use crate::tracking::TrackingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidParameterValue,
    ResourceDoesNotExist,
    ResourceAlreadyExists,
    InvalidState,
    PermissionDenied,
    Unauthenticated,
    BadRequest,
    RequestLimitExceeded,
    EndpointNotFound,
    InternalError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidParameterValue | ErrorCode::ResourceAlreadyExists | ErrorCode::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::InvalidState => StatusCode::BAD_REQUEST,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::RequestLimitExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => StatusCode::NOT_FOUND,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MlflowError {
    pub code: ErrorCode,
    pub message: String,
}

impl MlflowError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
}

impl fmt::Display for MlflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ResponseError for MlflowError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({"error_code": self.code.as_str(), "message": self.message}))
    }
}

impl MlflowError {
    /// Unavailable pools and connections may pass on a retry (503, which the client retries);
    /// anything else the database says is a bug or corruption (500, logged, not shown).
    fn database(error: &cairn_db::DbError) -> Self {
        if error.is_unavailable() {
            Self::new(ErrorCode::TemporarilyUnavailable, error.to_string())
        } else {
            Self::internal(error)
        }
    }

    pub(crate) fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "registry error");
        Self::new(ErrorCode::InternalError, "internal error; see the registry's log")
    }
}

impl From<TrackingError> for MlflowError {
    fn from(error: TrackingError) -> Self {
        let code = match &error {
            TrackingError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            TrackingError::AlreadyExists(_) => ErrorCode::ResourceAlreadyExists,
            TrackingError::Invalid(_) | TrackingError::Filter(_) => ErrorCode::InvalidParameterValue,
            TrackingError::Database(error) => return Self::database(error),
        };
        Self::new(code, error.to_string())
    }
}

impl From<ModelError> for MlflowError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::NotFound(message) => Self::new(ErrorCode::ResourceDoesNotExist, message),
            ModelError::AlreadyExists(message) => Self::new(ErrorCode::ResourceAlreadyExists, message),
            ModelError::Invalid(message) => Self::new(ErrorCode::InvalidParameterValue, message),
            ModelError::Forbidden(message) => Self::new(ErrorCode::PermissionDenied, message),
            ModelError::Conflict(message) => Self::new(ErrorCode::InvalidState, message),
            ModelError::Tracking(inner) => inner.into(),
            ModelError::Artifact(inner) => inner.into(),
            ModelError::Database(inner) => Self::database(&inner),
        }
    }
}

impl From<ArtifactError> for MlflowError {
    fn from(error: ArtifactError) -> Self {
        let code = match &error {
            ArtifactError::Path { .. } => ErrorCode::InvalidParameterValue,
            ArtifactError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            ArtifactError::TooLarge { .. } => ErrorCode::RequestLimitExceeded,
            ArtifactError::Upload(_) => ErrorCode::BadRequest,
            ArtifactError::Store(inner) => return Self::internal(inner),
            ArtifactError::Database(inner) => return Self::database(inner),
        };
        Self::new(code, error.to_string())
    }
}
