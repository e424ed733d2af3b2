//! A categorical feature's reference (value counts of the training data) and its windows.

mod window;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use window::{CategoricalWindow, UNSEEN_CAP};

use crate::{DriftError, DriftOptions, Kind, Method, Verdict, binned};

/// The reference value counts of one categorical feature, categories sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalReference {
    categories: Vec<String>,
    counts: Vec<u64>,
    count: u64,
    missing: u64,
}

impl CategoricalReference {
    /// `None` is a missing value, counted apart (Evidently drops missing values before testing).
    pub fn from_values<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Result<Self, DriftError> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let mut missing = 0;
        for value in values {
            match value {
                Some(value) => *counts.entry(value).or_default() += 1,
                None => missing += 1,
            }
        }
        Self::from_counts(counts.into_iter().map(|(k, v)| (k.to_owned(), v)), missing)
    }

    /// From value counts already taken (e.g. a SQL `GROUP BY`); zero counts are dropped.
    pub fn from_counts(
        counts: impl IntoIterator<Item = (String, u64)>,
        missing: u64,
    ) -> Result<Self, DriftError> {
        let mut merged: BTreeMap<String, u64> = BTreeMap::new();
        for (category, count) in counts.into_iter().filter(|(_, count)| *count > 0) {
            *merged.entry(category).or_default() += count;
        }
        if merged.is_empty() {
            return Err(DriftError::EmptyReference);
        }
        let count = merged.values().sum();
        let (categories, counts) = merged.into_iter().unzip();
        Ok(CategoricalReference { categories, counts, count, missing })
    }

    pub fn window(&self) -> CategoricalWindow {
        CategoricalWindow::new(self.categories.clone())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn missing(&self) -> u64 {
        self.missing
    }

    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// Reference and current counts per key, keys in sorted order (reference categories and
    /// unseen ones merged), the overflow of unseen categories last.
    pub fn bin_counts(&self, window: &CategoricalWindow) -> Result<Vec<(u64, u64)>, DriftError> {
        if window.categories != self.categories {
            return Err(DriftError::ForeignWindow);
        }
        let mut keyed: Vec<(&str, (u64, u64))> = self
            .categories
            .iter()
            .zip(self.counts.iter().zip(&window.counts))
            .map(|(category, (r, c))| (category.as_str(), (*r, *c)))
            .collect();
        keyed.extend(window.unseen.iter().map(|(category, c)| (category.as_str(), (0, *c))));
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        let mut bins: Vec<(u64, u64)> = keyed.into_iter().map(|(_, pair)| pair).collect();
        if window.other_unseen > 0 {
            bins.push((0, window.other_unseen));
        }
        Ok(bins)
    }

    /// [`CategoricalReference::bin_counts`] with each bin's category (`(other unseen)` for the
    /// overflow).
    pub fn labelled_bins(&self, window: &CategoricalWindow) -> Result<Vec<(String, u64, u64)>, DriftError> {
        if window.categories != self.categories {
            return Err(DriftError::ForeignWindow);
        }
        let mut keyed: Vec<(String, u64, u64)> = self
            .categories
            .iter()
            .zip(self.counts.iter().zip(&window.counts))
            .map(|(category, (r, c))| (category.clone(), *r, *c))
            .collect();
        keyed.extend(window.unseen.iter().map(|(category, c)| (category.clone(), 0, *c)));
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if window.other_unseen > 0 {
            keyed.push(("(other unseen)".to_owned(), 0, window.other_unseen));
        }
        Ok(keyed)
    }

    pub fn default_method(&self, window: &CategoricalWindow) -> Method {
        let distinct = self.categories.len() + window.unseen.len() + usize::from(window.other_unseen > 0);
        Method::default_for(Kind::Categorical, self.count, distinct)
    }

    pub fn statistic(&self, window: &CategoricalWindow, method: Method) -> Result<f64, DriftError> {
        let bins = self.bin_counts(window)?;
        if window.count == 0 {
            return Err(DriftError::EmptyWindow);
        }
        binned::statistic(method, &bins).ok_or(DriftError::NotApplicable { method, kind: "categorical" })
    }

    pub fn verdict(&self, window: &CategoricalWindow, options: &DriftOptions) -> Result<Verdict, DriftError> {
        self.bin_counts(window)?;
        if window.count == 0 {
            return Err(DriftError::EmptyWindow);
        }
        let mut result = Ok(0.0);
        let verdict = Verdict::decide(Kind::Categorical, options, self.default_method(window), |method| {
            result = self.statistic(window, method);
            *result.as_ref().unwrap_or(&f64::NAN)
        })?;
        result.map(|_| verdict)
    }
}

#[cfg(test)]
mod tests;
