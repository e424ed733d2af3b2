//! One endpoint's model version's window on the prediction log: each feature's values counted
//! against its reference (cairn-drift windows: bounded, whatever the traffic), then judged —
//! per feature by the method and threshold Evidently would pick unless configured otherwise,
//! and as a whole by the share of drifted features.

use std::collections::HashMap;
use std::fmt;

use cairn_api::{MonitorWindow, Unjudged};
use cairn_domain::Timestamp;
use cairn_drift::{DriftOptions, Window};
use cairn_events::v1::PredictionLogged;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::policy::EndpointPolicy;
use crate::reference::{Input, ModelReference};

/// Which window: an endpoint's model version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub endpoint: String,
    pub model: String,
    pub version: i64,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}@{}", self.endpoint, self.model, self.version)
    }
}

/// The window being filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Open {
    pub key: Key,
    pub number: i64,
    /// The first and the latest prediction's answer time (µs).
    pub started_at: Option<i64>,
    pub ended_at: i64,
    pub predictions: u64,
    pub requests: u64,
    pub latency_micros: i64,
    /// One per feature of the reference, for those with a reference.
    pub features: Vec<Option<Window>>,
    /// The version's scores, when it has a prediction reference.
    #[serde(default)]
    pub prediction: Option<Window>,
}

/// A logged tensor as serving writes it (`{"datatype", "shape", "data"}`).
#[derive(Deserialize)]
pub(crate) struct Tensor {
    shape: Vec<u64>,
    data: Vec<Cell>,
}

/// A logged value: what a window adds.
pub(crate) enum Cell {
    Number(f64),
    Text(String),
    Missing,
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl<'de> Visitor<'de> for CellVisitor {
            type Value = Cell;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a string, a boolean or null")
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Cell, E> {
                Ok(Cell::Number(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Cell, E> {
                Ok(Cell::Number(value as f64))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Cell, E> {
                Ok(Cell::Number(value as f64))
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Cell, E> {
                Ok(Cell::Text(value.to_string()))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Cell, E> {
                Ok(Cell::Text(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Cell, E> {
                Ok(Cell::Text(value))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell::Missing)
            }
            fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell::Missing)
            }
        }
        deserializer.deserialize_any(CellVisitor)
    }
}

/// What a logged request's outputs score, row by row, for joining ground truth: a binary
/// classifier's positive-class probability (an output of two columns), else a regressor's value
/// (an output of one column). `None` when the outputs hold neither.
pub(crate) fn scores(outputs_json: &str) -> Option<(ScoreKind, Vec<Option<f64>>)> {
    let outputs: HashMap<String, Tensor> = serde_json::from_str(outputs_json).ok()?;
    let number = |cell: &Cell| match cell {
        Cell::Number(value) => Some(*value),
        _ => None,
    };
    let mut named: Vec<(&String, &Tensor)> = outputs.iter().collect();
    named.sort_by_key(|(name, _)| name.as_str());
    if let Some((_, tensor)) =
        named.iter().find(|(_, tensor)| tensor.shape.len() == 2 && tensor.shape[1] == 2)
    {
        return Some((ScoreKind::Binary, tensor.data.chunks_exact(2).map(|pair| number(&pair[1])).collect()));
    }
    let (_, tensor) = named.iter().find(|(_, tensor)| {
        matches!(tensor.shape.as_slice(), [_] | [_, 1])
            && tensor.data.iter().all(|cell| matches!(cell, Cell::Number(_)))
    })?;
    Some((ScoreKind::Regression, tensor.data.iter().map(number).collect()))
}

/// What a score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScoreKind {
    Binary,
    Regression,
}

impl ScoreKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScoreKind::Binary => "binary",
            ScoreKind::Regression => "regression",
        }
    }
}

fn add(window: &mut Window, cell: &Cell) {
    match cell {
        Cell::Number(value) => window.add_number(*value),
        Cell::Text(text) => window.add_text(Some(text)),
        Cell::Missing => window.add_text(None),
    }
}

impl Open {
    pub fn new(key: Key, number: i64, reference: &ModelReference) -> Self {
        let features = reference
            .features
            .iter()
            .map(|feature| feature.reference.as_ref().map(cairn_drift::Reference::window))
            .collect();
        Self {
            key,
            number,
            started_at: None,
            ended_at: 0,
            predictions: 0,
            requests: 0,
            latency_micros: 0,
            features,
            prediction: reference.prediction.as_ref().map(cairn_drift::Reference::window),
        }
    }

    /// The next window of the same key.
    pub fn next(&self, reference: &ModelReference) -> Self {
        Self::new(self.key.clone(), self.number + 1, reference)
    }

    /// Whether it has been open `policy.window` since its first prediction, at `now` (µs), and
    /// holds enough predictions to be judged.
    pub fn expired(&self, now: i64, policy: &EndpointPolicy) -> bool {
        self.started_at.is_some_and(|started| now.saturating_sub(started) >= policy.window_micros)
            && self.predictions >= policy.min_predictions
    }

    pub fn full(&self, policy: &EndpointPolicy) -> bool {
        self.predictions >= policy.window_predictions
    }

    /// Counts one logged request answered at `at` (µs): its rows, each monitored feature's
    /// values, and its `scores` (read once by the caller, see [`scores`]). An input it cannot read is skipped (with its reason): the rows still count.
    pub fn add(
        &mut self,
        reference: &ModelReference,
        logged: &PredictionLogged,
        scores: Option<&[Option<f64>]>,
        at: i64,
    ) -> Result<(), String> {
        self.started_at.get_or_insert(at);
        self.ended_at = self.ended_at.max(at);
        self.requests += 1;
        self.latency_micros = self.latency_micros.saturating_add(logged.latency_micros);
        let tensors: HashMap<String, Tensor> = match serde_json::from_str(&logged.inputs_json) {
            Ok(tensors) => tensors,
            Err(error) => {
                self.predictions += 1;
                return Err(format!("inputs of request {}: {error}", logged.request_id));
            }
        };
        let rows = tensors.values().filter_map(|tensor| tensor.shape.first()).copied().max().unwrap_or(1);
        self.predictions += rows;
        if let (Some(window), Some(scores)) = (&mut self.prediction, scores) {
            for score in scores {
                window.add_number(score.unwrap_or(f64::NAN));
            }
        }
        let rows = usize::try_from(rows).unwrap_or(usize::MAX);
        for input in &reference.inputs {
            match input {
                Input::Column { input, feature } => {
                    let (Some(tensor), Some(Some(window))) =
                        (tensors.get(input), self.features.get_mut(*feature))
                    else {
                        continue;
                    };
                    for cell in tensor.data.iter().take(rows) {
                        add(window, cell);
                    }
                }
                Input::Matrix { input, features } => {
                    let Some(tensor) = tensors.get(input) else { continue };
                    let width = features.len();
                    if width == 0 || tensor.data.len() != rows * width {
                        return Err(format!(
                            "input `{input}` of request {} holds {} values, not {rows} rows of {width}",
                            logged.request_id,
                            tensor.data.len()
                        ));
                    }
                    for row in tensor.data.chunks_exact(width) {
                        for (cell, feature) in row.iter().zip(features) {
                            if let Some(Some(window)) = self.features.get_mut(*feature) {
                                add(window, cell);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The window judged: each feature with a reference and values, the share that drifted.
    pub fn judge(&self, reference: &ModelReference, policy: &EndpointPolicy) -> MonitorWindow {
        let mut judged = Vec::new();
        let mut verdicts = Vec::new();
        let mut unjudged = Vec::new();
        for (feature, window) in reference.features.iter().zip(&self.features) {
            let options = policy.features.get(&feature.name);
            if options.is_some_and(|options| options.ignore) {
                unjudged.push(Unjudged {
                    feature: feature.name.clone(),
                    reason: "ignored by configuration".into(),
                });
                continue;
            }
            let (Some(built), Some(window)) = (&feature.reference, window) else {
                let reason = feature
                    .note
                    .clone()
                    .or_else(|| reference.note.clone())
                    .unwrap_or_else(|| "no reference".into());
                unjudged.push(Unjudged { feature: feature.name.clone(), reason });
                continue;
            };
            let options = options.map_or_else(DriftOptions::default, |options| options.drift);
            match built.verdict(window, &options) {
                Ok(verdict) => {
                    judged.push(crate::batch::column_drift(&feature.name, built, window, &verdict));
                    verdicts.push(verdict);
                }
                Err(error) => {
                    unjudged.push(Unjudged { feature: feature.name.clone(), reason: error.to_string() })
                }
            }
        }
        let dataset =
            cairn_drift::dataset_drift(&verdicts, policy.drift_share).unwrap_or(cairn_drift::DatasetDrift {
                columns: verdicts.len(),
                drifted_columns: 0,
                share: 0.0,
                share_threshold: policy.drift_share,
                drifted: false,
            });
        let prediction = match (&reference.prediction, &self.prediction) {
            (Some(built), Some(window)) => built
                .verdict(window, &DriftOptions::default())
                .ok()
                .map(|verdict| crate::batch::column_drift("prediction", built, window, &verdict)),
            _ => None,
        };
        let time = |micros: i64| Timestamp::from_micros(micros).unwrap_or_else(Timestamp::now);
        let key = &self.key;
        MonitorWindow {
            id: format!("{key}#{}", self.number),
            endpoint: key.endpoint.clone(),
            model: key.model.clone(),
            version: key.version,
            number: self.number,
            started_at: time(self.started_at.unwrap_or(self.ended_at)),
            ended_at: time(self.ended_at),
            predictions: self.predictions,
            requests: self.requests,
            mean_latency_micros: if self.requests == 0 {
                0.0
            } else {
                self.latency_micros as f64 / self.requests as f64
            },
            reference: reference.dataset.clone(),
            features: judged,
            unjudged,
            drifted_features: dataset.drifted_columns,
            share: dataset.share,
            share_threshold: dataset.share_threshold,
            dataset_drift: dataset.drifted && !verdicts.is_empty(),
            prediction,
        }
    }
}
