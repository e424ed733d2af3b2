//! The core's errors in the platform's error shape (`/v1`), one exhaustive mapping.

use cairn_http::ApiError;

use crate::endpoints::EndpointError;

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
