//! Join keys and times as the join compares them: keys numbered or encoded so that equal keys
//! are equal bytes, times read as microseconds whatever their unit.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt64Type,
};
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use cairn_storage::cells::{int_at, is_integer, str_at};

use super::JoinError;

/// A row's join key: one integer on its own (the common case, hashed as it is), or the encoded
/// values; null matches nothing.
pub(super) enum Key<'a> {
    Null,
    Int(i64),
    Bytes(&'a [u8]),
}

impl Key<'_> {
    /// Which of `parts` shares of the keys this one belongs to: the same for equal keys.
    pub(super) fn part(&self, parts: usize) -> usize {
        let hash = match self {
            Key::Null => 0,
            // Fibonacci hashing: the high bits of the product mix every bit of the value.
            Key::Int(value) => (*value as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32,
            // FNV-1a.
            Key::Bytes(bytes) => bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
            }),
        };
        (hash % parts as u64) as usize
    }
}

/// A small number for each distinct join key, in order of first sight.
#[derive(Default)]
pub(super) struct KeyIds {
    ints: HashMap<i64, u32, foldhash::fast::RandomState>,
    bytes: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
}

impl KeyIds {
    pub(super) fn len(&self) -> u32 {
        (self.ints.len() + self.bytes.len()) as u32
    }

    /// The key's number, a new one for a new key; none for a null key.
    pub(super) fn insert(&mut self, key: Key<'_>) -> Option<u32> {
        let next = self.len();
        match key {
            Key::Null => None,
            Key::Int(value) => Some(*self.ints.entry(value).or_insert(next)),
            Key::Bytes(bytes) => match self.bytes.get(bytes) {
                Some(id) => Some(*id),
                None => {
                    self.bytes.insert(bytes.into(), next);
                    Some(next)
                }
            },
        }
    }

    pub(super) fn find(&self, key: Key<'_>) -> Option<u32> {
        match key {
            Key::Null => None,
            Key::Int(value) => self.ints.get(&value).copied(),
            Key::Bytes(bytes) => self.bytes.get(bytes).copied(),
        }
    }
}

/// A column of timestamps, read as microseconds whatever its unit (without a copy).
pub(super) struct Times {
    values: PrimitiveArray<Int64Type>,
    unit: TimeUnit,
}

impl Times {
    pub(super) fn of(batch: &RecordBatch, column: &str, owner: &str) -> Result<Self, JoinError> {
        let index = batch
            .schema()
            .index_of(column)
            .map_err(|_| JoinError::MissingColumn(owner.to_owned(), column.to_owned()))?;
        let array = batch.column(index);
        let (values, nulls, unit) = match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                let typed = array.as_primitive::<TimestampSecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Second)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let typed = array.as_primitive::<TimestampMillisecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Millisecond)
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                let typed = array.as_primitive::<TimestampMicrosecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Microsecond)
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                let typed = array.as_primitive::<TimestampNanosecondType>();
                (typed.values().clone(), typed.nulls().cloned(), TimeUnit::Nanosecond)
            }
            other => {
                return Err(JoinError::NotATimestamp {
                    owner: owner.to_owned(),
                    column: column.to_owned(),
                    found: other.to_string(),
                });
            }
        };
        Ok(Self { values: PrimitiveArray::new(values, nulls), unit })
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Row `row`'s time in microseconds; none when null or out of range.
    pub(super) fn get(&self, row: usize) -> Option<i64> {
        if self.values.is_null(row) {
            return None;
        }
        let value = self.values.value(row);
        match self.unit {
            TimeUnit::Second => value.checked_mul(1_000_000),
            TimeUnit::Millisecond => value.checked_mul(1000),
            TimeUnit::Microsecond => Some(value),
            TimeUnit::Nanosecond => Some(value.div_euclid(1000)),
        }
    }
}

/// Encodes a row's join keys as bytes that are equal exactly when the keys are: integers of
/// any width as `i64`, strings length-prefixed, each value tagged with its kind.
pub(super) struct KeyEncoder {
    columns: Vec<ArrayRef>,
}

impl KeyEncoder {
    pub(super) fn new(batch: &RecordBatch, keys: &[String], owner: &str) -> Result<Self, JoinError> {
        let columns = keys
            .iter()
            .map(|key| {
                let column = batch
                    .column_by_name(key)
                    .ok_or_else(|| JoinError::MissingColumn(owner.to_owned(), key.clone()))?;
                match column.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
                        Ok(column.clone())
                    }
                    integer if is_integer(integer) => Ok(column.clone()),
                    _ => Err(JoinError::BadJoinKey(key.clone())),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { columns })
    }

    /// Row `row`'s key: a single integer column's value as it is, otherwise the encoded values
    /// (in `scratch`).
    pub(super) fn key<'s>(&self, row: usize, scratch: &'s mut Vec<u8>) -> Key<'s> {
        if let [column] = self.columns.as_slice() {
            if column.is_null(row) {
                return Key::Null;
            }
            if let Some(value) = int_at(column, row) {
                return Key::Int(value);
            }
        }
        if self.encode(row, scratch) { Key::Bytes(scratch) } else { Key::Null }
    }

    /// Writes row `row`'s key to `out`; false when one of its values is null (it matches nothing).
    fn encode(&self, row: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        for column in &self.columns {
            if column.is_null(row) {
                return false;
            }
            let text = |value: &str, out: &mut Vec<u8>| {
                out.push(2);
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value.as_bytes());
            };
            if let Some(value) = int_at(column, row) {
                out.push(1);
                out.extend_from_slice(&value.to_le_bytes());
                continue;
            }
            if let Some(value) = str_at(column, row) {
                text(value, out);
                continue;
            }
            match column.data_type() {
                // Beyond i64: its own kind, so it equals only itself.
                DataType::UInt64 => {
                    out.push(3);
                    out.extend_from_slice(&column.as_primitive::<UInt64Type>().value(row).to_le_bytes());
                }
                DataType::Boolean => out.extend_from_slice(&[4, u8::from(column.as_boolean().value(row))]),
                _ => return false,
            }
        }
        true
    }
}
