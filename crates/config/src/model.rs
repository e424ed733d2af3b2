use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_domain::ServiceKind;
use serde::{Deserialize, Serialize};

use crate::Secret;

/// The whole platform configuration. Every service reads the sections it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CairnConfig {
    /// Where local state lives: SQLite files, NATS storage under `cairn up`, offline data.
    pub data_dir: PathBuf,
    pub nats: NatsConfig,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub telemetry: TelemetryConfig,
    pub storage: StorageConfig,
    pub ingestion: IngestionConfig,
    pub features: FeaturesConfig,
    pub registry: RegistryConfig,
    pub runtime: ModelRuntimeConfig,
    pub serving: ServingConfig,
    pub monitor: MonitorConfig,
    pub services: ServicesConfig,
    pub up: UpConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// One or more server URLs, comma separated (`nats://`, `tls://`).
    pub url: String,
    /// Give up connecting at start after this long (retrying with backoff until then).
    pub connect_timeout_secs: u64,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub token: Secret,
    /// A `.creds` file (JWT + NKey seed), as issued by `nsc`.
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    #[serde(default)]
    pub require_tls: bool,
    /// PEM bundle of CA certificates that sign the server certificate.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://PATH`; empty gives each service `<data_dir>/<service>.db`.
    /// A secret because PostgreSQL URLs usually carry a password.
    pub url: Secret,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub host: String,
    /// Request bodies larger than this are refused with 413.
    pub max_body_bytes: usize,
    /// How long a stopping service lets in-flight requests finish.
    pub shutdown_timeout_secs: u64,
    /// Threads answering HTTP requests; 0 means one per core, at most 4.
    pub workers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// A `tracing` filter directive, e.g. `info` or `info,cairn_bus=debug`.
    pub log_level: String,
    pub log_format: LogFormat,
    /// OTLP/HTTP endpoint (e.g. `http://collector:4318`); empty disables export.
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Local directory of the offline store; empty means `<data_dir>/offline`. Unused when
    /// `offline_url` is set.
    pub offline_root: String,
    /// `s3://bucket[/prefix]`: the offline store in S3 or S3-compatible storage (`[storage.s3]`).
    /// Empty: the local directory.
    #[serde(default)]
    pub offline_url: String,
    /// `s3://bucket[/prefix]`: the registry's artifacts (models, run files) in S3 or
    /// S3-compatible storage. Empty: `<data_dir>/artifacts`.
    #[serde(default)]
    pub artifacts_url: String,
    #[serde(default)]
    pub s3: S3Config,
}

/// Credentials and endpoint for `s3://` URLs: the offline store and batch imports. Unset values
/// come from the usual `AWS_*` environment variables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// An S3-compatible service (MinIO, Ceph, R2, …), e.g. `http://minio:9000`; empty: AWS.
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: Secret,
    /// Allow `http://` endpoints (test and on-premises setups).
    #[serde(default)]
    pub allow_http: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The largest artifact file accepted in one upload.
    pub max_artifact_bytes: u64,
    /// Users who may protect aliases and approve (or reject) requests to move protected ones.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// API tokens by user name. Empty: requests are not authenticated and the user is whoever
    /// the request names (basic-auth user or `X-Cairn-User`). Set: every request to the
    /// registry's API must carry a user's token, as the password of HTTP basic auth (what MLflow
    /// clients send for MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) or as
    /// `Authorization: Bearer` (MLFLOW_TRACKING_TOKEN).
    #[serde(default)]
    pub tokens: BTreeMap<String, Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionConfig {
    /// A batch with a larger share (0–1) of quarantined records fails as a whole.
    pub quarantine_threshold: f64,
    /// Largest micro-batch of streamed records written at once.
    pub stream_flush_rows: usize,
    /// Longest a streamed record waits for its micro-batch to fill.
    pub stream_flush_millis: u64,
    /// How often streamed records become a new version; 0 disables the schedule.
    pub snapshot_interval_secs: u64,
    /// Local directories a batch may be imported from by path (`POST …/imports` with a
    /// `file://` URL). Empty: imports by path are refused.
    #[serde(default)]
    pub import_roots: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    /// Memory the in-process replicas of online features may hold together (keys, values and
    /// bookkeeping), in MiB, in each process that reads them (the feature store, and serving for
    /// entity keys); beyond it, reads ask the NATS KV for what is not held.
    pub online_replica_mib: usize,
    /// Answer null for values older than their view's TTL (always reported `OUTSIDE_MAX_AGE`).
    pub null_outside_max_age: bool,
    /// How often every online feature view is materialized from its watermark; 0 disables the
    /// schedule (the streaming path still writes every landed batch).
    pub materialize_interval_secs: u64,
    /// The largest entity file historical retrieval accepts, MiB.
    pub max_entity_upload_mib: u64,
    /// Memory one run of a feature view's SQL transformation may hold (sorts, windows,
    /// aggregates), MiB; past it, the query spills to disk.
    pub transform_memory_mib: u64,
}

/// The model runtime (ONNX Runtime) that serving, training's evaluation and monitoring load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRuntimeConfig {
    /// The ONNX Runtime shared library (`libonnxruntime.so`). Empty: the `ORT_DYLIB_PATH`
    /// environment variable, else where `infra/local/setup` installs it
    /// (`~/.cache/cairn/onnxruntime/libonnxruntime.so`).
    #[serde(default)]
    pub onnxruntime: String,
}

impl ModelRuntimeConfig {
    /// The configured library, `None` when empty (the runtime then looks further).
    pub fn onnxruntime_library(&self) -> Option<PathBuf> {
        Some(PathBuf::from(&self.onnxruntime)).filter(|_| !self.onnxruntime.is_empty())
    }
}

/// The serving service: where it keeps downloaded models and how it runs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingConfig {
    /// Where downloaded model files are cached, by hash; empty: `<data_dir>/serving/models`.
    #[serde(default)]
    pub model_cache_dir: String,
    /// Sessions per loaded model version: requests one version runs at once (0: one per core,
    /// at most 4).
    pub sessions: usize,
    /// Token for the registry when it requires authentication (`registry.tokens`).
    #[serde(default)]
    pub registry_token: Secret,
    /// The most rows one request may carry.
    pub max_rows: usize,
    /// A version failing more than this share of its requests (at least 20) over a period is
    /// raised as `ServingErrorRate` ...
    #[serde(default = "ServingConfig::default_alert_error_rate")]
    pub alert_error_rate: f64,
    /// ... looked at this often, as predictions the log lost are (`PredictionLogLoss`).
    #[serde(default = "ServingConfig::default_alert_period_secs")]
    pub alert_period_secs: u64,
}

impl ServingConfig {
    fn default_alert_error_rate() -> f64 {
        0.05
    }

    fn default_alert_period_secs() -> u64 {
        60
    }
}

/// The monitor: how the prediction log is cut into windows and each window judged for drift.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// A window of one endpoint's model version closes after this many predictions ...
    pub window_predictions: u64,
    /// ... or this many seconds after its first prediction, once it holds at least
    /// `min_window_predictions` (fewer wait for more).
    pub window_secs: u64,
    pub min_window_predictions: u64,
    /// A window's dataset drifts when at least this share (0–1] of its features drift.
    pub drift_share: f64,
    /// Per endpoint: other windows, share, and per feature the method and threshold.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointMonitoring>,
    /// URLs every monitoring event (drift, degradation, a loop's decision) is POSTed to as JSON,
    /// retried with backoff (env: comma separated).
    #[serde(default)]
    pub webhooks: Vec<String>,
    /// Signs each webhook body: `Cairn-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    #[serde(default)]
    pub webhook_secret: Secret,
}

/// One endpoint's monitoring where it differs from `[monitor]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointMonitoring {
    pub window_predictions: Option<u64>,
    pub window_secs: Option<u64>,
    pub drift_share: Option<f64>,
    #[serde(default)]
    pub features: BTreeMap<String, FeatureMonitoring>,
    /// Ground truth for the endpoint's predictions, arriving late as a dataset.
    pub feedback: Option<FeedbackConfig>,
}

/// Where an endpoint's ground truth arrives: a dataset whose rows name the request they label.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackConfig {
    /// The dataset the labels are ingested into (any ingestion path).
    pub dataset: String,
    /// Its column holding the request id serving answered with (`<id>:<row>` for a row of a
    /// request of several).
    #[serde(default = "FeedbackConfig::default_key")]
    pub key: String,
    /// Its column holding the truth (a number; `true`/`false` for a binary label).
    pub label: String,
    /// Business columns tracked beside the metrics, summed per window and version (e.g. the
    /// amount of fraud caught: the amount where the model flagged it and the label agrees).
    /// From the environment: comma separated.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub kpis: Vec<String>,
    /// Columns of the feedback dataset that slice each window's metrics (a region, a customer
    /// segment): the metric per value, to see where the model fails. From the environment: comma
    /// separated.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub slices: Vec<String>,
    /// Labels a window needs before its live metrics are compared with the holdout's.
    #[serde(default = "FeedbackConfig::default_min_labels")]
    pub min_labels: u64,
    /// How far (relative) the live metric may fall behind the version's holdout metric before
    /// the window is reported degraded.
    #[serde(default = "FeedbackConfig::default_tolerance")]
    pub tolerance: f64,
    /// The metric compared; empty: `roc_auc` for a binary classifier, `rmse` for a regressor.
    #[serde(default)]
    pub metric: String,
}

/// A list, or (from the environment, under a key named at run time) a comma-separated string.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::List(list) => list,
        Either::Text(text) => {
            text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect()
        }
    })
}

impl FeedbackConfig {
    fn default_key() -> String {
        "request_id".into()
    }

    fn default_min_labels() -> u64 {
        50
    }

    fn default_tolerance() -> f64 {
        0.05
    }
}

/// One feature's drift test where it differs from Evidently's default for its type and size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureMonitoring {
    /// `psi`, `wasserstein`, `jensen_shannon`, `chi_square`, `ks` or `z`.
    pub method: Option<String>,
    pub threshold: Option<f64>,
    /// Not judged (still counted).
    #[serde(default)]
    pub ignore: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// HTTP port; 0 picks a free one.
    pub port: u16,
    /// Where the other services reach this one; empty: `http://127.0.0.1:<port>` (one machine).
    #[serde(default)]
    pub url: String,
    /// Overrides `database.url` for this service.
    #[serde(default)]
    pub database_url: Secret,
}

impl ServiceConfig {
    /// The base URL other services call it at.
    pub fn base_url(&self) -> String {
        if self.url.is_empty() {
            format!("http://127.0.0.1:{}", self.port)
        } else {
            self.url.trim_end_matches('/').to_owned()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    pub ingestion: ServiceConfig,
    pub feature_store: ServiceConfig,
    pub training: ServiceConfig,
    pub registry: ServiceConfig,
    pub serving: ServiceConfig,
    pub monitor: ServiceConfig,
}

impl ServicesConfig {
    pub fn get(&self, kind: ServiceKind) -> &ServiceConfig {
        match kind {
            ServiceKind::Ingestion => &self.ingestion,
            ServiceKind::FeatureStore => &self.feature_store,
            ServiceKind::Training => &self.training,
            ServiceKind::Registry => &self.registry,
            ServiceKind::Serving => &self.serving,
            ServiceKind::Monitor => &self.monitor,
        }
    }

    pub fn get_mut(&mut self, kind: ServiceKind) -> &mut ServiceConfig {
        match kind {
            ServiceKind::Ingestion => &mut self.ingestion,
            ServiceKind::FeatureStore => &mut self.feature_store,
            ServiceKind::Training => &mut self.training,
            ServiceKind::Registry => &mut self.registry,
            ServiceKind::Serving => &mut self.serving,
            ServiceKind::Monitor => &mut self.monitor,
        }
    }
}

/// Settings of `cairn up`, the local platform.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpConfig {
    /// The nats-server binary: a name looked up on PATH, or a path.
    pub nats_server_bin: String,
    /// Port of the nats-server child (not 4222, so it never collides with a system server).
    pub nats_port: u16,
    pub ready_timeout_secs: u64,
    /// Training workers started beside the services (`cairn worker`, one trial at a time each).
    #[serde(default = "UpConfig::default_workers")]
    pub workers: usize,
}

impl UpConfig {
    fn default_workers() -> usize {
        1
    }
}

impl CairnConfig {
    /// The database URL a service uses: its own override, the shared URL, or a SQLite file
    /// under the data directory.
    pub fn database_url(&self, kind: ServiceKind) -> Secret {
        let own = &self.services.get(kind).database_url;
        if own.is_set() {
            return own.clone();
        }
        if self.database.url.is_set() {
            return self.database.url.clone();
        }
        let path = self.data_dir.join(format!("{}.db", kind.as_str()));
        Secret::new(format!("sqlite://{}", path.display()))
    }

    /// The artifact store's directory, when `storage.artifacts_url` is empty.
    pub fn artifacts_root(&self) -> PathBuf {
        self.data_dir.join("artifacts")
    }

    /// Where serving caches downloaded model files.
    pub fn model_cache_dir(&self) -> PathBuf {
        if self.serving.model_cache_dir.is_empty() {
            self.data_dir.join("serving").join("models")
        } else {
            PathBuf::from(&self.serving.model_cache_dir)
        }
    }

    /// The offline store's directory.
    pub fn offline_root(&self) -> PathBuf {
        if self.storage.offline_root.is_empty() {
            self.data_dir.join("offline")
        } else {
            PathBuf::from(&self.storage.offline_root)
        }
    }

    /// The effective configuration as TOML with every secret redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|error| format!("# cannot render: {error}"))
    }

    /// The effective configuration as JSON with every secret redacted.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
