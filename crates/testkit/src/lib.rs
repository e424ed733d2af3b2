#![doc = include_str!("../README.md")]
#![expect(clippy::unwrap_used, reason = "a test harness fails loudly")]

mod binary;
mod config;
mod db;
mod memory;
mod nats;
mod process;
mod python;
mod s3;

pub use binary::{cairn, serve};
pub use config::config;
pub use db::TestDb;
pub use memory::{cpu_seconds, peak_rss_mb};
pub use nats::NatsServer;
pub use process::{ServerProcess, cairn_service, free_port, wait_ready};
pub use python::{onnxruntime_library, python, run_python};
pub use s3::S3Server;
