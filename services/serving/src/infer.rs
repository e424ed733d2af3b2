//! Running a request on an endpoint: pick the loaded version that answers, check and run the
//! inputs on it. Transport-neutral: the OIP and JSON handlers decode into tensors and call this.

use std::sync::Arc;

use cairn_runtime::{Output, RuntimeError, Tensor};

use crate::endpoints::Endpoints;
use crate::log::{Logged, PredictionLog};
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
    /// Entity keys were given, and the online features cannot be read (the feature store's
    /// definitions or the online store unreachable).
    #[error("online features are unavailable: {0}")]
    Features(String),
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

/// Who answers a request, and who gets a copy.
#[derive(Debug)]
pub struct Chosen {
    pub answer: Arc<Loaded>,
    pub shadow: Option<Arc<Loaded>>,
}

/// The version that answers a request to `endpoint`: the one asked for (`version`, which must
/// be one the endpoint holds), else the canary for its share of requests — the same way for the
/// same routing `key` — else the main version; plus the shadow, when asked for no version.
pub fn choose(
    endpoints: &Endpoints,
    endpoint: &str,
    version: Option<&str>,
    key: Option<&[u8]>,
) -> Result<Chosen, InferError> {
    let route = endpoints.route(endpoint).ok_or_else(|| InferError::NoEndpoint(endpoint.to_owned()))?;
    if let Some(asked) = version {
        let held = asked.parse::<i64>().ok().and_then(|asked| {
            [route.serving.as_ref(), route.canary.as_ref().map(|(loaded, _)| loaded), route.shadow.as_ref()]
                .into_iter()
                .flatten()
                .find(|loaded| loaded.version == asked)
        });
        return match held {
            Some(loaded) => Ok(Chosen { answer: Arc::clone(loaded), shadow: None }),
            None => Err(InferError::NoVersion { endpoint: endpoint.to_owned(), version: asked.to_owned() }),
        };
    }
    let main = route.serving.clone().ok_or_else(|| InferError::NotReady {
        endpoint: endpoint.to_owned(),
        reason: route.error.clone().unwrap_or_else(|| "loading".to_owned()),
    })?;
    let answer = match &route.canary {
        Some((canary, weight)) if draw(key) < *weight => Arc::clone(canary),
        _ => main,
    };
    Ok(Chosen { answer, shadow: route.shadow.clone() })
}

/// A number in [0, 1): from the routing key (so a key always draws the same), else at random.
fn draw(key: Option<&[u8]>) -> f64 {
    use sha2::{Digest as _, Sha256};
    let bits = match key {
        Some(key) => {
            let digest = Sha256::digest(key);
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            u64::from_le_bytes(first)
        }
        None => uuid::Uuid::new_v4().as_u64_pair().0,
    };
    (bits >> 11) as f64 / (1u64 << 53) as f64
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
    version.check_missing(&inputs).map_err(InferError::Input)?;
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

/// Runs a copy of a request on the shadow version, off the request path, and logs its answer
/// (marked shadow, under the request's id) for comparison; a failure is logged, never returned.
pub fn shadow(
    log: Arc<PredictionLog>,
    endpoint: String,
    request_id: String,
    version: Arc<Loaded>,
    inputs: Vec<(String, Tensor)>,
    max_rows: usize,
) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match run(version, inputs, max_rows).await {
            Ok(inference) => log.record(Logged::answer(endpoint, request_id, inference, started, true)),
            Err(error) => tracing::info!(%endpoint, %request_id, %error, "the shadow version refused a copy"),
        }
    });
}
