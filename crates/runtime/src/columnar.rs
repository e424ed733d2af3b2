//! Models over Arrow columns, for everything that scores stored rows (batch scoring, training's
//! evaluation): a batch's columns fill the model's inputs by feature name through its
//! [`Layout`], with the same conversions records get (a null is a missing value — NaN — for a
//! floating-point feature, and refused for any other), and each output becomes columns again.

use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{
    Array as _, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::DataType as ArrowType;

use crate::{DataType, Layout, LayoutError, Output, Tensor, TensorData};

/// Why a batch's columns cannot fill a model, or its outputs cannot become columns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    #[error("the rows have no column `{0}`, a feature the model takes")]
    Missing(String),
    #[error("column `{column}` ({from}) cannot fill the model's {datatype} feature: {reason}")]
    Type { column: String, from: String, datatype: DataType, reason: String },
    #[error("column `{column}` is null in row {row}: only floating-point features take a missing value")]
    Null { column: String, row: usize },
    #[error("output `{0}` is not one value (or one row of values) per input row")]
    NotPerRow(String),
    #[error("output `{output}` is {datatype}, which a column cannot hold")]
    Unsupported { output: String, datatype: DataType },
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// The model's inputs for `batch`'s rows: each feature of `layout` from the column of its name.
pub fn inputs(layout: &Layout, batch: &RecordBatch) -> Result<Vec<(String, Tensor)>, ColumnError> {
    let columns = layout
        .features()
        .into_iter()
        .map(|(name, datatype)| {
            let column = batch.column_by_name(name).ok_or_else(|| ColumnError::Missing(name.to_owned()))?;
            tensor_data(name, column, datatype)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(layout.tensors(batch.num_rows(), columns)?)
}

/// One column as a feature of `datatype`: numbers of any width and type convert (an integer
/// out of the feature's range is refused), strings and categories fill `BYTES`.
fn tensor_data(name: &str, column: &ArrayRef, datatype: DataType) -> Result<TensorData, ColumnError> {
    let refuse = |reason: String| ColumnError::Type {
        column: name.to_owned(),
        from: column.data_type().to_string(),
        datatype,
        reason,
    };
    let strict = CastOptions { safe: false, ..CastOptions::default() };
    let cast =
        |to: &ArrowType| cast_with_options(column, to, &strict).map_err(|error| refuse(error.to_string()));
    let no_nulls = |array: &ArrayRef| match array.null_count() {
        0 => Ok(()),
        _ => {
            let row = (0..array.len()).find(|row| array.is_null(*row)).unwrap_or_default();
            Err(ColumnError::Null { column: name.to_owned(), row })
        }
    };
    let integers = || -> Result<Vec<i64>, ColumnError> {
        let array = cast(&ArrowType::Int64)?;
        no_nulls(&array)?;
        Ok(array.as_primitive::<Int64Type>().values().to_vec())
    };
    macro_rules! narrow {
        ($variant:ident, $ty:ty) => {{
            let narrowed: Result<Vec<$ty>, ColumnError> = integers()?
                .into_iter()
                .map(|value| <$ty>::try_from(value).map_err(|_| refuse(format!("{value} is out of range"))))
                .collect();
            TensorData::$variant(narrowed?)
        }};
    }
    Ok(match datatype {
        DataType::Fp32 => {
            let array = cast(&ArrowType::Float32)?;
            let floats = array.as_primitive::<Float32Type>();
            TensorData::Fp32(
                (0..floats.len())
                    .map(|row| if floats.is_null(row) { f32::NAN } else { floats.value(row) })
                    .collect(),
            )
        }
        DataType::Fp64 => {
            let array = cast(&ArrowType::Float64)?;
            let floats = array.as_primitive::<Float64Type>();
            TensorData::Fp64(
                (0..floats.len())
                    .map(|row| if floats.is_null(row) { f64::NAN } else { floats.value(row) })
                    .collect(),
            )
        }
        DataType::Int64 => TensorData::Int64(integers()?),
        DataType::Int32 => narrow!(Int32, i32),
        DataType::Int16 => narrow!(Int16, i16),
        DataType::Int8 => narrow!(Int8, i8),
        DataType::Uint64 => narrow!(Uint64, u64),
        DataType::Uint32 => narrow!(Uint32, u32),
        DataType::Uint16 => narrow!(Uint16, u16),
        DataType::Uint8 => narrow!(Uint8, u8),
        DataType::Bool => {
            let array = cast(&ArrowType::Boolean)?;
            no_nulls(&array)?;
            TensorData::Bool(array.as_boolean().iter().map(Option::unwrap_or_default).collect())
        }
        DataType::Bytes => {
            let array = cast(&ArrowType::Utf8)?;
            no_nulls(&array)?;
            TensorData::Bytes(
                array.as_string::<i32>().iter().map(|value| value.unwrap_or_default().to_owned()).collect(),
            )
        }
        DataType::Fp16 => return Err(refuse("stored rows cannot fill FP16".into())),
    })
}

/// Each output of a run on `rows` rows as columns: one named as the output when it holds one
/// value per row; else one per class (`<output>_<label>`) for a classifier's scores, or one per
/// position (`<output>_<i>`).
pub fn output_columns(outputs: &[Output], rows: usize) -> Result<Vec<(String, ArrayRef)>, ColumnError> {
    let mut columns = Vec::new();
    for output in outputs {
        let tensor = &output.tensor;
        if tensor.shape.first() != Some(&rows) || rows == 0 || tensor.data.len() % rows != 0 {
            return Err(ColumnError::NotPerRow(output.name.clone()));
        }
        let width = tensor.data.len() / rows;
        for position in 0..width {
            let name = match &output.classes {
                _ if width == 1 => output.name.clone(),
                Some(classes) if classes.len() == width => {
                    format!("{}_{}", output.name, classes.label(position))
                }
                _ => format!("{}_{position}", output.name),
            };
            let picked = (0..rows).map(|row| row * width + position);
            columns.push((name, column(&output.name, &tensor.data, picked)?));
        }
    }
    Ok(columns)
}

/// The elements at `indices` as one Arrow column: floats, 32- and 64-bit integers and booleans
/// as themselves, other integers widened to 64 bits, strings as UTF-8.
fn column(
    output: &str,
    data: &TensorData,
    indices: impl Iterator<Item = usize>,
) -> Result<ArrayRef, ColumnError> {
    let unsupported = || ColumnError::Unsupported { output: output.to_owned(), datatype: data.datatype() };
    Ok(match data {
        TensorData::Fp32(values) => Arc::new(Float32Array::from_iter_values(indices.map(|i| values[i]))),
        TensorData::Fp64(values) => Arc::new(Float64Array::from_iter_values(indices.map(|i| values[i]))),
        TensorData::Int32(values) => Arc::new(Int32Array::from_iter_values(indices.map(|i| values[i]))),
        TensorData::Int64(values) => Arc::new(Int64Array::from_iter_values(indices.map(|i| values[i]))),
        TensorData::Int16(values) => widened(values, indices),
        TensorData::Int8(values) => widened(values, indices),
        TensorData::Uint32(values) => widened(values, indices),
        TensorData::Uint16(values) => widened(values, indices),
        TensorData::Uint8(values) => widened(values, indices),
        TensorData::Uint64(values) => {
            let widened: Option<Vec<i64>> = indices.map(|i| i64::try_from(values[i]).ok()).collect();
            Arc::new(Int64Array::from(widened.ok_or_else(unsupported)?))
        }
        TensorData::Bool(values) => {
            Arc::new(BooleanArray::from(indices.map(|i| values[i]).collect::<Vec<_>>()))
        }
        TensorData::Bytes(values) => {
            Arc::new(StringArray::from_iter_values(indices.map(|i| values[i].as_str())))
        }
    })
}

/// Integers that fit in 64 bits, as an `Int64` column.
fn widened<T: Copy + Into<i64>>(values: &[T], indices: impl Iterator<Item = usize>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(indices.map(|i| values[i].into())))
}

#[cfg(test)]
mod tests {
    use arrow_array::DictionaryArray;
    use arrow_array::types::Int32Type;
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::{ClassLabels, Feature};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> =
            columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), true)).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, array)| array).collect(),
        )
        .unwrap()
    }

    #[test]
    fn columns_fill_a_matrix_by_name_with_nulls_missing_for_floats() {
        let layout = Layout::Matrix {
            input: "x".into(),
            datatype: DataType::Fp32,
            features: vec!["b".into(), "a".into()],
        };
        let rows = batch(vec![
            ("a", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("b", Arc::new(Float64Array::from(vec![Some(0.5), None]))),
        ]);
        let inputs = inputs(&layout, &rows).unwrap();
        assert_eq!(inputs[0].0, "x");
        assert_eq!(inputs[0].1.shape, vec![2, 2]);
        let TensorData::Fp32(values) = &inputs[0].1.data else { panic!() };
        assert_eq!((values[0], values[1], values[3]), (0.5, 1.0, 2.0));
        assert!(values[2].is_nan());
        let absent =
            Layout::Matrix { input: "x".into(), datatype: DataType::Fp32, features: vec!["c".into()] };
        assert_eq!(super::inputs(&absent, &rows).unwrap_err(), ColumnError::Missing("c".into()));
    }

    #[test]
    fn strings_and_integers_convert_and_nulls_or_overflow_are_refused() {
        let features = |name: &str, datatype| {
            Layout::Columns(vec![Feature { name: name.into(), datatype, column: true }])
        };
        let categories: DictionaryArray<Int32Type> = vec!["red", "blue"].into_iter().collect();
        let rows = batch(vec![
            ("colour", Arc::new(categories) as ArrayRef),
            ("n", Arc::new(Int64Array::from(vec![Some(300), None]))),
        ]);
        let colour = inputs(&features("colour", DataType::Bytes), &rows).unwrap();
        assert_eq!(colour[0].1.data, TensorData::Bytes(vec!["red".into(), "blue".into()]));
        assert_eq!(colour[0].1.shape, vec![2, 1]);
        let null = inputs(&features("n", DataType::Int64), &rows).unwrap_err();
        assert_eq!(null, ColumnError::Null { column: "n".into(), row: 1 });
        let small = batch(vec![("n", Arc::new(Int64Array::from(vec![300, 1])) as ArrayRef)]);
        let overflow = inputs(&features("n", DataType::Int8), &small).unwrap_err();
        assert!(overflow.to_string().contains("300 is out of range"), "{overflow}");
        let text = batch(vec![("n", Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef)]);
        assert!(matches!(inputs(&features("n", DataType::Fp32), &text), Err(ColumnError::Type { .. })));
    }

    #[test]
    fn outputs_become_a_column_per_value_class_or_position() {
        let outputs = vec![
            Output {
                name: "label".into(),
                tensor: Tensor::new(vec![2], TensorData::Int64(vec![0, 1])),
                classes: None,
            },
            Output {
                name: "probabilities".into(),
                tensor: Tensor::new(vec![2, 2], TensorData::Fp32(vec![0.75, 0.25, 0.5, 0.5])),
                classes: Some(ClassLabels::Int64(vec![0, 1].into())),
            },
            Output {
                name: "scores".into(),
                tensor: Tensor::new(vec![2, 2], TensorData::Uint8(vec![1, 2, 3, 4])),
                classes: None,
            },
        ];
        let columns = output_columns(&outputs, 2).unwrap();
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["label", "probabilities_0", "probabilities_1", "scores_0", "scores_1"]);
        assert_eq!(columns[2].1.as_primitive::<Float32Type>().values().to_vec(), vec![0.25, 0.5]);
        assert_eq!(columns[4].1.as_primitive::<Int64Type>().values().to_vec(), vec![2, 4]);
        let scalar = Output {
            name: "s".into(),
            tensor: Tensor::new(vec![], TensorData::Fp32(vec![1.0])),
            classes: None,
        };
        assert_eq!(output_columns(&[scalar], 2).unwrap_err(), ColumnError::NotPerRow("s".into()));
    }
}
