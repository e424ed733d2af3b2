//! Arrow columns as trainers and metrics take them: features as `f32` columns (null → NaN, the
//! missing value), labels as numbers or class codes, times as microseconds.

use std::collections::BTreeSet;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_cast::cast;
use arrow_schema::{DataType, TimeUnit};
use cairn_api::Task;
use cairn_domain::ColumnType;
use cairn_learn::{ClassLabels, Frame, Target};
use serde_json::Value;

/// Columns the platform can train on.
pub fn numeric(column_type: &ColumnType) -> bool {
    matches!(
        column_type,
        ColumnType::Bool | ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float32 | ColumnType::Float64
    )
}

/// The features of `rows`, by name, as `f32` columns.
pub fn features(rows: &RecordBatch, names: &[String]) -> Result<Frame, String> {
    let columns = names
        .iter()
        .map(|name| {
            let column = rows.column_by_name(name).ok_or_else(|| format!("no feature column `{name}`"))?;
            floats(column.as_ref()).map_err(|error| format!("feature `{name}`: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Frame { names: names.to_vec(), columns })
}

fn floats(column: &dyn Array) -> Result<Vec<f32>, String> {
    let column = cast(column, &DataType::Float32).map_err(|error| error.to_string())?;
    let values = column.as_primitive::<Float32Type>();
    Ok((0..values.len()).map(|row| if values.is_valid(row) { values.value(row) } else { f32::NAN }).collect())
}

/// A label column's values: numbers (regression) or class codes.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Values(Vec<f64>),
    Codes(Vec<u32>),
}

pub fn truth(column: &dyn Array, task: Task, classes: &[Value]) -> Result<Truth, String> {
    match task {
        Task::Regression => {
            let column = cast(column, &DataType::Float64).map_err(|error| error.to_string())?;
            let values = column.as_primitive::<Float64Type>();
            Ok(Truth::Values((0..values.len()).map(|row| values.value(row)).collect()))
        }
        Task::Binary | Task::Multiclass => Ok(Truth::Codes(codes(column, classes)?)),
    }
}

/// The label column as a trainer's target.
pub fn target(rows: &RecordBatch, label: &str, task: Task, classes: &[Value]) -> Result<Target, String> {
    let column = rows.column_by_name(label).ok_or_else(|| format!("no label column `{label}`"))?;
    Ok(match truth(column.as_ref(), task, classes)? {
        Truth::Values(values) => Target::Regression(values),
        Truth::Codes(codes) => Target::Classes { labels: class_labels(classes), codes },
    })
}

/// The class labels the exported model answers with.
pub fn class_labels(classes: &[Value]) -> ClassLabels {
    let integers: Option<Vec<i64>> = classes.iter().map(Value::as_i64).collect();
    match integers {
        Some(integers) => ClassLabels::Int64(integers),
        None => ClassLabels::Strings(classes.iter().map(text).collect()),
    }
}

/// A JSON value as text: a string as itself, anything else as JSON (a class label, a parameter).
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Each row's class code: the index of its label in `classes`.
pub fn codes(column: &dyn Array, classes: &[Value]) -> Result<Vec<u32>, String> {
    let labels = label_values(column)?;
    labels
        .into_iter()
        .enumerate()
        .map(|(row, label)| {
            let label = label.ok_or_else(|| format!("row {row} has no label"))?;
            classes
                .iter()
                .position(|class| *class == label)
                .map(|index| index as u32)
                .ok_or_else(|| format!("row {row}'s label {label} is not one of the classes the run saw"))
        })
        .collect()
}

/// The distinct labels of a column, in order: the classes a classifier learns.
pub fn classes(column: &dyn Array) -> Result<Vec<Value>, String> {
    let labels = label_values(column)?;
    let integers: Option<BTreeSet<i64>> = labels.iter().flatten().map(Value::as_i64).collect();
    Ok(match integers {
        Some(integers) => integers.into_iter().map(Value::from).collect(),
        None => {
            labels.iter().flatten().map(text).collect::<BTreeSet<_>>().into_iter().map(Value::from).collect()
        }
    })
}

/// A label column's values as JSON: integers (booleans as 0 and 1) or text.
fn label_values(column: &dyn Array) -> Result<Vec<Option<Value>>, String> {
    let (column, integer) = match column.data_type() {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => (cast(column, &DataType::Int64), true),
        DataType::Float32 | DataType::Float64 => {
            return Err("a class label must be an integer, a boolean or text, not a float".into());
        }
        _ => (cast(column, &DataType::Utf8), false),
    };
    let column = column.map_err(|error| error.to_string())?;
    Ok(if integer {
        let values = column.as_primitive::<Int64Type>();
        (0..values.len()).map(|row| values.is_valid(row).then(|| Value::from(values.value(row)))).collect()
    } else {
        let values = column.as_string::<i32>();
        (0..values.len()).map(|row| values.is_valid(row).then(|| Value::from(values.value(row)))).collect()
    })
}

/// A time column as microseconds since the epoch.
pub fn micros(column: &dyn Array) -> Result<Vec<Option<i64>>, String> {
    let column =
        cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(|error| error.to_string())?;
    let values = column.as_primitive::<TimestampMicrosecondType>();
    Ok((0..values.len()).map(|row| values.is_valid(row).then(|| values.value(row))).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, BooleanArray, Int32Array, StringArray};

    use super::*;

    #[test]
    fn labels_become_sorted_classes_and_codes() {
        let words: ArrayRef = Arc::new(StringArray::from(vec!["ok", "fraud", "ok"]));
        let classes = classes(words.as_ref()).unwrap();
        assert_eq!(classes, vec![Value::from("fraud"), Value::from("ok")]);
        assert_eq!(codes(words.as_ref(), &classes).unwrap(), vec![1, 0, 1]);
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        let classes = super::classes(flags.as_ref()).unwrap();
        assert_eq!(classes, vec![Value::from(0), Value::from(1)]);
        assert!(matches!(class_labels(&classes), ClassLabels::Int64(labels) if labels == vec![0, 1]));
        let numbers: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None, Some(-1)]));
        assert_eq!(super::classes(numbers.as_ref()).unwrap(), vec![Value::from(-1), Value::from(3)]);
        assert!(codes(numbers.as_ref(), &[Value::from(3)]).unwrap_err().contains("row 1"));
    }
}
