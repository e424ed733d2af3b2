#![doc = include_str!("../README.md")]

mod builders;
pub mod cells;
pub mod columns;
mod error;
mod layout;
mod object_reader;
mod parquet_input;
mod quarantine;
mod remote;
mod store;
mod writer;

pub use arrow_array::RecordBatch;
pub use builders::BatchBuilder;
pub use cairn_objects::{hex, s3_bucket};
pub use error::StorageError;
pub use layout::{arrow_schema, data_type};
pub use parquet_input::ParquetBatches;
pub use quarantine::{QuarantineWriter, Quarantined};
pub use remote::{Source, SourceError, open_source};
pub use store::{OfflineStore, ParquetFile, StoredFile};
pub use writer::{Closing, PartitionedWriter, StagedFile};
