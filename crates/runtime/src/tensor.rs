//! Tensors as the runtime takes and gives them: owned, typed, row-major, with the Open Inference
//! Protocol's names for element types so the serving layer maps them one to one.

use std::fmt;

/// An element type, named as the Open Inference Protocol (KServe V2) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Int8,
    Int16,
    Int32,
    Int64,
    /// Described in signatures; tensors of it are not supported (no `f16` without another crate).
    Fp16,
    Fp32,
    Fp64,
    /// Strings (ONNX `string`), UTF-8 here.
    Bytes,
}

impl DataType {
    /// The protocol's name: `FP32`, `INT64`, `BYTES`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "BOOL",
            Self::Uint8 => "UINT8",
            Self::Uint16 => "UINT16",
            Self::Uint32 => "UINT32",
            Self::Uint64 => "UINT64",
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Fp16 => "FP16",
            Self::Fp32 => "FP32",
            Self::Fp64 => "FP64",
            Self::Bytes => "BYTES",
        }
    }

    /// The type named by the protocol's `datatype` string.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|datatype| datatype.as_str() == name)
    }

    pub const ALL: [DataType; 13] = [
        Self::Bool,
        Self::Uint8,
        Self::Uint16,
        Self::Uint32,
        Self::Uint64,
        Self::Int8,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::Fp16,
        Self::Fp32,
        Self::Fp64,
        Self::Bytes,
    ];
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tensor's elements, flat in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Bool(Vec<bool>),
    Uint8(Vec<u8>),
    Uint16(Vec<u16>),
    Uint32(Vec<u32>),
    Uint64(Vec<u64>),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Fp32(Vec<f32>),
    Fp64(Vec<f64>),
    Bytes(Vec<String>),
}

impl TensorData {
    pub fn datatype(&self) -> DataType {
        match self {
            Self::Bool(_) => DataType::Bool,
            Self::Uint8(_) => DataType::Uint8,
            Self::Uint16(_) => DataType::Uint16,
            Self::Uint32(_) => DataType::Uint32,
            Self::Uint64(_) => DataType::Uint64,
            Self::Int8(_) => DataType::Int8,
            Self::Int16(_) => DataType::Int16,
            Self::Int32(_) => DataType::Int32,
            Self::Int64(_) => DataType::Int64,
            Self::Fp32(_) => DataType::Fp32,
            Self::Fp64(_) => DataType::Fp64,
            Self::Bytes(_) => DataType::Bytes,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Bool(values) => values.len(),
            Self::Uint8(values) => values.len(),
            Self::Uint16(values) => values.len(),
            Self::Uint32(values) => values.len(),
            Self::Uint64(values) => values.len(),
            Self::Int8(values) => values.len(),
            Self::Int16(values) => values.len(),
            Self::Int32(values) => values.len(),
            Self::Int64(values) => values.len(),
            Self::Fp32(values) => values.len(),
            Self::Fp64(values) => values.len(),
            Self::Bytes(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An owned tensor: its shape and its elements. The element count must be the product of the
/// shape (an empty shape is a scalar: one element); [`crate::Model::run`] checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: TensorData) -> Self {
        Self { shape, data }
    }

    pub fn datatype(&self) -> DataType {
        self.data.datatype()
    }

    /// The flat index of the first NaN (a missing value), for floating-point data.
    pub fn first_nan(&self) -> Option<usize> {
        match &self.data {
            TensorData::Fp32(values) => values.iter().position(|value| value.is_nan()),
            TensorData::Fp64(values) => values.iter().position(|value| value.is_nan()),
            _ => None,
        }
    }

    /// The element count the shape calls for, `None` when it overflows.
    pub fn shape_len(shape: &[usize]) -> Option<usize> {
        shape.iter().try_fold(1usize, |product, &dim| product.checked_mul(dim))
    }
}
