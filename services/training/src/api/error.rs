//! The core's errors in the platform's error shape, one exhaustive mapping each.

use cairn_http::ApiError;

use crate::pipelines::PipelineError;
use crate::runs::RunError;

impl From<PipelineError> for ApiError {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::Invalid(message) => ApiError::invalid(message),
            PipelineError::NotFound(message) => ApiError::not_found(message),
            PipelineError::Unavailable(message) => ApiError::unavailable(message),
            PipelineError::Conflict(_) => ApiError::conflict(error.to_string()),
            PipelineError::Database(error) => error.into(),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::NotFound(message) => ApiError::not_found(message),
            RunError::Conflict(message) => ApiError::conflict(message),
            RunError::Database(error) => error.into(),
        }
    }
}
