//! The prediction log: every answered request goes to JetStream for monitoring, off the request
//! path. A request hands its record to a bounded queue and never waits; one task takes what is
//! waiting — one record under light load, up to `BATCH` under heavy load — and publishes it as
//! one `PredictionLogBatch` (`cairn.predictions.log_batch`): a message per batch, not per
//! prediction, which is what keeps the log's cost (serialization, the publish and its
//! acknowledgement, JetStream's storage) small beside the prediction's. When the queue is full
//! (the bus slower than the traffic, or away) the record is dropped and counted — in
//! `cairn_prediction_log_dropped_total` — never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use cairn_bus::Bus;
use cairn_events::v1;
use cairn_runtime::{Output, Tensor, TensorData};
use prometheus::IntCounter;
use prost::Message as _;
use serde::Serialize;
use serde::ser::SerializeMap as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::infer::Inference;

/// Records waiting to be published, at most; past it they are dropped.
const QUEUE: usize = 8192;
/// Records published in one batch, at most ...
const BATCH: usize = 512;
/// ... and the size a batch stops growing at (NATS refuses messages over 1 MiB by default).
const BATCH_BYTES: usize = 512 * 1024;

/// One answered request.
#[derive(Debug)]
pub struct Logged {
    pub endpoint: String,
    pub model: String,
    pub version: i64,
    pub request_id: String,
    pub inputs: Vec<(String, Tensor)>,
    pub outputs: Vec<Output>,
    pub latency_micros: i64,
    /// Answered by the shadow version, for comparison only.
    pub shadow: bool,
    /// When it was answered, µs since the epoch.
    pub answered_at: i64,
}

impl Logged {
    /// The record of `inference`, which took from `started` until now.
    pub fn answer(
        endpoint: String,
        request_id: String,
        inference: Inference,
        started: Instant,
        shadow: bool,
    ) -> Self {
        Self {
            endpoint,
            model: inference.version.model.clone(),
            version: inference.version.version,
            request_id,
            inputs: inference.inputs,
            outputs: inference.outputs,
            latency_micros: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            shadow,
            answered_at: cairn_domain::Timestamp::now().as_micros(),
        }
    }
}

pub struct PredictionLog {
    queue: mpsc::Sender<Logged>,
    dropped: IntCounter,
    /// When a record was last dropped (milliseconds since the epoch; 0: never).
    last_drop_millis: Arc<AtomicU64>,
}

/// A drop this recent makes the log degraded in `/readyz`.
const LOSS_WINDOW_MILLIS: u64 = 60_000;

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

impl PredictionLog {
    /// Starts the publishing task; it ends with `shutdown`, after publishing what it holds.
    pub fn start(bus: Bus, registry: &prometheus::Registry, shutdown: CancellationToken) -> Self {
        let (queue, mut records) = mpsc::channel::<Logged>(QUEUE);
        let dropped = IntCounter::new(
            "prediction_log_dropped_total",
            "Predictions not logged: the queue to JetStream was full, or publishing failed",
        )
        .unwrap_or_else(|error| unreachable!("a fixed, valid metric: {error}"));
        let _ = registry.register(Box::new(dropped.clone()));
        let lost = dropped.clone();
        let last_drop_millis = Arc::new(AtomicU64::new(0));
        let lost_at = Arc::clone(&last_drop_millis);
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    record = records.recv() => record,
                    () = shutdown.cancelled() => { records.close(); records.recv().await }
                };
                let Some(first) = first else { break };
                let first = prediction(first);
                let mut bytes = first.encoded_len();
                let mut batch = vec![first];
                while batch.len() < BATCH && bytes < BATCH_BYTES {
                    let Ok(record) = records.try_recv() else { break };
                    let record = prediction(record);
                    bytes += record.encoded_len();
                    batch.push(record);
                }
                let records = batch.len();
                let event = v1::PredictionLogBatch { predictions: batch };
                if let Err(error) = bus.publish(&event).await {
                    tracing::warn!(%error, records, "prediction log: a batch was not published");
                    lost.inc_by(records as u64);
                    lost_at.store(now_millis(), Ordering::Relaxed);
                }
            }
        });
        Self { queue, dropped, last_drop_millis }
    }

    /// Queues a record; drops it (counted) when the queue is full.
    pub fn record(&self, logged: Logged) {
        if self.queue.try_send(logged).is_err() {
            self.dropped.inc();
            self.last_drop_millis.store(now_millis(), Ordering::Relaxed);
        }
    }

    /// The counter of records not logged.
    pub fn dropped(&self) -> IntCounter {
        self.dropped.clone()
    }

    /// Why the log is degraded: records dropped within the last minute.
    pub fn loss(&self) -> Option<String> {
        let last = self.last_drop_millis.load(Ordering::Relaxed);
        let ago = now_millis().saturating_sub(last);
        (last > 0 && ago < LOSS_WINDOW_MILLIS).then(|| {
            format!(
                "prediction log: {} predictions not logged since start, the latest {} s ago \
                 (the bus is away or slower than the traffic; see cairn_prediction_log_dropped_total)",
                self.dropped.get(),
                ago / 1000
            )
        })
    }
}

fn prediction(logged: Logged) -> v1::PredictionLogged {
    let inputs = logged.inputs.iter().map(|(name, tensor)| (name.as_str(), tensor));
    let outputs = logged.outputs.iter().map(|output| (output.name.as_str(), &output.tensor));
    v1::PredictionLogged {
        deployment: logged.endpoint,
        model: logged.model,
        version: logged.version,
        request_id: logged.request_id,
        inputs_json: tensors_json(inputs),
        outputs_json: tensors_json(outputs),
        latency_micros: logged.latency_micros,
        shadow: logged.shadow,
        answered_at_unix_micros: logged.answered_at,
    }
}

/// `{"name": {"datatype": "FP32", "shape": [1, 8], "data": [...]}, ...}`: the Open Inference
/// Protocol's tensor, flat data; non-finite floats as null.
fn tensors_json<'a>(tensors: impl Iterator<Item = (&'a str, &'a Tensor)>) -> String {
    struct Tensors<'a>(Vec<(&'a str, &'a Tensor)>);
    impl Serialize for Tensors<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (name, tensor) in &self.0 {
                map.serialize_entry(name, &Json(tensor))?;
            }
            map.end()
        }
    }
    struct Json<'a>(&'a Tensor);
    impl Serialize for Json<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(3))?;
            map.serialize_entry("datatype", self.0.datatype().as_str())?;
            map.serialize_entry("shape", &self.0.shape)?;
            match &self.0.data {
                TensorData::Bool(values) => map.serialize_entry("data", values)?,
                TensorData::Uint8(values) => map.serialize_entry("data", values)?,
                TensorData::Uint16(values) => map.serialize_entry("data", values)?,
                TensorData::Uint32(values) => map.serialize_entry("data", values)?,
                TensorData::Uint64(values) => map.serialize_entry("data", values)?,
                TensorData::Int8(values) => map.serialize_entry("data", values)?,
                TensorData::Int16(values) => map.serialize_entry("data", values)?,
                TensorData::Int32(values) => map.serialize_entry("data", values)?,
                TensorData::Int64(values) => map.serialize_entry("data", values)?,
                TensorData::Fp32(values) => map.serialize_entry("data", values)?,
                TensorData::Fp64(values) => map.serialize_entry("data", values)?,
                TensorData::Bytes(values) => map.serialize_entry("data", values)?,
            }
            map.end()
        }
    }
    serde_json::to_string(&Tensors(tensors.collect())).unwrap_or_default()
}
