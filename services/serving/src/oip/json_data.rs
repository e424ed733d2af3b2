//! An input's JSON `data` into a typed vector, in one pass over the text: flat or nested to the
//! shape (the spec allows both; KServe sends what the user gave, tritonclient flat), flattened
//! in row-major order, each element checked against the datatype as it is read.

use std::fmt;

use cairn_runtime::{DataType, TensorData};
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Unexpected, Visitor};
use serde_json::value::RawValue;

use super::decode::without_position;

/// `data` of `elements` elements of `datatype`; the message says what is wrong with it.
pub(super) fn parse(
    raw: &RawValue,
    datatype: DataType,
    shape: &[usize],
    elements: usize,
) -> Result<TensorData, String> {
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(flat(raw, shape, elements)?),
        DataType::Uint8 => TensorData::Uint8(flat(raw, shape, elements)?),
        DataType::Uint16 => TensorData::Uint16(flat(raw, shape, elements)?),
        DataType::Uint32 => TensorData::Uint32(flat(raw, shape, elements)?),
        DataType::Uint64 => TensorData::Uint64(flat(raw, shape, elements)?),
        DataType::Int8 => TensorData::Int8(flat(raw, shape, elements)?),
        DataType::Int16 => TensorData::Int16(flat(raw, shape, elements)?),
        DataType::Int32 => TensorData::Int32(flat(raw, shape, elements)?),
        DataType::Int64 => TensorData::Int64(flat(raw, shape, elements)?),
        DataType::Fp32 => TensorData::Fp32(flat(raw, shape, elements)?),
        DataType::Fp64 => TensorData::Fp64(flat(raw, shape, elements)?),
        DataType::Bytes => TensorData::Bytes(flat(raw, shape, elements)?),
        DataType::Fp16 => return Err("datatype FP16 is not supported".to_owned()),
    })
}

fn flat<T: Element>(raw: &RawValue, shape: &[usize], elements: usize) -> Result<Vec<T>, String> {
    let text = raw.get();
    // JSON spends two bytes or more on an element (`1,`): a shape's element count reserves no
    // more room than the text could fill.
    let mut values = Vec::with_capacity(elements.min(text.len() / 2 + 1));
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Flat { values: &mut values, elements }
        .deserialize(&mut deserializer)
        .map_err(|error| format!("data: {}", without_position(&error)))?;
    if values.len() != elements {
        return Err(format!("shape {shape:?} holds {elements} elements, data has {}", values.len()));
    }
    Ok(values)
}

/// A JSON value that is an element, or an array of (arrays of …) elements, pushed in order.
struct Flat<'v, T> {
    values: &'v mut Vec<T>,
    elements: usize,
}

impl<'de, T: Element> DeserializeSeed<'de> for Flat<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Element> Visitor<'de> for Flat<'_, T> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}, or an array of them", T::EXPECTED)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // serde_json stops nesting at 128 levels, so this recursion is bounded.
        while seq.next_element_seed(Flat { values: &mut *self.values, elements: self.elements })?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.push(T::from_bool(value), Unexpected::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.push(T::from_i64(value), Unexpected::Signed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.push(T::from_u64(value), Unexpected::Unsigned(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        self.push(T::from_f64(value), Unexpected::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.push(T::from_str(value), Unexpected::Str(value))
    }
}

impl<T: Element> Flat<'_, T> {
    fn push<E: de::Error>(self, value: Option<T>, unexpected: Unexpected<'_>) -> Result<(), E> {
        let Some(value) = value else {
            return Err(E::invalid_value(unexpected, &self));
        };
        if self.values.len() == self.elements {
            return Err(E::custom(format_args!("more than the shape's {} elements", self.elements)));
        }
        self.values.push(value);
        Ok(())
    }
}

/// An element type as JSON writes it; a conversion gives `None` for a value it does not take.
trait Element: Sized {
    const EXPECTED: &'static str;

    fn from_bool(_: bool) -> Option<Self> {
        None
    }

    fn from_i64(_: i64) -> Option<Self> {
        None
    }

    fn from_u64(_: u64) -> Option<Self> {
        None
    }

    fn from_f64(_: f64) -> Option<Self> {
        None
    }

    fn from_str(_: &str) -> Option<Self> {
        None
    }
}

impl Element for bool {
    const EXPECTED: &'static str = "a BOOL (true or false)";

    fn from_bool(value: bool) -> Option<Self> {
        Some(value)
    }
}

impl Element for String {
    const EXPECTED: &'static str = "a BYTES element (a string)";

    fn from_str(value: &str) -> Option<Self> {
        Some(value.to_owned())
    }
}

/// Integers are taken as they are written, in range; `1.0` is not an integer.
macro_rules! integer {
    ($type:ty, $expected:literal) => {
        impl Element for $type {
            const EXPECTED: &'static str = $expected;

            fn from_i64(value: i64) -> Option<Self> {
                Self::try_from(value).ok()
            }

            fn from_u64(value: u64) -> Option<Self> {
                Self::try_from(value).ok()
            }
        }
    };
}

integer!(u8, "a UINT8 (an integer from 0 to 255)");
integer!(u16, "a UINT16 (an integer from 0 to 65535)");
integer!(u32, "a UINT32 (an integer from 0 to 4294967295)");
integer!(u64, "a UINT64 (an integer from 0 to 18446744073709551615)");
integer!(i8, "an INT8 (an integer from -128 to 127)");
integer!(i16, "an INT16 (an integer from -32768 to 32767)");
integer!(i32, "an INT32 (an integer from -2147483648 to 2147483647)");
integer!(i64, "an INT64 (an integer from -9223372036854775808 to 9223372036854775807)");

// Floats take integer literals too: KServe sends `[1, 2]` for an FP32 input given as ints.
impl Element for f32 {
    const EXPECTED: &'static str = "an FP32 number";

    fn from_i64(value: i64) -> Option<Self> {
        Some(value as f32)
    }

    fn from_u64(value: u64) -> Option<Self> {
        Some(value as f32)
    }

    /// A number past FP32's range (`1e39`) is refused rather than turned into an infinity.
    fn from_f64(value: f64) -> Option<Self> {
        let narrowed = value as f32;
        narrowed.is_finite().then_some(narrowed)
    }
}

impl Element for f64 {
    const EXPECTED: &'static str = "an FP64 number";

    fn from_i64(value: i64) -> Option<Self> {
        Some(value as f64)
    }

    fn from_u64(value: u64) -> Option<Self> {
        Some(value as f64)
    }

    fn from_f64(value: f64) -> Option<Self> {
        Some(value)
    }
}
