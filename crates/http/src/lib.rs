#![doc = include_str!("../README.md")]

mod error;
mod middleware;
mod server;
mod standard;

pub use error::{ApiError, ErrorBody, ErrorDetail, ErrorKind};
pub use server::{HttpOptions, RunningServer, ServiceApi, serve};
pub use standard::{Readiness, ReadinessCheck};
