#![doc = include_str!("../README.md")]

mod load;
mod model;
mod secret;
mod validate;

pub use load::{ConfigError, load, load_from};
pub use model::{
    CairnConfig, DatabaseConfig, EndpointMonitoring, FeatureMonitoring, FeaturesConfig, FeedbackConfig,
    HttpConfig, IngestionConfig, LogFormat, ModelRuntimeConfig, MonitorConfig, NatsConfig, S3Config,
    ServiceConfig, ServicesConfig, StorageConfig, TelemetryConfig, UpConfig,
};
pub use secret::{Secret, redact_url};
