use thiserror::Error;

/// Why a metric could not be computed from its inputs. Undefined-but-valid cases (a slice with one
/// class, for AUC) are `None` in the results instead: an error means the caller passed bad data.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    #[error("no rows to evaluate")]
    Empty,
    #[error("{what} has {found} values, expected {expected}")]
    LengthMismatch { what: &'static str, expected: usize, found: usize },
    #[error("{what}[{index}] is not a finite number")]
    NotFinite { what: &'static str, index: usize },
    #[error("{what}[{index}] = {value} is not a probability in [0, 1]")]
    NotProbability { what: &'static str, index: usize, value: f64 },
    #[error("label {label} at row {index} is not a class code below {classes}")]
    ClassOutOfRange { index: usize, label: u32, classes: usize },
    #[error("class {label} is not a class code below {classes}")]
    UnknownClass { label: u32, classes: usize },
    #[error("multiclass evaluation needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    #[error("{0} calibration bins: at least 1 is needed")]
    NoBins(usize),
}
