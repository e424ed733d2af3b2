//! Trainer parameters as a pipeline spec carries them (a JSON object), checked by name, type and
//! range, so a typo or an out-of-range value fails when the pipeline is applied, not mid-run.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::LearnError;

/// The built-in trainers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainerKind {
    Linear,
    Gbdt,
}

impl TrainerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Gbdt => "gbdt",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Linear, Self::Gbdt].into_iter().find(|kind| kind.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// A JSON integer.
    Int,
    /// Any JSON number.
    Float,
}

/// One parameter a trainer takes: its name, its kind and the values it accepts (in words, as
/// the refusal quotes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub expected: &'static str,
}

/// Every parameter `kind` accepts, for validating a search space before anything trains.
pub fn parameters(kind: TrainerKind) -> &'static [ParamSpec] {
    match kind {
        TrainerKind::Linear => crate::linear::params::SPECS,
        TrainerKind::Gbdt => crate::gbdt::params::SPECS,
    }
}

/// Reads one trainer's parameters out of a spec's map.
pub(crate) struct Reader<'a> {
    map: &'a BTreeMap<String, Value>,
    specs: &'static [ParamSpec],
}

impl<'a> Reader<'a> {
    /// Refuses a name the trainer does not know before any value is read.
    pub(crate) fn new(kind: TrainerKind, map: &'a BTreeMap<String, Value>) -> Result<Self, LearnError> {
        let specs = parameters(kind);
        if let Some(name) = map.keys().find(|name| !specs.iter().any(|spec| spec.name == name.as_str())) {
            let known = specs.iter().map(|spec| spec.name).collect::<Vec<_>>().join(", ");
            return Err(LearnError::UnknownParameter { trainer: kind.as_str(), name: name.clone(), known });
        }
        Ok(Self { map, specs })
    }

    fn spec(&self, name: &'static str) -> &'static ParamSpec {
        // The trainers only ask for names in their own table; a miss is a bug caught by tests.
        self.specs.iter().find(|spec| spec.name == name).unwrap_or(&UNLISTED)
    }

    pub(crate) fn int(
        &self,
        name: &'static str,
        default: i64,
        ok: impl Fn(i64) -> bool,
    ) -> Result<i64, LearnError> {
        let spec = self.spec(name);
        let Some(value) = self.map.get(name) else { return Ok(default) };
        match value.as_i64() {
            Some(number) if ok(number) => Ok(number),
            _ => Err(invalid(spec, value)),
        }
    }

    pub(crate) fn float(
        &self,
        name: &'static str,
        default: f64,
        ok: impl Fn(f64) -> bool,
    ) -> Result<f64, LearnError> {
        self.optional_float(name, ok).map(|value| value.unwrap_or(default))
    }

    pub(crate) fn optional_float(
        &self,
        name: &'static str,
        ok: impl Fn(f64) -> bool,
    ) -> Result<Option<f64>, LearnError> {
        let spec = self.spec(name);
        let Some(value) = self.map.get(name) else { return Ok(None) };
        match value.as_f64() {
            Some(number) if number.is_finite() && ok(number) => Ok(Some(number)),
            _ => Err(invalid(spec, value)),
        }
    }
}

const UNLISTED: ParamSpec = ParamSpec { name: "unlisted", kind: ParamKind::Float, expected: "listed" };

fn invalid(spec: &ParamSpec, value: &Value) -> LearnError {
    LearnError::InvalidParameter { name: spec.name, expected: spec.expected, got: value.to_string() }
}
