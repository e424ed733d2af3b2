//! Running a request on an endpoint: pick the loaded version that answers, check and run the
//! inputs on it. Transport-neutral: the OIP and JSON handlers decode into tensors and call this.

use std::sync::Arc;

use cairn_runtime::{Output, RuntimeError, Tensor};

use crate::endpoints::Endpoints;
use crate::models::Loaded;

/// Runs with more elements than this go to the blocking pool; smaller ones (a row or a few, tens
/// of microseconds) run on the request's own thread.
const INLINE_ELEMENTS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("no endpoint `{0}`")]
    NoEndpoint(String),
    #[error("endpoint `{endpoint}` does not serve version {version}")]
    NoVersion { endpoint: String, version: String },
    #[error("endpoint `{endpoint}` has no version to serve yet: {reason}")]
    NotReady { endpoint: String, reason: String },
    #[error("a request may carry at most {max} rows; this one has {rows}")]
    TooManyRows { rows: usize, max: usize },
    /// The inputs do not fit the model (a name, type or shape), or the model refused their values.
    #[error("{0}")]
    Input(String),
    #[error("the model failed: {0}")]
    Failed(String),
}

/// The answer to one request.
#[derive(Debug)]
pub struct Inference {
    pub version: Arc<Loaded>,
    /// The request's inputs, handed back (for the prediction log).
    pub inputs: Vec<(String, Tensor)>,
    pub outputs: Vec<Output>,
}

/// The version that answers requests to `endpoint` (`version`: only if it is the one served).
pub fn serving(
    endpoints: &Endpoints,
    endpoint: &str,
    version: Option<&str>,
) -> Result<Arc<Loaded>, InferError> {
    let route = endpoints.route(endpoint).ok_or_else(|| InferError::NoEndpoint(endpoint.to_owned()))?;
    let loaded = route.serving.clone().ok_or_else(|| InferError::NotReady {
        endpoint: endpoint.to_owned(),
        reason: route.error.clone().unwrap_or_else(|| "loading".to_owned()),
    })?;
    match version {
        Some(asked) if asked.parse::<i64>().ok() != Some(loaded.version) => {
            Err(InferError::NoVersion { endpoint: endpoint.to_owned(), version: asked.to_owned() })
        }
        _ => Ok(loaded),
    }
}

/// Runs `inputs` on `version`: on this thread when small, else on the blocking pool.
pub async fn run(
    version: Arc<Loaded>,
    inputs: Vec<(String, Tensor)>,
    max_rows: usize,
) -> Result<Inference, InferError> {
    let rows = inputs.iter().map(|(_, tensor)| tensor.shape.first().copied().unwrap_or(1)).max().unwrap_or(0);
    if rows > max_rows {
        return Err(InferError::TooManyRows { rows, max: max_rows });
    }
    let elements: usize = inputs.iter().map(|(_, tensor)| tensor.data.len()).sum();
    let (inputs, outputs) = if elements <= INLINE_ELEMENTS {
        let outputs = version.runtime.run(&inputs);
        (inputs, outputs)
    } else {
        let version = Arc::clone(&version);
        tokio::task::spawn_blocking(move || {
            let outputs = version.runtime.run(&inputs);
            (inputs, outputs)
        })
        .await
        .map_err(|error| InferError::Failed(error.to_string()))?
    };
    let outputs = outputs.map_err(|error| match error {
        error @ (RuntimeError::Input { .. } | RuntimeError::Run(_)) => InferError::Input(error.to_string()),
        error => InferError::Failed(error.to_string()),
    })?;
    Ok(Inference { version, inputs, outputs })
}
