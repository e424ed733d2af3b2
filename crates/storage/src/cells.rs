//! One cell of an Arrow column read as the platform's scalar types, whatever the column's exact
//! Arrow type: integers of any width as `i64`, any string layout as `&str`, any timestamp unit as
//! microseconds. Shared by the Parquet input of ingestion and the feature store's readers.

use arrow_array::ArrayRef;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_schema::{DataType, TimeUnit};

/// Whether a column of this type holds integers (of any width, signed or not).
pub fn is_integer(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// An integer column's value at `row`; none for another type or a `u64` beyond `i64`.
pub fn int_at(array: &ArrayRef, row: usize) -> Option<i64> {
    Some(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => i64::try_from(array.as_primitive::<UInt64Type>().value(row)).ok()?,
        _ => return None,
    })
}

/// A string column's value at `row` (`Utf8`, `LargeUtf8` or `Utf8View`); none for another type.
pub fn str_at(array: &ArrayRef, row: usize) -> Option<&str> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// A timestamp column's value at `row` in microseconds (nanoseconds round down); none for
/// another type or a time beyond the `i64` microsecond range.
pub fn micros_at(array: &ArrayRef, row: usize) -> Option<i64> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive::<TimestampSecondType>().value(row).checked_mul(1_000_000)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            array.as_primitive::<TimestampMillisecondType>().value(row).checked_mul(1_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Some(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Some(array.as_primitive::<TimestampNanosecondType>().value(row).div_euclid(1_000))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        Int16Array, LargeStringArray, StringArray, TimestampNanosecondArray, TimestampSecondArray,
        UInt64Array,
    };

    use super::*;

    #[test]
    fn cells_read_whatever_their_width_layout_or_unit() {
        let small: ArrayRef = Arc::new(Int16Array::from(vec![-3]));
        let huge: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 7]));
        assert_eq!((int_at(&small, 0), int_at(&huge, 0), int_at(&huge, 1)), (Some(-3), None, Some(7)));
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec!["b"]));
        assert_eq!((str_at(&text, 0), str_at(&large, 0), str_at(&small, 0)), (Some("a"), Some("b"), None));
        let seconds: ArrayRef = Arc::new(TimestampSecondArray::from(vec![2, i64::MAX]));
        let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![-1, 1_999]));
        assert_eq!((micros_at(&seconds, 0), micros_at(&seconds, 1)), (Some(2_000_000), None));
        assert_eq!((micros_at(&nanos, 0), micros_at(&nanos, 1)), (Some(-1), Some(1)), "rounded down");
        assert!(is_integer(&DataType::UInt8) && !is_integer(&DataType::Float32));
    }
}
