//! The core's errors in the platform's error shape (`/v1`), one exhaustive mapping.

use cairn_http::{ApiError, ErrorKind};

use crate::endpoints::EndpointError;
use crate::infer::InferError;
use crate::scoring::ScoringError;

impl From<EndpointError> for ApiError {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::NotFound(_) => ApiError::not_found(error.to_string()),
            EndpointError::Invalid(message) => ApiError::invalid(message),
            EndpointError::Unknown(error) => ApiError::invalid(error.to_string()),
            EndpointError::Unavailable(error) => ApiError::unavailable(error.to_string()),
            EndpointError::Database(error) => error.into(),
        }
    }
}

impl From<InferError> for ApiError {
    fn from(error: InferError) -> Self {
        let kind = match &error {
            InferError::NoEndpoint(_) | InferError::NoVersion { .. } => ErrorKind::NotFound,
            InferError::NotReady { .. } | InferError::Features(_) => ErrorKind::Unavailable,
            InferError::TooManyRows { .. } => ErrorKind::PayloadTooLarge,
            InferError::Input(_) => ErrorKind::BadRequest,
            InferError::Failed(_) => {
                tracing::error!(%error, "inference failed");
                ErrorKind::Internal
            }
        };
        ApiError::new(kind, error.to_string())
    }
}

impl From<ScoringError> for ApiError {
    fn from(error: ScoringError) -> Self {
        match error {
            ScoringError::NotFound(message) => ApiError::not_found(message),
            ScoringError::Invalid(message) => ApiError::invalid(message),
            ScoringError::Unavailable(message) => ApiError::unavailable(message),
            ScoringError::Database(error) => error.into(),
        }
    }
}
