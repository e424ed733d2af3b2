//! Standardised features for the solvers (mean 0, variance 1), which keeps the normal equations
//! and the logistic loss well conditioned; coefficients are folded back to raw features after.

use crate::LearnError;

pub(crate) struct Standardized {
    pub(crate) mean: Vec<f64>,
    /// Standard deviation, 1 for a constant feature (its column is then all zeros).
    pub(crate) scale: Vec<f64>,
    /// Column-major standardised values.
    pub(crate) columns: Vec<Vec<f64>>,
}

impl Standardized {
    /// Refuses a missing value, naming its feature.
    pub(crate) fn new(names: &[String], columns: &[&[f32]]) -> Result<Self, LearnError> {
        let mut mean = Vec::with_capacity(columns.len());
        let mut scale = Vec::with_capacity(columns.len());
        let mut standardized = Vec::with_capacity(columns.len());
        for (name, column) in names.iter().zip(columns) {
            if column.iter().any(|value| value.is_nan()) {
                return Err(LearnError::MissingValues { feature: name.clone() });
            }
            let rows = column.len() as f64;
            let mu = column.iter().map(|&value| f64::from(value)).sum::<f64>() / rows;
            let variance = column.iter().map(|&value| (f64::from(value) - mu).powi(2)).sum::<f64>() / rows;
            let sigma = if variance > 0.0 { variance.sqrt() } else { 1.0 };
            standardized.push(column.iter().map(|&value| (f64::from(value) - mu) / sigma).collect());
            mean.push(mu);
            scale.push(sigma);
        }
        Ok(Self { mean, scale, columns: standardized })
    }

    pub(crate) fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// Raw-feature coefficients and intercept from standardised ones.
    pub(crate) fn unscale(&self, coefficients: &[f64], intercept: f64) -> (Vec<f64>, f64) {
        let raw: Vec<f64> =
            coefficients.iter().zip(&self.scale).map(|(gamma, sigma)| gamma / sigma).collect();
        let shift: f64 = raw.iter().zip(&self.mean).map(|(beta, mu)| beta * mu).sum();
        (raw, intercept - shift)
    }
}
