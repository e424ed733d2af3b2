#![doc = include_str!("../README.md")]

mod builders;
mod error;
mod layout;
mod quarantine;
mod store;
mod writer;

pub use error::StorageError;
pub use layout::arrow_schema;
pub use quarantine::QuarantineWriter;
pub use store::{OfflineStore, StoredFile};
pub use writer::{PartitionedWriter, StagedFile};
