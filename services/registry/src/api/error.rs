//! The core's errors in the platform's error shape: one exhaustive mapping per error type, the
//! database's through the shared `From<DbError> for ApiError` (503 when unavailable, else 500).

use cairn_http::{ApiError, ErrorKind};

use crate::artifacts::ArtifactError;
use crate::models::ModelError;
use crate::tracking::TrackingError;

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::NotFound(message) => ApiError::not_found(message),
            ModelError::AlreadyExists(message) => ApiError::conflict(message),
            ModelError::Invalid(message) => ApiError::invalid(message),
            ModelError::Forbidden(message) => ApiError::new(ErrorKind::Forbidden, message),
            ModelError::Conflict(message) => ApiError::conflict(message),
            ModelError::Tracking(error) => error.into(),
            ModelError::Artifact(error) => error.into(),
            ModelError::Database(error) => error.into(),
        }
    }
}

impl From<TrackingError> for ApiError {
    fn from(error: TrackingError) -> Self {
        match error {
            TrackingError::NotFound(message) => ApiError::not_found(message),
            TrackingError::AlreadyExists(message) => ApiError::conflict(message),
            error @ (TrackingError::Invalid(_) | TrackingError::Filter(_)) => {
                ApiError::invalid(error.to_string())
            }
            TrackingError::Database(error) => error.into(),
        }
    }
}

impl From<ArtifactError> for ApiError {
    fn from(error: ArtifactError) -> Self {
        match error {
            error @ ArtifactError::Path { .. } => ApiError::invalid(error.to_string()),
            ArtifactError::NotFound(message) => ApiError::not_found(message),
            error @ ArtifactError::TooLarge { .. } => {
                ApiError::new(ErrorKind::PayloadTooLarge, error.to_string())
            }
            error @ ArtifactError::Upload(_) => ApiError::new(ErrorKind::BadRequest, error.to_string()),
            error @ ArtifactError::Store(_) => ApiError::internal(error),
            ArtifactError::Database(error) => error.into(),
        }
    }
}
