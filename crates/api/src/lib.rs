#![doc = include_str!("../README.md")]

mod datasets;
mod error;
mod operations;

pub use datasets::{Dataset, NewDataset, SourceDataset};
pub use error::{ErrorBody, ErrorDetail};
pub use operations::{Health, Readiness};
