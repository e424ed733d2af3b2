//! The linear trainers' parameters. `l2` follows scikit-learn: `Ridge(alpha=l2)` for regression,
//! `LogisticRegression(C=1/l2)` for classification, whose default C=1 is l2 = 1.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::params::{ParamKind, ParamSpec, Reader};
use crate::{LearnError, Task, TrainerKind};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearParams {
    /// The L2 penalty; `None` takes the task's default (0 for regression, 1 for classification).
    pub l2: Option<f64>,
    /// Solver iterations for logistic regression.
    pub max_iter: usize,
    /// Logistic regression stops when every gradient component of the mean loss is below this.
    pub tol: f64,
}

impl Default for LinearParams {
    fn default() -> Self {
        Self { l2: None, max_iter: 100, tol: 1e-8 }
    }
}

pub(crate) const SPECS: &[ParamSpec] = &[
    ParamSpec { name: "l2", kind: ParamKind::Float, expected: "a number ≥ 0" },
    ParamSpec { name: "max_iter", kind: ParamKind::Int, expected: "an integer ≥ 1" },
    ParamSpec { name: "tol", kind: ParamKind::Float, expected: "a number > 0" },
];

impl LinearParams {
    pub fn from_map(map: &BTreeMap<String, Value>) -> Result<Self, LearnError> {
        let read = Reader::new(TrainerKind::Linear, map)?;
        let default = Self::default();
        Ok(Self {
            l2: read.optional_float("l2", |value| value >= 0.0)?,
            max_iter: read.int("max_iter", default.max_iter as i64, |value| value >= 1)? as usize,
            tol: read.float("tol", default.tol, |value| value > 0.0)?,
        })
    }

    pub(crate) fn validate(&self) -> Result<(), LearnError> {
        let mut map = BTreeMap::new();
        if let Some(l2) = self.l2 {
            map.insert("l2".to_owned(), Value::from(l2));
        }
        map.insert("max_iter".to_owned(), Value::from(self.max_iter as u64));
        map.insert("tol".to_owned(), Value::from(self.tol));
        Self::from_map(&map).map(|_| ())
    }

    pub fn l2_for(&self, task: Task) -> f64 {
        self.l2.unwrap_or(if task == Task::Regression { 0.0 } else { 1.0 })
    }
}
