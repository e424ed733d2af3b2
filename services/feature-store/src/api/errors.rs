//! The crate's errors as HTTP answers, each variant named (a new one must be placed here): the
//! caller's mistakes as 404/409/413/422, the database through the shared mapping (503 when it
//! is unavailable), anything else 500 with the details in the log only.

use cairn_http::{ApiError, ErrorKind};

use crate::definitions::DefinitionError;
use crate::materialize::MaterializeError;
use crate::training_data::HistoricalError;
use crate::transform::TransformError;

impl From<DefinitionError> for ApiError {
    fn from(error: DefinitionError) -> Self {
        match error {
            DefinitionError::Invalid { kind, ref name, ref field, .. } => {
                let details = serde_json::json!({"kind": kind, "name": name, "field": field});
                ApiError::invalid(error.to_string()).with_details(details)
            }
            DefinitionError::Stale => ApiError::conflict(error.to_string()),
            DefinitionError::Database(error) => ApiError::from(error),
        }
    }
}

impl From<MaterializeError> for ApiError {
    fn from(error: MaterializeError) -> Self {
        match error {
            MaterializeError::NotFound(message) => ApiError::not_found(message),
            MaterializeError::Invalid(message) => ApiError::invalid(message),
            MaterializeError::Database(error) => ApiError::from(error),
            MaterializeError::Transform(error) => ApiError::from(error),
            MaterializeError::Storage(_)
            | MaterializeError::Rows(_)
            | MaterializeError::Online(_)
            | MaterializeError::Reader(_) => ApiError::internal(error),
        }
    }
}

impl From<HistoricalError> for ApiError {
    fn from(error: HistoricalError) -> Self {
        match error {
            HistoricalError::Invalid(message) => ApiError::invalid(message),
            HistoricalError::NotFound(message) => ApiError::not_found(message),
            HistoricalError::TooLarge(_) => ApiError::new(ErrorKind::PayloadTooLarge, error.to_string()),
            HistoricalError::Database(error) => ApiError::from(error),
            HistoricalError::Transform(error) => ApiError::from(error),
            HistoricalError::Storage(_) | HistoricalError::Io(_) => ApiError::internal(error),
        }
    }
}

/// A view's query failing where apply accepted it is the service's fault, not the caller's.
impl From<TransformError> for ApiError {
    fn from(error: TransformError) -> Self {
        match error {
            TransformError::Query { .. } => ApiError::internal(error),
            TransformError::Database(error) => ApiError::from(error),
        }
    }
}
