#![doc = include_str!("../README.md")]

mod init;
mod metrics;
pub mod propagation;

pub use init::{TelemetryError, TelemetryGuard, init};
pub use metrics::Metrics;
