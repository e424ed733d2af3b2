//! The core's errors in the platform's error shape, one exhaustive mapping.

use cairn_http::ApiError;

use crate::error::MonitorError;

impl From<MonitorError> for ApiError {
    fn from(error: MonitorError) -> Self {
        match error {
            MonitorError::NotFound(message) => ApiError::not_found(message),
            MonitorError::Invalid(message) => ApiError::invalid(message),
            MonitorError::Unavailable(message) => ApiError::unavailable(message),
        }
    }
}
