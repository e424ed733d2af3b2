//! The features a trainer reads: column-major `f32`, NaN for a missing value. Column-major
//! because every trainer works one feature at a time (binning, histograms, standardisation).

use std::collections::BTreeSet;

use crate::LearnError;

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f32>>,
}

impl Frame {
    /// A checked frame: as many names as columns, names unique, every column the same length,
    /// at least one row.
    pub fn new(names: Vec<String>, columns: Vec<Vec<f32>>) -> Result<Frame, LearnError> {
        let frame = Frame { names, columns };
        frame.validate()?;
        Ok(frame)
    }

    pub fn validate(&self) -> Result<(), LearnError> {
        if self.names.len() != self.columns.len() {
            return Err(LearnError::Frame(format!(
                "{} names for {} columns",
                self.names.len(),
                self.columns.len()
            )));
        }
        if self.columns.is_empty() {
            return Err(LearnError::Frame("no features".into()));
        }
        let mut seen = BTreeSet::new();
        for name in &self.names {
            if !seen.insert(name.as_str()) {
                return Err(LearnError::Frame(format!("feature `{name}` appears twice")));
            }
        }
        let rows = self.rows();
        if rows == 0 {
            return Err(LearnError::Frame("no rows".into()));
        }
        for (name, column) in self.names.iter().zip(&self.columns) {
            if column.len() != rows {
                return Err(LearnError::Frame(format!(
                    "feature `{name}` has {} rows, `{}` has {rows}",
                    column.len(),
                    self.names[0]
                )));
            }
        }
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The columns in the order of `names` (a model's features), found by name so that a frame
    /// with its columns in another order, or with extra ones, still scores.
    pub(crate) fn select(&self, names: &[String]) -> Result<Vec<&[f32]>, LearnError> {
        self.validate()?;
        names
            .iter()
            .map(|name| match self.names.iter().position(|have| have == name) {
                Some(index) => Ok(self.columns[index].as_slice()),
                None => Err(LearnError::MissingFeature { feature: name.clone() }),
            })
            .collect()
    }
}
