//! A feature of either kind: its reference and its windows behind one type, for callers that
//! monitor many features of mixed types (the monitor's windows over the prediction log).

use serde::{Deserialize, Serialize};

use crate::{
    CategoricalReference, CategoricalWindow, DriftError, DriftOptions, Kind, NumericReference, NumericWindow,
    Verdict,
};

/// The reference of a numeric or a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    Numeric(NumericReference),
    Categorical(CategoricalReference),
}

/// A window counted against a [`Reference`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Window {
    Numeric(NumericWindow),
    Categorical(CategoricalWindow),
}

impl Reference {
    pub fn kind(&self) -> Kind {
        match self {
            Reference::Numeric(_) => Kind::Numeric,
            Reference::Categorical(_) => Kind::Categorical,
        }
    }

    /// An empty window over this reference.
    pub fn window(&self) -> Window {
        match self {
            Reference::Numeric(reference) => Window::Numeric(reference.window()),
            Reference::Categorical(reference) => Window::Categorical(reference.window()),
        }
    }

    /// Non-missing reference values.
    pub fn count(&self) -> u64 {
        match self {
            Reference::Numeric(reference) => reference.count(),
            Reference::Categorical(reference) => reference.count(),
        }
    }

    pub fn missing(&self) -> u64 {
        match self {
            Reference::Numeric(reference) => reference.missing(),
            Reference::Categorical(reference) => reference.missing(),
        }
    }

    /// Each bin's label with its reference and window counts, for charts.
    pub fn labelled_bins(&self, window: &Window) -> Result<Vec<(String, u64, u64)>, DriftError> {
        match (self, window) {
            (Reference::Numeric(reference), Window::Numeric(window)) => reference.labelled_bins(window),
            (Reference::Categorical(reference), Window::Categorical(window)) => {
                reference.labelled_bins(window)
            }
            _ => Err(DriftError::ForeignWindow),
        }
    }

    pub fn verdict(&self, window: &Window, options: &DriftOptions) -> Result<Verdict, DriftError> {
        match (self, window) {
            (Reference::Numeric(reference), Window::Numeric(window)) => reference.verdict(window, options),
            (Reference::Categorical(reference), Window::Categorical(window)) => {
                reference.verdict(window, options)
            }
            _ => Err(DriftError::ForeignWindow),
        }
    }
}

impl Window {
    /// A number: a categorical window counts it by its text (`3`, `2.5`).
    #[inline]
    pub fn add_number(&mut self, value: f64) {
        match self {
            Window::Numeric(window) => window.add(value),
            Window::Categorical(window) => {
                if value.is_finite() {
                    window.add(Some(&value.to_string()));
                } else {
                    window.add(None);
                }
            }
        }
    }

    /// A text (`None`: missing): a numeric window parses it, and counts what does not parse as
    /// missing.
    #[inline]
    pub fn add_text(&mut self, value: Option<&str>) {
        match self {
            Window::Numeric(window) => {
                window.add(value.and_then(|text| text.parse().ok()).unwrap_or(f64::NAN))
            }
            Window::Categorical(window) => window.add(value),
        }
    }

    /// Non-missing values added.
    pub fn count(&self) -> u64 {
        match self {
            Window::Numeric(window) => window.count(),
            Window::Categorical(window) => window.count(),
        }
    }

    pub fn missing(&self) -> u64 {
        match self {
            Window::Numeric(window) => window.missing(),
            Window::Categorical(window) => window.missing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_kind_judges_its_own_windows_only() {
        let numeric = Reference::Numeric(NumericReference::from_values(&[1.0, 2.0, 3.0, 4.0]).unwrap());
        let categorical =
            Reference::Categorical(CategoricalReference::from_values([Some("a"), Some("b")]).unwrap());
        let mut window = numeric.window();
        window.add_text(Some("2"));
        window.add_text(Some("x"));
        window.add_number(3.0);
        assert_eq!((window.count(), window.missing()), (2, 1));
        assert!(numeric.verdict(&window, &DriftOptions::default()).is_ok());
        assert_eq!(categorical.verdict(&window, &DriftOptions::default()), Err(DriftError::ForeignWindow));
        let mut window = categorical.window();
        window.add_text(Some("a"));
        window.add_number(f64::NAN);
        assert_eq!((window.count(), window.missing()), (1, 1));
        let back: Window = serde_json::from_str(&serde_json::to_string(&window).unwrap()).unwrap();
        assert_eq!(back, window);
        assert_eq!(
            categorical.labelled_bins(&window).unwrap(),
            [("a".to_owned(), 1, 1), ("b".to_owned(), 1, 0)]
        );
    }

    #[test]
    fn numeric_bins_are_labelled_by_their_ranges() {
        let values: Vec<f64> = (0..5000).map(|i| f64::from(i % 100)).collect();
        let reference = Reference::Numeric(NumericReference::from_values(&values).unwrap());
        let mut window = reference.window();
        window.add_number(-5.0);
        window.add_number(50.0);
        let bins = reference.labelled_bins(&window).unwrap();
        assert_eq!(bins[0], ("< 0".to_owned(), 0, 1), "{bins:?}");
        assert_eq!(bins.iter().map(|bin| bin.1).sum::<u64>(), 5000);
        assert_eq!(bins.iter().map(|bin| bin.2).sum::<u64>(), 2);
        assert!(bins[1].0.starts_with("0 – "), "{bins:?}");
    }
}
