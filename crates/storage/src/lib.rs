#![doc = include_str!("../README.md")]

mod builders;
mod error;
mod layout;
mod object_reader;
mod parquet_input;
mod quarantine;
mod remote;
mod store;
mod writer;

pub use error::StorageError;
pub use layout::arrow_schema;
pub use parquet_input::ParquetRecords;
pub use quarantine::{QuarantineWriter, Quarantined};
pub use remote::{Source, SourceError, open_source, s3_bucket};
pub use store::{OfflineStore, StoredFile, hex};
pub use writer::{PartitionedWriter, StagedFile};
