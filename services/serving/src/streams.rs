//! Stream scoring: an endpoint with a `stream` reads records from a JetStream stream and publishes
//! an answer per record — its prediction, or why it has none — on another subject. The replicas
//! share one durable consumer per endpoint, so each record is read by one of them; a batch of
//! records is predicted in one run, every answer is published with the id `<endpoint>:<stream
//! sequence>` (a repeat within the output stream's duplicate window is dropped) and acknowledged
//! by JetStream, and only then are the records acknowledged: a replica that dies mid-batch leaves
//! its records to be read again, and their answers are not published twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, AckKind, Message, stream};
use cairn_api::{PredictRequest, PredictResponse, Records, StreamScoring};
use cairn_bus::Bus;
use cairn_http::ApiError;
use futures::StreamExt as _;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::State;
use crate::infer::InferError;
use crate::predict;

/// Records read and predicted together, at most.
const BATCH: usize = 512;
/// How long a read waits for records.
const WAIT: Duration = Duration::from_secs(1);
/// How long a record may stay unacknowledged before it is delivered again.
const ACK_WAIT: Duration = Duration::from_secs(60);
/// How often the endpoints are checked for streams to start or stop.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// Kept in the streams made for a subject no stream captured.
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// The header holding an answer's id, which makes a repeat a duplicate.
const MESSAGE_ID: &str = "Nats-Msg-Id";

/// Starts and stops each endpoint's stream reader as endpoints change, until `shutdown`.
pub fn start(bus: Bus, state: Arc<State>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut running: HashMap<String, (StreamScoring, CancellationToken)> = HashMap::new();
        loop {
            let wanted = state.endpoints.streams();
            running.retain(|endpoint, (stream, stop)| {
                let keep = wanted.get(endpoint) == Some(stream);
                if !keep {
                    stop.cancel();
                }
                keep
            });
            for (endpoint, stream) in wanted {
                if running.contains_key(&endpoint) {
                    continue;
                }
                let stop = shutdown.child_token();
                let reader =
                    Reader { bus: bus.clone(), state: Arc::clone(&state), endpoint: endpoint.clone() };
                tokio::spawn(reader.follow(stream.clone(), stop.clone()));
                running.insert(endpoint, (stream, stop));
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    });
}

struct Reader {
    bus: Bus,
    state: Arc<State>,
    endpoint: String,
}

impl Reader {
    /// Reads until `stop`, starting over after a pause whenever NATS fails it.
    async fn follow(self, stream: StreamScoring, stop: CancellationToken) {
        while !stop.is_cancelled() {
            if let Err(error) = self.read(&stream, &stop).await {
                tracing::warn!(endpoint = %self.endpoint, %error, "stream scoring paused; retrying");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }

    async fn read(&self, scoring: &StreamScoring, stop: &CancellationToken) -> Result<(), String> {
        let jetstream = self.bus.jetstream();
        let input = captured(jetstream, &self.endpoint, &scoring.input, "in").await?;
        captured(jetstream, &self.endpoint, &scoring.output, "out").await?;
        let durable = format!("serving-scoring-{}", token(&self.endpoint));
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: scoring.input.clone(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            ..Default::default()
        };
        let consumer =
            input.get_or_create_consumer(&durable, config).await.map_err(|error| error.to_string())?;
        while !stop.is_cancelled() {
            let mut fetched = consumer
                .fetch()
                .max_messages(BATCH)
                .expires(WAIT)
                .messages()
                .await
                .map_err(|error| error.to_string())?;
            let mut messages = Vec::new();
            while let Some(message) = fetched.next().await {
                messages.push(message.map_err(|error| error.to_string())?);
            }
            if !messages.is_empty() {
                self.answer(scoring, messages).await?;
            }
        }
        Ok(())
    }

    /// Predicts a batch and publishes an answer per record, then acknowledges the records. When
    /// the endpoint cannot answer now (not loaded, features unavailable) the records are left
    /// for later.
    async fn answer(&self, scoring: &StreamScoring, messages: Vec<Message>) -> Result<(), String> {
        let records: Vec<Result<Map<String, Value>, String>> = messages
            .iter()
            .map(|message| match serde_json::from_slice::<Value>(&message.payload) {
                Ok(Value::Object(record)) => Ok(record),
                Ok(_) => Err("a record is one JSON object".to_owned()),
                Err(error) => Err(format!("the record is not JSON: {error}")),
            })
            .collect();
        let answers = match self.predict(scoring, &records).await {
            Ok(answers) => answers,
            Err(error) => {
                tracing::info!(endpoint = %self.endpoint, %error, "stream scoring waits for the endpoint");
                for message in &messages {
                    let _ = message.ack_with(AckKind::Nak(Some(Duration::from_secs(1)))).await;
                }
                return Ok(());
            }
        };
        let jetstream = self.bus.jetstream();
        let mut published = Vec::with_capacity(messages.len());
        for (message, mut answer) in messages.iter().zip(answers) {
            let sequence = message.info().map(|info| info.stream_sequence).unwrap_or_default();
            answer.insert("sequence".into(), sequence.into());
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(MESSAGE_ID, format!("{}:{sequence}", self.endpoint).as_str());
            let body = serde_json::to_vec(&answer).map_err(|error| error.to_string())?;
            let ack = jetstream
                .publish_with_headers(scoring.output.clone(), headers, body.into())
                .await
                .map_err(|error| error.to_string())?;
            published.push(ack);
        }
        for ack in published {
            ack.await.map_err(|error| error.to_string())?;
        }
        for message in &messages {
            message.ack().await.map_err(|error| error.to_string())?;
        }
        Ok(())
    }

    /// An answer per record: the batch in one run, or — when some record is refused — each
    /// record alone, so that a bad one gets its reason and the others their predictions. `Err`
    /// when the endpoint cannot answer at all now.
    async fn predict(
        &self,
        scoring: &StreamScoring,
        records: &[Result<Map<String, Value>, String>],
    ) -> Result<Vec<Map<String, Value>>, InferError> {
        let good: Vec<Map<String, Value>> = records.iter().filter_map(|record| record.clone().ok()).collect();
        let together = if good.is_empty() { None } else { Some(self.run(scoring, good).await) };
        let mut predicted = match together {
            Some(Ok(response)) => Some(answers(&response).into_iter()),
            Some(Err(error)) if !refused(&error) => return Err(error),
            _ => None,
        };
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let answer = match (record, predicted.as_mut()) {
                (Err(reason), _) => failure(ApiError::invalid(reason.clone())),
                (Ok(_), Some(batch)) => batch.next().unwrap_or_default(),
                (Ok(record), None) => match self.run(scoring, vec![record.clone()]).await {
                    Ok(response) => answers(&response).into_iter().next().unwrap_or_default(),
                    Err(error) if refused(&error) => failure(error.into()),
                    Err(error) => return Err(error),
                },
            };
            out.push(answer);
        }
        Ok(out)
    }

    async fn run(
        &self,
        scoring: &StreamScoring,
        rows: Vec<Map<String, Value>>,
    ) -> Result<PredictResponse, InferError> {
        let rows = Some(Records::Many(rows));
        let request = if scoring.entity_keys {
            PredictRequest { entities: rows, ..PredictRequest::default() }
        } else {
            PredictRequest { records: rows, ..PredictRequest::default() }
        };
        predict::predict(&self.state, &self.endpoint, request, None).await
    }
}

/// Whether the records were refused (an answer for them), rather than the endpoint unable to
/// answer now (a reason to wait).
fn refused(error: &InferError) -> bool {
    matches!(error, InferError::Input(_) | InferError::TooManyRows { .. })
}

/// One answer per row of a response: who answered, the prediction, what was missing.
fn answers(response: &PredictResponse) -> Vec<Map<String, Value>> {
    response
        .predictions
        .iter()
        .enumerate()
        .map(|(row, prediction)| {
            let mut answer = Map::new();
            answer.insert("request_id".into(), response.request_id.clone().into());
            answer.insert("model".into(), response.model.clone().into());
            answer.insert("version".into(), response.version.into());
            answer.insert("prediction".into(), Value::Object(prediction.clone()));
            if let Some(missing) = response.missing.get(row).filter(|missing| !missing.is_empty()) {
                answer.insert("missing".into(), json!(missing));
            }
            answer
        })
        .collect()
}

fn failure(error: ApiError) -> Map<String, Value> {
    let mut answer = Map::new();
    answer.insert("error".into(), json!(error.body().error));
    answer
}

/// The stream that captures `subject`, made (`SCORING_<ENDPOINT>_<SIDE>`) when none does.
async fn captured(
    jetstream: &jetstream::Context,
    endpoint: &str,
    subject: &str,
    side: &str,
) -> Result<stream::Stream, String> {
    let name = match jetstream.stream_by_subject(subject).await {
        Ok(name) => name,
        Err(_) => {
            let name = format!("SCORING_{}_{}", token(endpoint).to_uppercase(), side.to_uppercase());
            let config = stream::Config {
                name: name.clone(),
                subjects: vec![subject.to_owned()],
                max_age: MAX_AGE,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            };
            jetstream
                .get_or_create_stream(config)
                .await
                .map_err(|error| format!("stream for {subject}: {error}"))?;
            tracing::info!(endpoint, subject, stream = %name, "made a stream for stream scoring");
            name
        }
    };
    jetstream.get_stream(&name).await.map_err(|error| format!("stream {name}: {error}"))
}

/// An endpoint name as a token of stream and consumer names (`.` is not allowed there).
fn token(endpoint: &str) -> String {
    endpoint.replace('.', "_")
}
