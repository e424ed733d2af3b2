/// Why input could not be read as records of the schema. Names the line and, where it applies,
/// the column, so the producer can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
pub struct DecodeError {
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl DecodeError {
    pub(crate) fn at(line: u64, message: impl Into<String>) -> Self {
        Self { line, column: None, message: message.into() }
    }

    pub(crate) fn in_column(line: u64, column: &str, message: impl Into<String>) -> Self {
        Self { line, column: Some(column.to_owned()), message: message.into() }
    }
}
