//! Input checks shared by every task, run once before any arithmetic so that a NaN or a short
//! column is reported with its position instead of turning into a NaN metric a gate would read.

use crate::MetricsError;

pub(crate) fn non_empty(rows: usize) -> Result<(), MetricsError> {
    if rows == 0 { Err(MetricsError::Empty) } else { Ok(()) }
}

pub(crate) fn same_length(what: &'static str, expected: usize, found: usize) -> Result<(), MetricsError> {
    if expected == found { Ok(()) } else { Err(MetricsError::LengthMismatch { what, expected, found }) }
}

pub(crate) fn finite(what: &'static str, values: &[f64]) -> Result<(), MetricsError> {
    match values.iter().position(|value| !value.is_finite()) {
        Some(index) => Err(MetricsError::NotFinite { what, index }),
        None => Ok(()),
    }
}

pub(crate) fn probabilities(what: &'static str, values: &[f64]) -> Result<(), MetricsError> {
    finite(what, values)?;
    match values.iter().position(|value| !(0.0..=1.0).contains(value)) {
        Some(index) => Err(MetricsError::NotProbability { what, index, value: values[index] }),
        None => Ok(()),
    }
}
