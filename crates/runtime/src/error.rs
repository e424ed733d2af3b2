use std::fmt;
use std::path::PathBuf;

use crate::DataType;

/// Where the ONNX Runtime library's path came from, named in errors so the user knows what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// `runtime.onnxruntime` in the configuration (`CAIRN__RUNTIME__ONNXRUNTIME`).
    Configured,
    /// The `ORT_DYLIB_PATH` environment variable (the Docker image sets it).
    Environment,
    /// Where `infra/local/setup` installs it.
    SetupDefault,
}

impl fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Configured => "runtime.onnxruntime",
            Self::Environment => "ORT_DYLIB_PATH",
            Self::SetupDefault => "the path infra/local/setup installs to",
        })
    }
}

const HOW_TO_INSTALL: &str = "infra/local/setup installs it where Cairn looks when runtime.onnxruntime \
     and ORT_DYLIB_PATH are empty (~/.cache/cairn/onnxruntime/libonnxruntime.so); or `pip install \
     onnxruntime` and set runtime.onnxruntime (CAIRN__RUNTIME__ONNXRUNTIME) or ORT_DYLIB_PATH to its \
     onnxruntime/capi/libonnxruntime.so.<version>; the Docker image has it at \
     /usr/local/lib/libonnxruntime.so";

/// Everything that can go wrong loading ONNX Runtime, loading a model or running one.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the ONNX Runtime library was not found at {path} (from {from}): {HOW_TO_INSTALL}")]
    LibraryMissing { path: PathBuf, from: LibrarySource },
    #[error(
        "no path for the ONNX Runtime library (runtime.onnxruntime and ORT_DYLIB_PATH are empty, HOME is unset): {HOW_TO_INSTALL}"
    )]
    LibraryUnconfigured,
    #[error("cannot load the ONNX Runtime library {path} (from {from}): {message}")]
    Library { path: PathBuf, from: LibrarySource, message: String },
    #[error(
        "ONNX Runtime is already loaded from {loaded}; a process loads one library, not also {requested}"
    )]
    AlreadyLoaded { loaded: PathBuf, requested: PathBuf },
    #[error("cannot start ONNX Runtime: {0}")]
    Environment(String),
    /// The bytes are not a model ONNX Runtime can load (corrupt, not ONNX, an operator it lacks).
    #[error("not a loadable ONNX model: {0}")]
    Model(String),
    /// The model has an input or output of a kind the runtime does not carry.
    #[error("the model's {port} `{name}` is {what}, which the runtime does not support")]
    Unsupported { port: &'static str, name: String, what: String },
    /// A request's input does not fit the model's signature: the caller's mistake (a 400).
    #[error("input `{name}`: {problem}")]
    Input { name: String, problem: InputProblem },
    /// ONNX Runtime refused to run on inputs that fit the signature (e.g. a value out of range).
    #[error("running the model failed: {0}")]
    Run(String),
    #[error("output `{name}`: {message}")]
    Output { name: String, message: String },
}

/// How an input fails the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProblem {
    /// The model needs the input; the request has none.
    Missing,
    /// The model has no input of this name; these are its inputs.
    Unknown {
        inputs: Vec<String>,
    },
    Repeated,
    DataType {
        expected: DataType,
        got: DataType,
    },
    Rank {
        expected: usize,
        got: usize,
    },
    Dim {
        axis: usize,
        expected: usize,
        got: usize,
    },
    /// The element count is not the product of the shape.
    Length {
        shape: Vec<usize>,
        got: usize,
    },
    /// ONNX Runtime refused the tensor (e.g. a string holding a NUL character).
    Rejected(String),
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("expected by the model, got none"),
            Self::Unknown { inputs } => {
                write!(f, "the model has no such input; its inputs are {}", inputs.join(", "))
            }
            Self::Repeated => f.write_str("given more than once"),
            Self::DataType { expected, got } => write!(f, "expected datatype {expected}, got {got}"),
            Self::Rank { expected, got } => write!(f, "expected {expected} dimensions, got {got}"),
            Self::Dim { axis, expected, got } => {
                write!(f, "expected dimension {axis} to be {expected}, got {got}")
            }
            Self::Length { shape, got } => match crate::Tensor::shape_len(shape) {
                Some(expected) => write!(f, "shape {shape:?} holds {expected} elements, got {got}"),
                None => write!(f, "shape {shape:?} holds more elements than memory, got {got}"),
            },
            Self::Rejected(message) => write!(f, "refused by ONNX Runtime: {message}"),
        }
    }
}
