use std::collections::BTreeMap;

use cairn_domain::Schema;
use serde::{Deserialize, Serialize};

use crate::{Cell, Record, Violation};

/// What a batch contained and what validation did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityReport {
    pub rows_in: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// Quarantined records by rule (a record breaking two rules counts under both).
    pub quarantined_by_rule: BTreeMap<String, u64>,
    /// Per column, over accepted records.
    pub columns: Vec<ColumnQuality>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnQuality {
    pub name: String,
    pub nulls: u64,
    pub null_rate: f64,
    /// Numeric and timestamp columns (timestamps in microseconds since the epoch).
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl ColumnQuality {
    /// One accepted cell of this column (none: null).
    pub fn observe(&mut self, cell: Option<Cell<'_>>) {
        match cell {
            None => self.nulls += 1,
            Some(cell) => {
                if let Some(number) = cell.as_f64().filter(|n| !n.is_nan()) {
                    self.min = Some(self.min.map_or(number, |min| min.min(number)));
                    self.max = Some(self.max.map_or(number, |max| max.max(number)));
                }
            }
        }
    }

    /// The smallest and largest of accepted numbers observed many at once (none: there were
    /// none), as [`ColumnState::observe_numbers`](crate::ColumnState::observe_numbers) returns them.
    pub fn observe_range(&mut self, range: Option<(f64, f64)>) {
        if let Some((min, max)) = range {
            self.min = Some(self.min.map_or(min, |m| m.min(min)));
            self.max = Some(self.max.map_or(max, |m| m.max(max)));
        }
    }
}

impl QualityReport {
    pub fn new(schema: &Schema) -> Self {
        Self {
            rows_in: 0,
            rows_accepted: 0,
            rows_quarantined: 0,
            quarantined_by_rule: BTreeMap::new(),
            columns: schema
                .columns
                .iter()
                .map(|c| ColumnQuality {
                    name: c.name.to_string(),
                    nulls: 0,
                    null_rate: 0.0,
                    min: None,
                    max: None,
                })
                .collect(),
        }
    }

    pub fn accept(&mut self, record: &Record) {
        self.accept_rows(1);
        for (column, value) in self.columns.iter_mut().zip(record) {
            column.observe(value.cell());
        }
    }

    /// Counts `rows` accepted rows whose cells the caller observes column by column
    /// ([`ColumnQuality::observe`]), as a columnar reader does.
    pub fn accept_rows(&mut self, rows: u64) {
        self.rows_in += rows;
        self.rows_accepted += rows;
    }

    pub fn quarantine(&mut self, violations: &[Violation]) {
        self.rows_in += 1;
        self.rows_quarantined += 1;
        let mut rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
        rules.dedup();
        for rule in rules {
            *self.quarantined_by_rule.entry(rule.to_owned()).or_default() += 1;
        }
    }

    /// Adds `other` (a report of more records of the same schema) into this one.
    pub fn merge(&mut self, other: &QualityReport) {
        self.rows_in += other.rows_in;
        self.rows_accepted += other.rows_accepted;
        self.rows_quarantined += other.rows_quarantined;
        for (rule, count) in &other.quarantined_by_rule {
            *self.quarantined_by_rule.entry(rule.clone()).or_default() += count;
        }
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.nulls += theirs.nulls;
            mine.min = [mine.min, theirs.min].into_iter().flatten().reduce(f64::min);
            mine.max = [mine.max, theirs.max].into_iter().flatten().reduce(f64::max);
        }
    }

    /// Share of records quarantined, in [0, 1].
    pub fn quarantined_share(&self) -> f64 {
        if self.rows_in == 0 { 0.0 } else { self.rows_quarantined as f64 / self.rows_in as f64 }
    }

    /// Fills in the rates; call once every record is counted.
    pub fn finish(&mut self) {
        let accepted = self.rows_accepted;
        for column in &mut self.columns {
            column.null_rate = if accepted == 0 { 0.0 } else { column.nulls as f64 / accepted as f64 };
        }
    }
}
