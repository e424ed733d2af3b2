/// Why input could not be read as records of the schema. Names the line (text formats) or row
/// (Parquet) and, where it applies, the column, so the producer can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{unit} {line}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
pub struct DecodeError {
    /// 1-based; 0 when the problem is the input as a whole.
    pub line: u64,
    /// `line` or `row`.
    pub unit: &'static str,
    pub column: Option<String>,
    pub message: String,
}

impl DecodeError {
    pub fn at(line: u64, message: impl Into<String>) -> Self {
        Self { line, unit: "line", column: None, message: message.into() }
    }

    pub fn in_column(line: u64, column: &str, message: impl Into<String>) -> Self {
        Self { line, unit: "line", column: Some(column.to_owned()), message: message.into() }
    }

    /// The same error counted in rows (formats without lines).
    pub fn in_rows(mut self) -> Self {
        self.unit = "row";
        self
    }
}
