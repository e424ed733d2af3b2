#![doc = include_str!("../README.md")]

mod error;
mod frame;
pub mod gbdt;
mod history;
pub mod linear;
mod model;
mod onnx;
mod params;
mod rng;
mod target;
mod train;

pub use error::LearnError;
pub use frame::Frame;
pub use gbdt::{GbdtModel, GbdtParams};
pub use history::{History, Iteration};
pub use linear::{LinearModel, LinearParams};
pub use model::{Model, Predictions};
pub use params::{ParamKind, ParamSpec, TrainerKind, parameters};
pub use target::{ClassLabels, Target, Task};
pub use train::{Trained, train};
