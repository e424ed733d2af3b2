#![doc = include_str!("../README.md")]

mod id;
mod name;
mod schema;
mod service;
mod time;

pub use id::{BatchId, EventId, MaterializationId, RunId, TrainingDataId};
pub use name::{Name, NameError};
pub use schema::{Column, ColumnType, EvolutionError, Rules, Schema, SchemaError};
pub use service::ServiceKind;
pub use time::Timestamp;
