//! The input formats of a batch, named by a query parameter, a content type or an extension.

/// The input formats of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    /// `csv`, `jsonl` (or `ndjson`), `parquet`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::JsonLines),
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format a file name's extension says (`.csv`, `.jsonl`, `.ndjson`, `.parquet`).
    pub fn from_extension(path: &str) -> Option<Self> {
        Self::parse(path.rsplit_once('.')?.1.to_ascii_lowercase().as_str())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}
