use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::DriftError;

/// Distinct categories unseen in the reference that a window names one by one; more are
/// counted together (that lumping changes neither chi-squared, whose p-value is already 0 with
/// one unseen category, nor Jensen–Shannon, which is linear in reference-free bins).
pub const UNSEEN_CAP: usize = 256;

/// The current values of one categorical feature: counts per reference category, up to
/// [`UNSEEN_CAP`] unseen ones, and one overflow count — bounded whatever the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct CategoricalWindow {
    pub(crate) categories: Vec<String>,
    index: HashMap<String, usize>,
    pub(crate) counts: Vec<u64>,
    pub(crate) unseen: BTreeMap<String, u64>,
    pub(crate) other_unseen: u64,
    pub(crate) count: u64,
    pub(crate) missing: u64,
}

/// A window as stored: without the index, which is rebuilt from the categories.
#[derive(Serialize, Deserialize)]
struct Stored {
    categories: Vec<String>,
    counts: Vec<u64>,
    unseen: BTreeMap<String, u64>,
    other_unseen: u64,
    count: u64,
    missing: u64,
}

impl From<Stored> for CategoricalWindow {
    fn from(stored: Stored) -> Self {
        let mut window = CategoricalWindow::new(stored.categories);
        window.counts = stored.counts;
        window.unseen = stored.unseen;
        window.other_unseen = stored.other_unseen;
        window.count = stored.count;
        window.missing = stored.missing;
        window
    }
}

impl From<CategoricalWindow> for Stored {
    fn from(window: CategoricalWindow) -> Self {
        Stored {
            categories: window.categories,
            counts: window.counts,
            unseen: window.unseen,
            other_unseen: window.other_unseen,
            count: window.count,
            missing: window.missing,
        }
    }
}

impl CategoricalWindow {
    pub(crate) fn new(categories: Vec<String>) -> Self {
        let index = categories.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        let counts = vec![0; categories.len()];
        CategoricalWindow {
            categories,
            index,
            counts,
            unseen: BTreeMap::new(),
            other_unseen: 0,
            count: 0,
            missing: 0,
        }
    }

    /// One value; `None` is missing.
    pub fn add(&mut self, value: Option<&str>) {
        let Some(value) = value else {
            self.missing += 1;
            return;
        };
        self.count += 1;
        self.count_category(value, 1);
    }

    pub fn add_many<'a>(&mut self, values: impl IntoIterator<Item = Option<&'a str>>) {
        for value in values {
            self.add(value);
        }
    }

    /// Counts `n` of a present value under its category (totals are the caller's).
    fn count_category(&mut self, value: &str, n: u64) {
        if let Some(&i) = self.index.get(value) {
            self.counts[i] += n;
        } else if let Some(count) = self.unseen.get_mut(value) {
            *count += n;
        } else if self.unseen.len() < UNSEEN_CAP {
            self.unseen.insert(value.to_owned(), n);
        } else {
            self.other_unseen += n;
        }
    }

    /// Adds another window of the same reference.
    pub fn merge(&mut self, other: &CategoricalWindow) -> Result<(), DriftError> {
        if self.categories != other.categories {
            return Err(DriftError::ForeignWindow);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        for (category, n) in &other.unseen {
            self.count_category(category, *n);
        }
        self.other_unseen += other.other_unseen;
        self.count += other.count;
        self.missing += other.missing;
        Ok(())
    }

    /// Present values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Missing values added.
    pub fn missing(&self) -> u64 {
        self.missing
    }
}
