//! The boosting parameters, with LightGBM's names and defaults so a spec written for LightGBM
//! reads the same here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::params::{ParamKind, ParamSpec, Reader};
use crate::{LearnError, TrainerKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GbdtParams {
    pub num_iterations: usize,
    pub learning_rate: f64,
    /// Leaves per tree; trees grow leaf-wise, best split first.
    pub num_leaves: usize,
    /// -1: no limit.
    pub max_depth: i64,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian_in_leaf: f64,
    pub lambda_l2: f64,
    /// Value bins per feature (a missing value has a bin of its own besides).
    pub max_bin: usize,
    pub feature_fraction: f64,
    pub bagging_fraction: f64,
    /// Re-draw the bag every this many iterations; 0 turns bagging off.
    pub bagging_freq: usize,
    /// Stop when the validation loss has not improved for this many iterations; 0 turns it off.
    pub early_stopping_round: usize,
    pub seed: u64,
    /// Threads building histograms. The model does not depend on it, so neither does the
    /// exported file (its metadata leaves it out).
    #[serde(skip)]
    pub threads: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: -1,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            max_bin: 255,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            early_stopping_round: 0,
            seed: 0,
            threads: 1,
        }
    }
}

const fn spec(name: &'static str, kind: ParamKind, expected: &'static str) -> ParamSpec {
    ParamSpec { name, kind, expected }
}

pub(crate) const SPECS: &[ParamSpec] = &[
    spec("num_iterations", ParamKind::Int, "an integer ≥ 1"),
    spec("learning_rate", ParamKind::Float, "a number > 0"),
    spec("num_leaves", ParamKind::Int, "an integer ≥ 2"),
    spec("max_depth", ParamKind::Int, "-1 (no limit) or an integer ≥ 1"),
    spec("min_data_in_leaf", ParamKind::Int, "an integer ≥ 1"),
    spec("min_sum_hessian_in_leaf", ParamKind::Float, "a number ≥ 0"),
    spec("lambda_l2", ParamKind::Float, "a number ≥ 0"),
    spec("max_bin", ParamKind::Int, "an integer from 2 to 255"),
    spec("feature_fraction", ParamKind::Float, "a number in (0, 1]"),
    spec("bagging_fraction", ParamKind::Float, "a number in (0, 1]"),
    spec("bagging_freq", ParamKind::Int, "an integer ≥ 0"),
    spec("early_stopping_round", ParamKind::Int, "an integer ≥ 0"),
    spec("seed", ParamKind::Int, "an integer ≥ 0"),
    spec("threads", ParamKind::Int, "an integer from 1 to 256"),
];

impl GbdtParams {
    pub fn from_map(map: &BTreeMap<String, Value>) -> Result<Self, LearnError> {
        let read = Reader::new(TrainerKind::Gbdt, map)?;
        let default = Self::default();
        let count = |name, default: usize, min: i64| {
            read.int(name, default as i64, |value| value >= min).map(|value| value as usize)
        };
        Ok(Self {
            num_iterations: count("num_iterations", default.num_iterations, 1)?,
            learning_rate: read.float("learning_rate", default.learning_rate, |value| value > 0.0)?,
            num_leaves: count("num_leaves", default.num_leaves, 2)?,
            max_depth: read.int("max_depth", default.max_depth, |value| value == -1 || value >= 1)?,
            min_data_in_leaf: count("min_data_in_leaf", default.min_data_in_leaf, 1)?,
            min_sum_hessian_in_leaf: read.float(
                "min_sum_hessian_in_leaf",
                default.min_sum_hessian_in_leaf,
                |value| value >= 0.0,
            )?,
            lambda_l2: read.float("lambda_l2", default.lambda_l2, |value| value >= 0.0)?,
            max_bin: read.int("max_bin", default.max_bin as i64, |value| (2..=255).contains(&value))?
                as usize,
            feature_fraction: read
                .float("feature_fraction", default.feature_fraction, |value| value > 0.0 && value <= 1.0)?,
            bagging_fraction: read
                .float("bagging_fraction", default.bagging_fraction, |value| value > 0.0 && value <= 1.0)?,
            bagging_freq: count("bagging_freq", default.bagging_freq, 0)?,
            early_stopping_round: count("early_stopping_round", default.early_stopping_round, 0)?,
            seed: read.int("seed", 0, |value| value >= 0)? as u64,
            threads: read.int("threads", 1, |value| (1..=256).contains(&value))? as usize,
        })
    }

    /// Checks values set in code rather than parsed (the same bounds `from_map` applies).
    pub(crate) fn validate(&self) -> Result<(), LearnError> {
        let map = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map.into_iter().collect::<BTreeMap<_, _>>(),
            _ => BTreeMap::new(),
        };
        if !(1..=256).contains(&self.threads) {
            return Err(LearnError::InvalidParameter {
                name: "threads",
                expected: "an integer from 1 to 256",
                got: self.threads.to_string(),
            });
        }
        Self::from_map(&map).map(|_| ())
    }
}
