//! Predictions over NATS request-reply: a request to `cairn.serving.predict.<endpoint>` carries
//! the JSON body `POST /v1/endpoints/<endpoint>/predict` takes and gets the same answer — or
//! the platform's error body (`{"error": {"code", "message"}}`) with a `Cairn-Status` header
//! holding the HTTP status the same error would have. Replicas subscribe in one queue group, so
//! each request is answered by one of them.

use std::sync::Arc;

use cairn_api::PredictRequest;
use cairn_bus::Bus;
use cairn_http::{ApiError, ErrorKind};
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use crate::State;
use crate::predict;

/// Requests for endpoint `name` go to `cairn.serving.predict.<name>`.
pub const SUBJECT_PREFIX: &str = "cairn.serving.predict.";
const QUEUE_GROUP: &str = "cairn-serving";
/// The header an answer carries its status in (200, or the error's HTTP status).
pub const STATUS_HEADER: &str = "Cairn-Status";

/// Answers requests until `shutdown`; each is answered on a task of its own.
pub async fn start(bus: &Bus, state: Arc<State>, shutdown: CancellationToken) -> Result<(), String> {
    let client = bus.client().clone();
    let mut requests = client
        .queue_subscribe(format!("{SUBJECT_PREFIX}*"), QUEUE_GROUP.to_owned())
        .await
        .map_err(|error| format!("subscribe to {SUBJECT_PREFIX}*: {error}"))?;
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = shutdown.cancelled() => break,
                message = requests.next() => match message { Some(message) => message, None => break },
            };
            let Some(reply) = message.reply.clone() else { continue };
            let (state, client) = (Arc::clone(&state), client.clone());
            tokio::spawn(async move {
                let endpoint = message.subject.as_str().strip_prefix(SUBJECT_PREFIX).unwrap_or_default();
                let (status, body) = answer(&state, endpoint, &message.payload).await;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(STATUS_HEADER, status.to_string().as_str());
                if let Err(error) = client.publish_with_headers(reply, headers, body.into()).await {
                    tracing::debug!(%error, endpoint, "a prediction's reply was not sent");
                }
            });
        }
    });
    Ok(())
}

/// The status and JSON body answering one request.
async fn answer(state: &State, endpoint: &str, payload: &[u8]) -> (u16, Vec<u8>) {
    let request: PredictRequest = match serde_json::from_slice(payload) {
        Ok(request) => request,
        Err(error) => {
            let message = format!("the request is not a prediction request: {error}");
            return failure(ApiError::new(ErrorKind::BadRequest, message));
        }
    };
    match predict::predict(state, endpoint, request, None).await {
        Ok(response) => (200, serde_json::to_vec(&response).unwrap_or_default()),
        Err(error) => failure(error.into()),
    }
}

fn failure(error: ApiError) -> (u16, Vec<u8>) {
    (error.kind.status().as_u16(), serde_json::to_vec(&error.body()).unwrap_or_default())
}
