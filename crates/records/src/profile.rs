//! Statistical profiles of a dataset version: mergeable and bounded in memory, so a version's
//! profile is its previous version's merged with the new batches', and any number of rows fits.
//!
//! Per column: count, nulls, min/max, mean and standard deviation (Chan's parallel update),
//! quantiles from a DDSketch (relative error ≤ 1 %, at most 2 048 dense buckets a sign), a 20-bin
//! histogram over [min, max] derived from the sketch, and the most frequent values of
//! non-numeric columns (Space-Saving, 64 counters).

mod sketch_key;

use std::collections::BTreeMap;

use cairn_domain::Schema;
use serde::{Deserialize, Serialize};

use crate::{Cell, Record};

const ALPHA: f64 = 0.01;
/// `1 / ln(gamma)` for `ALPHA` (checked by a test): a bucket key is one logarithm, not two.
const INV_LN_GAMMA: f64 = 49.998_333_288_886_78;
const MAX_BUCKETS: usize = 2048;
const TOP_COUNTERS: usize = 64;
const TOP_SHOWN: usize = 10;
const HISTOGRAM_BINS: usize = 20;
const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/// The accumulating, mergeable state of a profile (stored with each batch and version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub rows: u64,
    pub columns: Vec<ColumnState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnState {
    pub name: String,
    pub numeric: bool,
    pub count: u64,
    pub nulls: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    pub sketch: Sketch,
    /// Space-Saving counters: value → (count, overestimate).
    pub top: BTreeMap<String, (u64, u64)>,
}

/// A DDSketch: log-spaced buckets with relative accuracy `ALPHA`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sketch {
    pub positive: Store,
    pub negative: Store,
    pub zeros: u64,
}

/// Dense bucket counts over a contiguous key range (adding a value is an index, not a search),
/// at most `MAX_BUCKETS` wide: past that the smallest magnitudes fold into the lowest bucket,
/// so the tails that matter for drift keep their accuracy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Store {
    offset: i32,
    counts: Vec<u64>,
}

impl Store {
    #[inline(always)]
    fn add(&mut self, key: i32, n: u64) {
        // Mostly a key already in range.
        let index = i64::from(key) - i64::from(self.offset);
        if let Some(count) = usize::try_from(index).ok().and_then(|index| self.counts.get_mut(index)) {
            *count += n;
            return;
        }
        self.add_outside(key, n);
    }

    /// A key outside the range held (or the first): the range grows, or the key folds.
    #[cold]
    #[inline(never)]
    fn add_outside(&mut self, key: i32, n: u64) {
        const WIDTH: i64 = MAX_BUCKETS as i64;
        if self.counts.is_empty() {
            self.offset = key;
            self.counts.push(0);
        }
        let (offset, key64) = (i64::from(self.offset), i64::from(key));
        let last = offset + self.counts.len() as i64 - 1;
        if key64 < offset {
            // Grow downwards as far as the width allows; lower still folds into the lowest.
            let low = key64.max(last - WIDTH + 1);
            let mut grown = vec![0; (offset - low) as usize];
            grown.append(&mut self.counts);
            self.counts = grown;
            self.offset = low as i32;
        } else if key64 > last {
            // Grow upwards, folding the lowest buckets that fall out of the width.
            let low = offset.max(key64 - WIDTH + 1);
            let shift = ((low - offset) as usize).min(self.counts.len());
            if shift > 0 {
                let folded: u64 = self.counts.drain(..shift).sum();
                if self.counts.is_empty() {
                    self.counts.push(0);
                }
                self.counts[0] += folded;
                self.offset = low as i32;
            }
            self.counts.resize((key64 - i64::from(self.offset) + 1) as usize, 0);
        }
        let index = (key64 - i64::from(self.offset)).max(0) as usize;
        self.counts[index] += n;
    }

    /// Non-empty buckets, lowest key first.
    fn buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (self.offset + i as i32, *n))
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Buckets held (memory bound).
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Independent running results a pass over many numbers keeps: the processor then adds (or
/// compares) several at once instead of waiting for each result on the one before.
const LANES: usize = 8;

/// The smallest and largest of `values` (none NaN); none when empty.
fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    let first = *values.first()?;
    let (mut min, mut max) = ([first; LANES], [first; LANES]);
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for ((min, max), x) in min.iter_mut().zip(&mut max).zip(chunk) {
            *min = if *x < *min { *x } else { *min };
            *max = if *x > *max { *x } else { *max };
        }
    }
    let fold = |(low, high): (f64, f64), x: &f64| (low.min(*x), high.max(*x));
    let lanes = min.iter().zip(&max).fold((first, first), |bounds, (min, max)| fold(fold(bounds, min), max));
    Some(rest.iter().fold(lanes, fold))
}

/// The sum of `f` over `values`, in [`LANES`] running sums.
fn sum(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut sums = [0.0; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (sum, x) in sums.iter_mut().zip(chunk) {
            *sum += f(*x);
        }
    }
    sums.iter().sum::<f64>() + rest.iter().map(|x| f(*x)).sum::<f64>()
}

fn gamma() -> f64 {
    (1.0 + ALPHA) / (1.0 - ALPHA)
}

impl Sketch {
    fn value(key: i32) -> f64 {
        2.0 * gamma().powi(key) / (gamma() + 1.0)
    }

    /// One value; NaN is skipped.
    pub fn add(&mut self, value: f64) {
        self.add_all(std::slice::from_ref(&value));
    }

    /// Many values at once, the key table looked up once.
    pub fn add_all(&mut self, values: &[f64]) {
        let table = sketch_key::table();
        for &value in values {
            // NaN is none of these: it is skipped.
            if value > 0.0 {
                self.positive.add(sketch_key::key_in(table, value), 1);
            } else if value < 0.0 {
                self.negative.add(sketch_key::key_in(table, -value), 1);
            } else if value == 0.0 {
                self.zeros += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &Sketch) {
        for (key, n) in other.positive.buckets() {
            self.positive.add(key, n);
        }
        for (key, n) in other.negative.buckets() {
            self.negative.add(key, n);
        }
        self.zeros += other.zeros;
    }

    pub fn count(&self) -> u64 {
        self.positive.total() + self.negative.total() + self.zeros
    }

    /// The value at quantile `q` (0–1), within the sketch's relative accuracy.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (count - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (key, n) in self.negative.buckets().rev() {
            seen += n;
            if seen > rank {
                return Some(-Self::value(key));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Some(0.0);
        }
        for (key, n) in self.positive.buckets() {
            seen += n;
            if seen > rank {
                return Some(Self::value(key));
            }
        }
        self.positive.buckets().next_back().map(|(key, _)| Self::value(key))
    }

    /// How many values are at most `x` (approximately).
    fn rank(&self, x: f64) -> u64 {
        let negative: u64 =
            self.negative.buckets().filter(|(key, _)| -Self::value(*key) <= x).map(|(_, n)| n).sum();
        let zeros = if x >= 0.0 { self.zeros } else { 0 };
        let positive: u64 =
            self.positive.buckets().filter(|(key, _)| Self::value(*key) <= x).map(|(_, n)| n).sum();
        negative + zeros + positive
    }
}

impl Profile {
    pub fn new(schema: &Schema) -> Self {
        let columns = schema
            .columns
            .iter()
            .map(|column| ColumnState {
                name: column.name.to_string(),
                numeric: column.column_type.is_numeric(),
                count: 0,
                nulls: 0,
                min: None,
                max: None,
                mean: 0.0,
                m2: 0.0,
                sketch: Sketch::default(),
                top: BTreeMap::new(),
            })
            .collect();
        Self { rows: 0, columns }
    }

    pub fn observe(&mut self, record: &Record) {
        self.rows += 1;
        for (column, value) in self.columns.iter_mut().zip(record) {
            column.observe(value.cell());
        }
    }

    /// Counts `rows` more rows whose cells the caller observes column by column
    /// ([`ColumnState::observe`]), as a columnar reader does.
    pub fn add_rows(&mut self, rows: u64) {
        self.rows += rows;
    }

    /// Adds `other` (the profile of more rows of the same dataset) into this one. Columns are
    /// matched by name; a column one side lacks (it was added to the schema later) counts as
    /// null in that side's rows.
    pub fn merge(&mut self, other: &Profile) {
        for mine in &mut self.columns {
            match other.columns.iter().find(|theirs| theirs.name == mine.name) {
                Some(theirs) => mine.merge(theirs),
                None => mine.nulls += other.rows,
            }
        }
        for theirs in &other.columns {
            if !self.columns.iter().any(|mine| mine.name == theirs.name) {
                let mut added = theirs.clone();
                added.nulls += self.rows;
                self.columns.push(added);
            }
        }
        self.rows += other.rows;
    }

    pub fn summary(&self) -> ProfileSummary {
        ProfileSummary { rows: self.rows, columns: self.columns.iter().map(ColumnState::summary).collect() }
    }
}

impl ColumnState {
    /// One cell of this column (none: null).
    pub fn observe(&mut self, cell: Option<Cell<'_>>) {
        let Some(cell) = cell else {
            self.nulls += 1;
            return;
        };
        self.count += 1;
        if let Some(x) = cell.as_f64().filter(|x| !x.is_nan()) {
            self.min = Some(self.min.map_or(x, |m| m.min(x)));
            self.max = Some(self.max.map_or(x, |m| m.max(x)));
            let delta = x - self.mean;
            self.mean += delta / self.count as f64;
            self.m2 += delta * (x - self.mean);
            self.sketch.add(x);
        } else if !self.numeric {
            match cell {
                Cell::Str(text) => self.count_value(text, 1, 0),
                Cell::Bool(flag) => self.count_value(if flag { "true" } else { "false" }, 1, 0),
                other => self.count_value(&other.to_string(), 1, 0),
            }
        }
    }

    /// Numbers of this column that are not NaN, many at once: what [`ColumnState::observe`]
    /// does for each, but the run's mean and spread are computed apart and merged in once
    /// (Chan), not as a chain of one division per value. Returns their smallest and largest,
    /// for the quality report.
    pub fn observe_numbers(&mut self, values: &[f64]) -> Option<(f64, f64)> {
        let (min, max) = min_max(values)?;
        self.min = Some(self.min.map_or(min, |m| m.min(min)));
        self.max = Some(self.max.map_or(max, |m| m.max(max)));
        let (n_a, n_b) = (self.count as f64, values.len() as f64);
        let mean = sum(values, |x| x) / n_b;
        let m2 = sum(values, |x| (x - mean) * (x - mean));
        let delta = mean - self.mean;
        let total = n_a + n_b;
        self.mean += delta * n_b / total;
        self.m2 += m2 + delta * delta * n_a * n_b / total;
        self.count += values.len() as u64;
        self.sketch.add_all(values);
        Some((min, max))
    }

    /// `n` cells of this column with the text `text` (neither null nor a number) in a row: what
    /// as many calls of [`ColumnState::observe`] do — a counter gains `n` at once, or one
    /// replaced takes them all — or in any order when the column holds no more values than the
    /// counters (nothing is replaced then), as a flag column does.
    pub fn observe_text(&mut self, text: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.count += n;
        if !self.numeric {
            self.count_value(text, n, 0);
        }
    }

    /// Texts of this column counted at once, how many of each (neither null nor numbers): what
    /// as many calls of [`ColumnState::observe`] do in any order, when the counters have room for
    /// every text they do not hold yet (nothing is replaced then). Otherwise it counts nothing and
    /// returns false: the texts must be observed in their order.
    pub fn observe_texts(&mut self, counts: &[(&str, u64)]) -> bool {
        let new = counts.iter().filter(|(text, n)| *n > 0 && !self.top.contains_key(*text)).count();
        if self.top.len() + new > TOP_COUNTERS {
            return false;
        }
        for (text, n) in counts {
            self.observe_text(text, *n);
        }
        true
    }

    /// Space-Saving: a new value takes the place of the least counted one, inheriting its
    /// count as the overestimate.
    fn count_value(&mut self, value: &str, n: u64, error: u64) {
        if let Some(entry) = self.top.get_mut(value) {
            entry.0 += n;
            entry.1 += error;
            return;
        }
        if self.top.len() < TOP_COUNTERS {
            self.top.insert(value.to_owned(), (n, error));
            return;
        }
        let Some((smallest, &(count, _))) = self.top.iter().min_by_key(|(_, (c, _))| *c) else { return };
        let smallest = smallest.clone();
        self.top.remove(&smallest);
        self.top.insert(value.to_owned(), (count + n, count + error));
    }

    fn merge(&mut self, other: &ColumnState) {
        let (n_a, n_b) = (self.count as f64, other.count as f64);
        if other.count > 0 && self.numeric {
            let delta = other.mean - self.mean;
            let total = n_a + n_b;
            self.mean += delta * n_b / total;
            self.m2 += other.m2 + delta * delta * n_a * n_b / total;
        }
        self.count += other.count;
        self.nulls += other.nulls;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.sketch.merge(&other.sketch);
        for (value, (n, error)) in &other.top {
            self.count_value(value, *n, *error);
        }
    }

    fn summary(&self) -> ColumnProfile {
        let total = self.count + self.nulls;
        let numeric = self.numeric && self.count > 0;
        let mut top: Vec<TopValue> = self
            .top
            .iter()
            .map(|(value, (count, _))| TopValue { value: value.clone(), count: *count })
            .collect();
        top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        top.truncate(TOP_SHOWN);
        ColumnProfile {
            name: self.name.clone(),
            count: self.count,
            nulls: self.nulls,
            null_rate: if total == 0 { 0.0 } else { self.nulls as f64 / total as f64 },
            min: self.min,
            max: self.max,
            mean: numeric.then_some(self.mean),
            std: (numeric && self.count > 1).then(|| (self.m2 / (self.count - 1) as f64).sqrt()),
            quantiles: if numeric {
                QUANTILES
                    .iter()
                    .filter_map(|q| Some(Quantile { q: *q, value: self.sketch.quantile(*q)? }))
                    .collect()
            } else {
                Vec::new()
            },
            histogram: numeric.then(|| self.histogram()).flatten(),
            top_values: top,
        }
    }

    fn histogram(&self) -> Option<Histogram> {
        let (min, max) = (self.min?, self.max?);
        let width = (max - min) / HISTOGRAM_BINS as f64;
        if width <= 0.0 {
            return Some(Histogram { edges: vec![min, max], counts: vec![self.count] });
        }
        let edges: Vec<f64> = (0..=HISTOGRAM_BINS).map(|i| min + width * i as f64).collect();
        let mut counts = Vec::with_capacity(HISTOGRAM_BINS);
        let mut below = 0;
        for (i, edge) in edges.iter().enumerate().skip(1) {
            let upto = if i == HISTOGRAM_BINS { self.count } else { self.sketch.rank(*edge).min(self.count) };
            counts.push(upto.saturating_sub(below));
            below = below.max(upto);
        }
        Some(Histogram { edges, counts })
    }
}

/// What a profile says, as served over HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileSummary {
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnProfile {
    pub name: String,
    /// Non-null values.
    pub count: u64,
    pub nulls: u64,
    pub null_rate: f64,
    /// Numeric and timestamp columns (timestamps in microseconds since the epoch).
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub std: Option<f64>,
    /// p1, p5, p25, p50, p75, p95, p99 within 1 % relative error.
    pub quantiles: Vec<Quantile>,
    /// 20 equal-width bins over [min, max]; counts from the sketch.
    pub histogram: Option<Histogram>,
    /// Most frequent values of non-numeric columns (approximate past 64 distinct values).
    pub top_values: Vec<TopValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quantile {
    pub q: f64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "x", "type": "float64"},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "kind", "type": "string"}
            ],
            "event_timestamp": "ts"
        }))
        .unwrap()
    }

    /// Deterministic pseudo-random numbers (xorshift), spread over several magnitudes.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                (unit * 12.0).exp() - 50.0
            })
            .collect()
    }

    fn record(x: f64, kind: &str) -> Record {
        vec![Value::Float(x), Value::Timestamp(1), Value::Str(kind.into())]
    }

    #[test]
    fn matches_exact_statistics_within_the_sketch_accuracy() {
        let xs = values(50_000, 7);
        let mut profile = Profile::new(&schema());
        for (i, x) in xs.iter().enumerate() {
            let kind = if i % 10 == 0 {
                "rare"
            } else if i % 2 == 0 {
                "even"
            } else {
                "odd"
            };
            profile.observe(&record(*x, kind));
        }
        profile.observe(&vec![Value::Null, Value::Timestamp(1), Value::Null]);
        let summary = profile.summary();
        let x = &summary.columns[0];
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let std = (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert_eq!((x.count, x.nulls), (50_000, 1));
        assert!((x.mean.unwrap() - mean).abs() < 1e-6 * mean.abs().max(1.0));
        assert!((x.std.unwrap() - std).abs() < 1e-6 * std);
        assert_eq!((x.min, x.max), (sorted.first().copied(), sorted.last().copied()));
        for quantile in &x.quantiles {
            let exact = sorted[(quantile.q * (n - 1.0)).floor() as usize];
            assert!(
                (quantile.value - exact).abs() <= 0.0101 * exact.abs(),
                "q{} {} vs {exact}",
                quantile.q,
                quantile.value
            );
        }
        let histogram = x.histogram.as_ref().unwrap();
        assert_eq!(histogram.counts.len(), 20);
        assert_eq!(histogram.counts.iter().sum::<u64>(), 50_000);
        let kinds = &summary.columns[2].top_values;
        assert_eq!((kinds[0].value.as_str(), kinds[0].count), ("odd", 25_000));
        assert_eq!(kinds.iter().map(|t| t.count).sum::<u64>(), 50_000);
    }

    #[test]
    fn merging_equals_profiling_everything_at_once() {
        let (a, b) = (values(20_000, 1), values(30_000, 2));
        let mut whole = Profile::new(&schema());
        let (mut left, mut right) = (Profile::new(&schema()), Profile::new(&schema()));
        for x in &a {
            whole.observe(&record(*x, "a"));
            left.observe(&record(*x, "a"));
        }
        for x in &b {
            whole.observe(&record(*x, "b"));
            right.observe(&record(*x, "b"));
        }
        left.merge(&right);
        let (merged, direct) = (left.summary(), whole.summary());
        assert_eq!(merged.rows, direct.rows);
        let (m, d) = (&merged.columns[0], &direct.columns[0]);
        assert_eq!((m.count, m.min, m.max), (d.count, d.min, d.max));
        assert!((m.mean.unwrap() - d.mean.unwrap()).abs() < 1e-6 * d.mean.unwrap().abs().max(1.0));
        assert!((m.std.unwrap() - d.std.unwrap()).abs() < 1e-6 * d.std.unwrap());
        assert_eq!(m.quantiles, d.quantiles, "sketches merge exactly");
        assert_eq!(merged.columns[2].top_values, direct.columns[2].top_values);
        let json = serde_json::to_string(&left).unwrap();
        assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), left, "state round-trips for storage");
    }

    #[test]
    fn merging_across_an_added_column_counts_the_older_rows_as_null() {
        let mut evolved = schema();
        evolved
            .columns
            .push(serde_json::from_value(serde_json::json!({"name": "note", "type": "string"})).unwrap());
        let mut old = Profile::new(&schema());
        for x in [1.0, 2.0, 3.0] {
            old.observe(&record(x, "a"));
        }
        let mut new = Profile::new(&evolved);
        new.observe(&[record(4.0, "b"), vec![Value::Str("hi".into())]].concat());
        new.observe(&[record(5.0, "b"), vec![Value::Null]].concat());
        let mut forward = old.clone();
        forward.merge(&new);
        let summary = forward.summary();
        assert_eq!(summary.rows, 5);
        let note = &summary.columns[3];
        assert_eq!((note.name.as_str(), note.count, note.nulls), ("note", 1, 4));
        assert_eq!((summary.columns[0].count, summary.columns[0].max), (5, Some(5.0)));
        let mut backward = new.clone();
        backward.merge(&old);
        assert_eq!(backward.summary().columns[3].nulls, 4, "the same from either side");
    }

    #[test]
    fn texts_counted_at_once_equal_texts_one_by_one_while_the_counters_have_room() {
        let mut one_by_one = Profile::new(&schema()).columns.remove(2);
        for i in 0..60 {
            one_by_one.observe(Some(Cell::Str(&format!("k{i}"))));
        }
        let mut at_once = one_by_one.clone();
        // Two of these are new and the counters have room: counted at once, in any order, as
        // one by one.
        let texts: Vec<String> = (58..62).map(|i| format!("k{i}")).collect();
        let counts: Vec<(&str, u64)> = texts.iter().rev().map(|text| (text.as_str(), 3)).collect();
        assert!(at_once.observe_texts(&counts));
        for text in &texts {
            for _ in 0..3 {
                one_by_one.observe(Some(Cell::Str(text)));
            }
        }
        assert_eq!(at_once, one_by_one);
        // Five new texts do not fit: nothing is counted, they must come in order.
        let texts: Vec<String> = (70..75).map(|i| format!("k{i}")).collect();
        let counts: Vec<(&str, u64)> = texts.iter().map(|text| (text.as_str(), 1)).collect();
        assert!(!at_once.observe_texts(&counts));
        assert_eq!(at_once, one_by_one);
    }

    #[test]
    fn the_key_constant_matches_alpha() {
        assert!((INV_LN_GAMMA - 1.0 / gamma().ln()).abs() < 1e-9);
    }

    proptest::proptest! {
        #[test]
        fn many_numbers_at_once_count_as_one_by_one(
            values in proptest::collection::vec(
                proptest::prop_oneof![-1e9..1e9f64, -1e-3..1e-3f64, proptest::strategy::Just(0.0)],
                0..100,
            ),
            before in proptest::collection::vec(-1e3..1e3f64, 0..20),
        ) {
            let mut start = Profile::new(&schema()).columns.remove(0);
            for x in &before {
                start.observe(Some(Cell::Float(*x)));
            }
            let mut one_by_one = start.clone();
            for x in &values {
                one_by_one.observe(Some(Cell::Float(*x)));
            }
            let mut at_once = start;
            let bounds = at_once.observe_numbers(&values);
            let expected = values.iter().copied().reduce(f64::min).zip(values.iter().copied().reduce(f64::max));
            proptest::prop_assert_eq!(bounds, expected);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
            proptest::prop_assert!(close(at_once.mean, one_by_one.mean), "{} {}", at_once.mean, one_by_one.mean);
            proptest::prop_assert!(close(at_once.m2, one_by_one.m2), "{} {}", at_once.m2, one_by_one.m2);
            (at_once.mean, at_once.m2) = (one_by_one.mean, one_by_one.m2);
            proptest::prop_assert_eq!(at_once, one_by_one);
        }

        #[test]
        fn a_sketch_takes_many_values_as_one_by_one(values in proptest::collection::vec(
            // Also values of one bucket (1 and 1.001), in runs and apart, and NaN among them.
            proptest::prop_oneof![
                proptest::num::f64::ANY,
                proptest::sample::select(vec![1.0, 1.001, 5.0, -2.0, 0.0, f64::NAN]),
            ],
            0..100,
        )) {
            let (mut one_by_one, mut at_once) = (Sketch::default(), Sketch::default());
            for x in &values {
                one_by_one.add(*x);
            }
            at_once.add_all(&values);
            proptest::prop_assert_eq!(at_once, one_by_one);
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let mut profile = Profile::new(&schema());
        for i in 0..100_000 {
            profile.observe(&record(1e-200 * 1.5f64.powi(i % 2000), &format!("k{i}")));
        }
        let column = &profile.columns[0];
        assert!(column.sketch.positive.len() <= MAX_BUCKETS);
        assert!(profile.columns[2].top.len() <= TOP_COUNTERS);
    }
}
