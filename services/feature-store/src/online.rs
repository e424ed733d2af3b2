//! Online features: the store, its values and Feast-shaped reads live in `cairn-online` (the
//! serving service reads them in process too); what only the feature store needs — reading
//! materialized rows out of Arrow batches — is here.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use cairn_storage::cells::{int_at, is_integer, micros_at, str_at};

pub use cairn_online::*;

use crate::point_in_time::JoinError;

/// Reads one column of a batch as [`Value`]s.
pub(crate) enum ColumnReader {
    Bool(ArrayRef),
    Int(ArrayRef),
    /// `u64` values beyond `i64` are read as floats.
    UInt64(ArrayRef),
    Float32(ArrayRef),
    Float64(ArrayRef),
    String(ArrayRef),
    Timestamp(ArrayRef),
}

impl ColumnReader {
    pub(crate) fn new(batch: &RecordBatch, column: &str, owner: &str) -> Result<Self, JoinError> {
        let array = batch
            .column_by_name(column)
            .ok_or_else(|| JoinError::MissingColumn(owner.to_owned(), column.to_owned()))?
            .clone();
        Ok(match array.data_type().clone() {
            DataType::Boolean => Self::Bool(array),
            DataType::UInt64 => Self::UInt64(array),
            integer if is_integer(&integer) => Self::Int(array),
            DataType::Float32 => Self::Float32(array),
            DataType::Float64 => Self::Float64(array),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::String(array),
            DataType::Timestamp(..) => Self::Timestamp(array),
            other => {
                return Err(JoinError::Arrow(format!(
                    "column `{column}` of {owner} is {other}, which online features do not hold"
                )));
            }
        })
    }

    fn array(&self) -> &ArrayRef {
        match self {
            Self::Bool(array)
            | Self::Int(array)
            | Self::UInt64(array)
            | Self::Float32(array)
            | Self::Float64(array)
            | Self::String(array)
            | Self::Timestamp(array) => array,
        }
    }

    pub(crate) fn value(&self, row: usize) -> Value {
        let array = self.array();
        if array.is_null(row) {
            return Value::Null;
        }
        let value = match self {
            Self::Bool(array) => Some(Value::Bool(array.as_boolean().value(row))),
            Self::Int(array) => int_at(array, row).map(Value::Int),
            Self::UInt64(array) => {
                let value = array.as_primitive::<UInt64Type>().value(row);
                Some(i64::try_from(value).map_or(Value::Float(value as f64), Value::Int))
            }
            Self::Float32(array) => {
                Some(Value::Float(f64::from(array.as_primitive::<Float32Type>().value(row))))
            }
            Self::Float64(array) => Some(Value::Float(array.as_primitive::<Float64Type>().value(row))),
            Self::String(array) => str_at(array, row).map(|text| Value::Str(text.to_owned())),
            Self::Timestamp(array) => micros_at(array, row).map(Value::Timestamp),
        };
        value.unwrap_or(Value::Null)
    }

    /// Row `row` as a key part; none when null (a null key matches nothing) or not a key type.
    pub(crate) fn key_part(&self, row: usize) -> Option<KeyPart<'_>> {
        let array = self.array();
        if array.is_null(row) {
            return None;
        }
        match self {
            Self::Bool(array) => Some(KeyPart::Bool(array.as_boolean().value(row))),
            Self::Int(array) | Self::UInt64(array) => int_at(array, row).map(KeyPart::Int),
            Self::String(array) => str_at(array, row).map(KeyPart::String),
            _ => None,
        }
    }

    /// Row `row` as microseconds; none when null or not a timestamp.
    pub(crate) fn micros(&self, row: usize) -> Option<i64> {
        match self {
            Self::Timestamp(array) if !array.is_null(row) => micros_at(array, row),
            _ => None,
        }
    }
}
