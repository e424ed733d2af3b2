#![doc = include_str!("../README.md")]

mod error;
mod middleware;
mod server;
mod standard;

pub use cairn_api::{ErrorBody, ErrorDetail, Health, Readiness};
pub use error::{ApiError, ErrorKind};
pub use server::{HttpOptions, RunningServer, ServiceApi, serve};
pub use standard::{Check, ReadinessCheck};
