//! The binary tensor data extension's element layout, both ways: little-endian, row-major, no
//! padding; BOOL one byte, 0 or 1; BYTES each element a 4-byte little-endian length then its
//! bytes. The runtime's BYTES are strings, so a BYTES element must be UTF-8.

use cairn_runtime::{DataType, TensorData};

/// An input's binary data (its `binary_data_size` bytes) as `elements` elements of `datatype`.
pub(super) fn read(
    bytes: &[u8],
    datatype: DataType,
    shape: &[usize],
    elements: usize,
) -> Result<TensorData, String> {
    if let Some(width) = width(datatype) {
        let needed = elements.checked_mul(width);
        if needed != Some(bytes.len()) {
            return Err(format!(
                "binary_data_size is {}, but shape {shape:?} of {datatype} takes {} bytes",
                bytes.len(),
                needed.map_or("more".to_owned(), |needed| needed.to_string())
            ));
        }
    }
    Ok(match datatype {
        DataType::Bool => TensorData::Bool(bools(bytes)?),
        DataType::Uint8 => TensorData::Uint8(bytes.to_vec()),
        DataType::Uint16 => TensorData::Uint16(fixed(bytes, u16::from_le_bytes)),
        DataType::Uint32 => TensorData::Uint32(fixed(bytes, u32::from_le_bytes)),
        DataType::Uint64 => TensorData::Uint64(fixed(bytes, u64::from_le_bytes)),
        DataType::Int8 => TensorData::Int8(fixed(bytes, i8::from_le_bytes)),
        DataType::Int16 => TensorData::Int16(fixed(bytes, i16::from_le_bytes)),
        DataType::Int32 => TensorData::Int32(fixed(bytes, i32::from_le_bytes)),
        DataType::Int64 => TensorData::Int64(fixed(bytes, i64::from_le_bytes)),
        DataType::Fp32 => TensorData::Fp32(fixed(bytes, f32::from_le_bytes)),
        DataType::Fp64 => TensorData::Fp64(fixed(bytes, f64::from_le_bytes)),
        DataType::Bytes => TensorData::Bytes(strings(bytes, shape, elements)?),
        DataType::Fp16 => return Err("datatype FP16 is not supported".to_owned()),
    })
}

/// Bytes per element of a fixed-size datatype; `None` for BYTES.
fn width(datatype: DataType) -> Option<usize> {
    Some(match datatype {
        DataType::Bool | DataType::Uint8 | DataType::Int8 => 1,
        DataType::Uint16 | DataType::Int16 | DataType::Fp16 => 2,
        DataType::Uint32 | DataType::Int32 | DataType::Fp32 => 4,
        DataType::Uint64 | DataType::Int64 | DataType::Fp64 => 8,
        DataType::Bytes => return None,
    })
}

/// `bytes` is a whole number of elements (checked by the caller): no remainder is dropped.
fn fixed<T, const N: usize>(bytes: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|chunk| {
            let mut element = [0; N];
            element.copy_from_slice(chunk);
            from(element)
        })
        .collect()
}

fn bools(bytes: &[u8]) -> Result<Vec<bool>, String> {
    bytes
        .iter()
        .enumerate()
        .map(|(index, &byte)| match byte {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(format!("BOOL element {index} is the byte {byte}; BOOL bytes are 0 or 1")),
        })
        .collect()
}

fn strings(mut bytes: &[u8], shape: &[usize], elements: usize) -> Result<Vec<String>, String> {
    // Each element takes 4 bytes or more, so the bytes bound what is reserved.
    let mut values = Vec::with_capacity(elements.min(bytes.len() / 4));
    while !bytes.is_empty() {
        let index = values.len();
        if index == elements {
            return Err(format!(
                "binary data holds more than the {elements} BYTES elements of shape {shape:?}"
            ));
        }
        let Some((prefix, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(format!(
                "BYTES element {index}: {} bytes left, too few for its 4-byte length",
                bytes.len()
            ));
        };
        let len = u32::from_le_bytes(*prefix);
        let Some((value, rest)) = usize::try_from(len).ok().and_then(|len| rest.split_at_checked(len)) else {
            return Err(format!(
                "BYTES element {index} is {len} bytes long, but only {} are left",
                rest.len()
            ));
        };
        let value = std::str::from_utf8(value)
            .map_err(|_| format!("BYTES element {index} is not UTF-8; the server takes BYTES as text"))?;
        values.push(value.to_owned());
        bytes = rest;
    }
    if values.len() != elements {
        return Err(format!(
            "binary data holds {} BYTES elements, shape {shape:?} holds {elements}",
            values.len()
        ));
    }
    Ok(values)
}

/// The length of a tensor's binary data; `None` when a BYTES element is too long for its
/// 4-byte length.
pub(super) fn size(data: &TensorData) -> Option<usize> {
    match data {
        TensorData::Bytes(values) => values.iter().try_fold(0usize, |total, value| {
            u32::try_from(value.len()).ok()?;
            total.checked_add(4 + value.len())
        }),
        fixed => width(fixed.datatype()).and_then(|width| fixed.len().checked_mul(width)),
    }
}

/// Appends a tensor's binary data, whose [`size`] was `Some`.
pub(super) fn write(data: &TensorData, out: &mut Vec<u8>) {
    macro_rules! le {
        ($values:expr) => {
            for value in $values {
                out.extend_from_slice(&value.to_le_bytes());
            }
        };
    }
    match data {
        TensorData::Bool(values) => out.extend(values.iter().map(|&value| u8::from(value))),
        TensorData::Uint8(values) => out.extend_from_slice(values),
        TensorData::Uint16(values) => le!(values),
        TensorData::Uint32(values) => le!(values),
        TensorData::Uint64(values) => le!(values),
        TensorData::Int8(values) => le!(values),
        TensorData::Int16(values) => le!(values),
        TensorData::Int32(values) => le!(values),
        TensorData::Int64(values) => le!(values),
        TensorData::Fp32(values) => le!(values),
        TensorData::Fp64(values) => le!(values),
        TensorData::Bytes(values) => {
            for value in values {
                // `size` checked that every length fits.
                let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
}
