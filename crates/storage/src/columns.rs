//! A batch of a dataset's schema (its arrays as [`arrow_schema`](crate::arrow_schema) types them)
//! read column by column: checked against the schema's rules, counted in the quality report and
//! profiled, without a value per cell.

use std::collections::BTreeSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, TimeUnit};
use arrow_select::filter::filter_record_batch;
use cairn_records::{Cell, Profile, QualityReport, Record, Validator, Value, Violation};

use crate::StorageError;

/// Microseconds in a day: a row's day is its event timestamp's UTC date.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// A column downcast once, so that reading a cell is a branch, not a type dispatch.
enum Typed<'a> {
    Bool(&'a BooleanArray),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
    Utf8(&'a StringArray),
    Timestamp(&'a TimestampMicrosecondArray),
    /// Of no type a dataset's files have: every cell reads as null.
    Other,
}

impl<'a> Typed<'a> {
    fn of(array: &'a ArrayRef) -> Self {
        match array.data_type() {
            DataType::Boolean => Self::Bool(array.as_boolean()),
            DataType::Int32 => Self::Int32(array.as_primitive::<Int32Type>()),
            DataType::Int64 => Self::Int64(array.as_primitive::<Int64Type>()),
            DataType::Float32 => Self::Float32(array.as_primitive::<Float32Type>()),
            DataType::Float64 => Self::Float64(array.as_primitive::<Float64Type>()),
            DataType::Utf8 => Self::Utf8(array.as_string::<i32>()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Self::Timestamp(array.as_primitive::<TimestampMicrosecondType>())
            }
            _ => Self::Other,
        }
    }

    /// Whether every value, null slots' included, is a number within the bounds (NaN is, as for
    /// the rules): then no row breaks them. False for a column of no number type.
    fn within(&self, min: Option<f64>, max: Option<f64>) -> bool {
        fn all<T: Copy>(values: &[T], min: Option<f64>, max: Option<f64>, float: impl Fn(T) -> f64) -> bool {
            let (min, max) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
            values.iter().all(|x| {
                let x = float(*x);
                !(x < min || x > max)
            })
        }
        match self {
            Self::Int32(a) => all(a.values(), min, max, f64::from),
            Self::Int64(a) => all(a.values(), min, max, |x| x as f64),
            Self::Float32(a) => all(a.values(), min, max, f64::from),
            Self::Float64(a) => all(a.values(), min, max, |x| x),
            Self::Timestamp(a) => all(a.values(), min, max, |x| x as f64),
            Self::Bool(_) | Self::Utf8(_) | Self::Other => false,
        }
    }

    fn cell(&self, row: usize) -> Option<Cell<'a>> {
        Some(match self {
            Self::Bool(a) => Cell::Bool(a.is_valid(row).then(|| a.value(row))?),
            Self::Int32(a) => Cell::Int(a.is_valid(row).then(|| a.value(row))?.into()),
            Self::Int64(a) => Cell::Int(a.is_valid(row).then(|| a.value(row))?),
            Self::Float32(a) => Cell::Float(a.is_valid(row).then(|| a.value(row))?.into()),
            Self::Float64(a) => Cell::Float(a.is_valid(row).then(|| a.value(row))?),
            Self::Utf8(a) => Cell::Str(a.is_valid(row).then(|| a.value(row))?),
            Self::Timestamp(a) => Cell::Timestamp(a.is_valid(row).then(|| a.value(row))?),
            Self::Other => return None,
        })
    }
}

/// Row `row` of `batch` as a record.
pub fn record(batch: &RecordBatch, row: usize) -> Record {
    batch
        .columns()
        .iter()
        .map(|array| Typed::of(array).cell(row).map_or(Value::Null, Cell::to_value))
        .collect()
}

/// The rules each row of `batch` breaks, a list a row (empty: accepted), or no lists at all
/// when every row is accepted. Unique keys are checked, and the accepted ones remembered,
/// record by record, as [`Validator::check`] does.
pub fn check(validator: &mut Validator, batch: &RecordBatch) -> Vec<Vec<Violation>> {
    let rows = batch.num_rows();
    if validator.checks_keys() {
        return (0..rows).map(|row| validator.check(&record(batch, row))).collect();
    }
    let mut violations = Vec::new();
    let mut broken = |row: usize, violation: Violation| {
        if violations.is_empty() {
            violations.resize(rows, Vec::new());
        }
        violations[row].push(violation);
    };
    for (rules, array) in validator.columns().iter().zip(batch.columns()) {
        if !rules.nullable() && array.null_count() > 0 {
            for row in (0..rows).filter(|row| array.is_null(*row)) {
                broken(row, rules.violation("not_null", None));
            }
        }
        if !rules.checks_values() {
            continue;
        }
        let typed = Typed::of(array);
        if let Some((min, max)) = rules.bounds_only()
            && typed.within(min, max)
        {
            continue;
        }
        // Few texts (categories, countries): each checked once.
        if let Typed::Utf8(texts) = typed
            && let Some(few) = FewTexts::of(texts)
        {
            let rules_broken: Vec<Vec<&'static str>> = few
                .texts
                .iter()
                .map(|text| {
                    let mut names = Vec::new();
                    rules.broken(Cell::Str(text), |rule| names.push(rule));
                    names
                })
                .collect();
            if rules_broken.iter().all(Vec::is_empty) {
                continue;
            }
            for (row, index) in few.rows.iter().map(|index| usize::from(*index)).enumerate() {
                // A null's index is past the texts.
                let (Some(text), Some(names)) = (few.texts.get(index), rules_broken.get(index)) else {
                    continue;
                };
                for rule in names {
                    broken(row, rules.violation(rule, Some(Cell::Str(text))));
                }
            }
            continue;
        }
        // Texts repeat: one that passed is not checked again.
        let mut passed: Vec<&str> = Vec::new();
        for row in 0..rows {
            let Some(cell) = typed.cell(row) else { continue };
            if let Cell::Str(text) = cell
                && passed.contains(&text)
            {
                continue;
            }
            let mut ok = true;
            rules.broken(cell, |rule| {
                ok = false;
                broken(row, rules.violation(rule, Some(cell)));
            });
            if let (true, Cell::Str(text)) = (ok, cell)
                && passed.len() < PASSED_TEXTS
            {
                passed.push(text);
            }
        }
    }
    violations
}

/// Texts of a column remembered as passing its rules, within a batch.
const PASSED_TEXTS: usize = 16;

/// The different texts of a string column that holds only a few (categories, countries, flags
/// as text), and each row's among them: rules and counts then look at each text once, not at
/// every row.
struct FewTexts<'a> {
    texts: Vec<&'a str>,
    /// Each row's index in `texts`; [`FewTexts::NULL`] for a null.
    rows: Vec<u8>,
}

impl<'a> FewTexts<'a> {
    const MOST: usize = 16;
    const NULL: u8 = u8::MAX;

    /// None when the column holds more than [`FewTexts::MOST`] different texts.
    fn of(array: &'a StringArray) -> Option<Self> {
        let mut texts: Vec<&str> = Vec::new();
        let mut rows = Vec::with_capacity(array.len());
        let mut last = 0;
        for row in 0..array.len() {
            if array.is_null(row) {
                rows.push(Self::NULL);
                continue;
            }
            let text = array.value(row);
            // Runs of one text are common: the last one found is tried first.
            if texts.get(last) != Some(&text) {
                last = match texts.iter().position(|known| *known == text) {
                    Some(index) => index,
                    None if texts.len() < Self::MOST => {
                        texts.push(text);
                        texts.len() - 1
                    }
                    None => return None,
                };
            }
            rows.push(last as u8);
        }
        Some(Self { texts, rows })
    }

    /// How many rows hold each text, in the order of `texts`.
    fn counts(&self) -> Vec<(&'a str, u64)> {
        let mut counts: Vec<(&str, u64)> = self.texts.iter().map(|text| (*text, 0)).collect();
        for index in &self.rows {
            if let Some((_, n)) = counts.get_mut(usize::from(*index)) {
                *n += 1;
            }
        }
        counts
    }
}

/// The rows of `batch` that broke no rule (`violations` as [`check`] returned them).
pub fn accepted(batch: &RecordBatch, violations: &[Vec<Violation>]) -> Result<RecordBatch, StorageError> {
    if violations.is_empty() {
        return Ok(batch.clone());
    }
    let keep: BooleanArray = violations.iter().map(|broken| Some(broken.is_empty())).collect();
    Ok(filter_record_batch(batch, &keep)?)
}

/// Counts the rows of `batch`, all accepted, in `report` and `profile`.
pub fn observe(batch: &RecordBatch, report: &mut QualityReport, profile: &mut Profile) {
    let rows = batch.num_rows();
    report.accept_rows(rows as u64);
    profile.add_rows(rows as u64);
    let columns = report.columns.iter_mut().zip(profile.columns.iter_mut());
    let mut numbers = Vec::with_capacity(rows);
    for ((quality, state), array) in columns.zip(batch.columns()) {
        let typed = Typed::of(array);
        if let (Typed::Float64(floats), 0) = (&typed, array.null_count())
            && !floats.values().iter().any(|x| x.is_nan())
        {
            quality.observe_range(state.observe_numbers(floats.values()));
            continue;
        }
        if array.null_count() == 0 {
            // Whole numbers: all of them at once, as floats.
            numbers.clear();
            match &typed {
                Typed::Int32(ints) => numbers.extend(ints.values().iter().map(|x| f64::from(*x))),
                Typed::Int64(ints) => numbers.extend(ints.values().iter().map(|x| *x as f64)),
                Typed::Timestamp(times) => numbers.extend(times.values().iter().map(|x| *x as f64)),
                _ => {}
            }
            if !numbers.is_empty() {
                quality.observe_range(state.observe_numbers(&numbers));
                continue;
            }
        }
        if let Typed::Utf8(texts) = &typed
            && let Some(few) = FewTexts::of(texts)
            && state.observe_texts(&few.counts())
        {
            for _ in 0..texts.null_count() {
                quality.observe(None);
                state.observe(None);
            }
            continue;
        }
        if let Typed::Bool(flags) = &typed {
            // Two values at most: counted in any order, the profile is the same.
            for _ in 0..flags.null_count() {
                quality.observe(None);
                state.observe(None);
            }
            let trues = flags.true_count() as u64;
            state.observe_text("true", trues);
            state.observe_text("false", (flags.len() - flags.null_count()) as u64 - trues);
            continue;
        }
        numbers.clear();
        for row in 0..rows {
            match typed.cell(row) {
                Some(cell) => match cell.as_f64().filter(|x| !x.is_nan()) {
                    Some(x) => numbers.push(x),
                    None => {
                        quality.observe(Some(cell));
                        state.observe(Some(cell));
                    }
                },
                None => {
                    quality.observe(None);
                    state.observe(None);
                }
            }
        }
        quality.observe_range(state.observe_numbers(&numbers));
    }
}

/// The days (since 1970-01-01, UTC) of the event timestamps in column `event_ts`.
pub fn event_days(batch: &RecordBatch, event_ts: usize) -> BTreeSet<i32> {
    let Some(times) =
        batch.columns().get(event_ts).and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>())
    else {
        return BTreeSet::new();
    };
    times.iter().flatten().filter_map(|micros| i32::try_from(micros.div_euclid(DAY_MICROS)).ok()).collect()
}

#[cfg(test)]
mod tests {
    use cairn_domain::Schema;

    use super::*;
    use crate::BatchBuilder;

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64", "rules": {"min": 0, "max": 100}},
                {"name": "email", "type": "string", "rules": {"regex": "[a-z]+@[a-z]+\\.com"}},
                {"name": "country", "type": "string", "rules": {"allowed": ["fr", "de"]}},
                {"name": "channel", "type": "categorical", "values": ["web", "store"]},
                {"name": "flag", "type": "bool"},
                {"name": "qty", "type": "int32", "rules": {"max": 10}},
                {"name": "note", "type": "string", "rules": {"regex": "[0-9]+"}}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"]
        }))
        .unwrap()
    }

    /// Records breaking every rule in turn, nulls among them, each with all kinds of values.
    fn records() -> Vec<Record> {
        let text = |s: &str| Value::Str(s.into());
        (0..300i64)
            .map(|i| {
                let maybe = |value: Value, every: i64| if i % every == 0 { Value::Null } else { value };
                vec![
                    maybe(Value::Int(i), 37),
                    maybe(Value::Timestamp(i * 3_600_000_000 - 86_400_000_000), 41),
                    maybe(Value::Float((i % 120) as f64 - 5.0), 7),
                    maybe(text(if i % 11 == 0 { "not an email" } else { "a@b.com" }), 5),
                    maybe(text(["fr", "de", "it"][(i % 3) as usize]), 13),
                    maybe(text(["web", "store", "mail"][(i % 4).min(2) as usize]), 17),
                    maybe(Value::Bool(i % 2 == 0), 3),
                    maybe(Value::Int(i % 13), 19),
                    // More texts than are checked and counted once each.
                    maybe(text(&if i % 29 == 0 { format!("x{i}") } else { i.to_string() }), 23),
                ]
            })
            .collect()
    }

    fn assert_observed_as_record_by_record(schema: &Schema, batch: &RecordBatch, records: &[Record]) {
        let (mut report, mut profile) = (QualityReport::new(schema), Profile::new(schema));
        observe(batch, &mut report, &mut profile);
        let (mut report_rows, mut profile_rows) = (QualityReport::new(schema), Profile::new(schema));
        for record in records {
            report_rows.accept(record);
            profile_rows.observe(record);
        }
        assert_eq!(report, report_rows);
        // Means and spreads are summed in another order: equal within rounding.
        for (columnar, by_row) in profile.columns.iter_mut().zip(&profile_rows.columns) {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
            assert!(close(columnar.mean, by_row.mean) && close(columnar.m2, by_row.m2), "{}", by_row.name);
            (columnar.mean, columnar.m2) = (by_row.mean, by_row.m2);
        }
        assert_eq!(profile, profile_rows);
    }

    #[test]
    fn checking_and_profiling_a_batch_equals_doing_it_record_by_record() {
        let schema = schema();
        let records = records();
        let mut builder = BatchBuilder::new(&schema);
        records.iter().for_each(|record| builder.push(record));
        let batch = builder.finish().unwrap();
        assert_eq!((0..records.len()).map(|row| record(&batch, row)).collect::<Vec<_>>(), records);

        let mut by_record = Validator::new(&schema);
        let expected: Vec<Vec<Violation>> = records.iter().map(|r| by_record.check(r)).collect();
        let got = check(&mut Validator::new(&schema), &batch);
        assert_eq!(got, expected);
        assert!(got.iter().any(Vec::is_empty) && got.iter().any(|v| v.len() > 1));
        let kept = accepted(&batch, &got).unwrap();
        let expected_kept: Vec<Record> =
            records.iter().zip(&expected).filter(|(_, v)| v.is_empty()).map(|(r, _)| r.clone()).collect();
        assert_eq!((0..kept.num_rows()).map(|row| record(&kept, row)).collect::<Vec<_>>(), expected_kept);
        // Bounds are checked by one scan of a column, row by row only when a value breaks them.
        let bounds = (Some(0.0), Some(100.0));
        assert!(!Typed::of(batch.column(2)).within(bounds.0, bounds.1));
        assert!(Typed::of(kept.column(2)).within(bounds.0, bounds.1));
        assert!(check(&mut Validator::new(&schema), &kept).iter().all(Vec::is_empty));

        // With nulls, and without (whole-number columns are then read as one run).
        assert_observed_as_record_by_record(&schema, &batch, &records);
        assert_eq!(kept.column(0).null_count() + kept.column(1).null_count(), 0);
        assert_observed_as_record_by_record(&schema, &kept, &expected_kept);

        let days = event_days(&batch, 1);
        assert_eq!((days.first(), days.last()), (Some(&-1), Some(&11)));
    }
}
