#![doc = include_str!("../README.md")]

pub mod binary;
mod context;
mod outbox;
mod signal;

pub use context::{RunningService, ServiceContext, StartError, start};
pub use outbox::Outbox;
pub use signal::shutdown_signal;
