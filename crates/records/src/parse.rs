//! Text and JSON values to typed values, by column type.

use cairn_domain::{Column, ColumnType};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::{Cell, Value};

/// Parses one CSV field. An empty field is null (as DuckDB and pandas read CSV).
pub fn from_text(text: &str, column: &Column) -> Result<Value, String> {
    Ok(cell_from_text(text, column)?.map_or(Value::Null, Cell::to_value))
}

/// [`from_text`] borrowing the text of string values: none for null.
pub fn cell_from_text<'a>(text: &'a str, column: &Column) -> Result<Option<Cell<'a>>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("`{}` is not a {}", shorten(text), column.column_type.name());
    let cell = match &column.column_type {
        ColumnType::Bool => Cell::Bool(boolean(text).ok_or_else(bad)?),
        ColumnType::Int32 => Cell::Int(text.trim().parse::<i32>().map_err(|_| bad())?.into()),
        ColumnType::Int64 => Cell::Int(text.trim().parse::<i64>().map_err(|_| bad())?),
        ColumnType::Float32 | ColumnType::Float64 => {
            Cell::Float(text.trim().parse::<f64>().map_err(|_| bad())?)
        }
        ColumnType::String | ColumnType::Categorical { .. } => Cell::Str(text),
        ColumnType::Timestamp => Cell::Timestamp(timestamp(text.trim()).ok_or_else(bad)?),
    };
    Ok(Some(cell))
}

fn boolean(text: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["true", "t", "1", "yes", "y"];
    const FALSE: [&str; 5] = ["false", "f", "0", "no", "n"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// Converts one JSON value. JSON types must fit the column: a number for a string column is an
/// error, not silently converted.
pub fn from_json(value: &serde_json::Value, column: &Column) -> Result<Value, String> {
    use serde_json::Value as J;
    let bad = || format!("{} is not a {}", shorten(&value.to_string()), column.column_type.name());
    match (&column.column_type, value) {
        (_, J::Null) => Ok(Value::Null),
        (ColumnType::Bool, J::Bool(v)) => Ok(Value::Bool(*v)),
        (ColumnType::Int32, J::Number(n)) => {
            n.as_i64().and_then(|v| i32::try_from(v).ok()).map(|v| Value::Int(v.into())).ok_or_else(bad)
        }
        (ColumnType::Int64, J::Number(n)) => n.as_i64().map(Value::Int).ok_or_else(bad),
        (ColumnType::Float32 | ColumnType::Float64, J::Number(n)) => {
            n.as_f64().map(Value::Float).ok_or_else(bad)
        }
        (ColumnType::String | ColumnType::Categorical { .. }, J::String(s)) => Ok(Value::Str(s.clone())),
        (ColumnType::Timestamp, J::String(s)) => timestamp(s).map(Value::Timestamp).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]` or `YYYY-MM-DDTHH:MM:SS[.fff]` (UTC), or a date
/// (midnight UTC), as microseconds since the epoch.
pub fn timestamp(text: &str) -> Option<i64> {
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(parsed) = NaiveDateTime::parse_from_str(text, format) {
            return Some(parsed.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc().timestamp_micros())
}

/// Values quoted in messages are cut, so an error never carries a whole payload.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(json: &str) -> Column {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn text_is_parsed_by_type() {
        let int32 = column(r#"{"name":"a","type":"int32"}"#);
        assert_eq!(from_text("42", &int32), Ok(Value::Int(42)));
        assert!(from_text("3000000000", &int32).is_err(), "out of range for int32");
        assert_eq!(from_text("", &int32), Ok(Value::Null));
        let boolean = column(r#"{"name":"a","type":"bool"}"#);
        assert_eq!(from_text("Yes", &boolean), Ok(Value::Bool(true)));
        let ts = column(r#"{"name":"a","type":"timestamp"}"#);
        assert_eq!(from_text("1970-01-01T00:00:01Z", &ts), Ok(Value::Timestamp(1_000_000)));
        assert_eq!(from_text("1970-01-01 00:00:00.5", &ts), Ok(Value::Timestamp(500_000)));
        assert_eq!(from_text("1970-01-02", &ts), Ok(Value::Timestamp(86_400_000_000)));
        let error = from_text("soon", &ts).unwrap_err();
        assert_eq!(error, "`soon` is not a timestamp");
    }

    #[test]
    fn json_types_must_fit_the_column() {
        let string = column(r#"{"name":"a","type":"string"}"#);
        assert!(from_json(&serde_json::json!(5), &string).is_err());
        let int64 = column(r#"{"name":"a","type":"int64"}"#);
        assert!(from_json(&serde_json::json!(1.5), &int64).is_err());
        assert_eq!(from_json(&serde_json::json!(-7), &int64), Ok(Value::Int(-7)));
        let float = column(r#"{"name":"a","type":"float32"}"#);
        assert_eq!(from_json(&serde_json::json!(2), &float), Ok(Value::Float(2.0)));
    }
}
