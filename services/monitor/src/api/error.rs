//! The core's errors in the platform's error shape, one exhaustive mapping.

use cairn_http::ApiError;

use crate::batch::DriftError;

impl From<DriftError> for ApiError {
    fn from(error: DriftError) -> Self {
        match error {
            DriftError::NotFound(message) => ApiError::not_found(message),
            DriftError::Invalid(message) => ApiError::invalid(message),
            DriftError::Unavailable(message) => ApiError::unavailable(message),
        }
    }
}
