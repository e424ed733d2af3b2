#![doc = include_str!("../README.md")]

pub mod binary;
mod context;
mod outbox;
mod schedule;
mod signal;

pub use binary::Stoppable;
pub use context::{ReadinessPolicy, RunningService, ServiceContext, StartError, start};
pub use outbox::Outbox;
pub use schedule::{cores, every};
pub use signal::shutdown_signal;
