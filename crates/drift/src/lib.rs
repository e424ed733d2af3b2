#![doc = include_str!("../README.md")]

mod binned;
mod categorical;
mod error;
mod feature;
mod method;
mod numeric;
pub mod stats;
mod verdict;

pub use categorical::{CategoricalReference, CategoricalWindow, UNSEEN_CAP};
pub use error::DriftError;
pub use feature::{Reference, Window};
pub use method::{Kind, Method, SMALL_REFERENCE};
pub use numeric::{DISCRETE_MAX, MIN_NORM, NumericReference, NumericWindow, QUANTILE_EDGES, SAMPLE_CAP};
pub use verdict::{DEFAULT_DRIFT_SHARE, DatasetDrift, DriftOptions, Verdict, dataset_drift};
