//! The monitor core's one error: what an HTTP handler maps to a status and the prediction-log
//! reader to "read the batch again" or "skip it".

use cairn_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A service, the offline store or the database is away: worth trying again.
    #[error("{0}")]
    Unavailable(String),
}

impl From<ClientError> for MonitorError {
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Api { status: 404, .. } => MonitorError::NotFound(error.to_string()),
            _ => MonitorError::Unavailable(error.to_string()),
        }
    }
}

impl From<cairn_db::DbError> for MonitorError {
    fn from(error: cairn_db::DbError) -> Self {
        MonitorError::Unavailable(error.to_string())
    }
}

impl From<cairn_storage::StorageError> for MonitorError {
    fn from(error: cairn_storage::StorageError) -> Self {
        MonitorError::Unavailable(error.to_string())
    }
}

/// Only a service or store away is worth handling an event again.
impl cairn_bus::Disposition for MonitorError {
    fn is_transient(&self) -> bool {
        match self {
            MonitorError::Unavailable(_) => true,
            MonitorError::NotFound(_) | MonitorError::Invalid(_) => false,
        }
    }
}
