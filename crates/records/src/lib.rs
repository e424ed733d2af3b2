#![doc = include_str!("../README.md")]

mod csv_decoder;
mod error;
pub mod infer;
mod json_decoder;
pub mod parse;
mod profile;
mod quality;
mod split;
mod validate;
mod value;

pub use csv_decoder::{CellSink, ChunkDecoder, CsvDecoder, CsvHeader, CsvRecords};
pub use error::DecodeError;
pub use json_decoder::{JsonLinesDecoder, JsonRecordDecoder};
pub use profile::{ColumnProfile, ColumnState, Histogram, Profile, ProfileSummary, Quantile, TopValue};
pub use quality::{ColumnQuality, QualityReport};
pub use split::{CHUNK_BYTES, Chunk, Splitter};
pub use validate::{ColumnRules, Validator, Violation};
pub use value::{Cell, Record, Value};

/// A decoded record and the line it started on (1-based; the header is line 1 in CSV).
pub type Numbered = (u64, Record);
