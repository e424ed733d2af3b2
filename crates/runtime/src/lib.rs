#![doc = include_str!("../README.md")]

pub mod columnar;
mod error;
mod layout;
mod model;
mod runtime;
mod signature;
mod tensor;
mod zipmap;

pub use error::{InputProblem, LibrarySource, RuntimeError};
pub use layout::{Feature, Layout, LayoutError};
pub use model::{Model, Optimization, Output, SessionOptions};
pub use runtime::{LIBRARY_FILE, Runtime, RuntimeConfig, default_library_dir, default_library_path};
pub use signature::{ClassLabels, Port, PortKind, Signature};
pub use tensor::{DataType, Tensor, TensorData};
