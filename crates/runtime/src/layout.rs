//! How named features fill a model's inputs, so that everything that scores rows by feature name
//! (serving's records and entity keys, batch scoring, training's evaluation) builds the same
//! tensors: either every input is one feature, named as the feature (a model exported with an
//! input per column), or one matrix input takes the features as its columns, in an order the
//! model's producer recorded (skl2onnx's `float_input [N, F]`).

use crate::{DataType, PortKind, Signature, Tensor, TensorData};

/// The features a model takes, and how they become its inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// One input per feature, named as the feature: `[rows]`, or `[rows, 1]` when `matrix_rank`.
    Columns(Vec<Feature>),
    /// One input `[rows, features]` whose columns are the features, in this order.
    Matrix { input: String, datatype: DataType, features: Vec<String> },
}

/// A feature an input takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub name: String,
    pub datatype: DataType,
    /// The input is `[rows, 1]` rather than `[rows]`.
    pub column: bool,
}

/// Why named features cannot fill a model's inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "the model takes one tensor `{input}` of {width} columns: which feature is which column must be \
         recorded (the model version's `cairn.feature_names` tag, or the feature service it was trained on)"
    )]
    Unnamed { input: String, width: String },
    #[error("the model's input `{input}` has {width} columns, but {names} feature names are recorded")]
    Width { input: String, width: usize, names: usize },
    #[error(
        "the model's input `{input}` is {shape}: named features fill only inputs of one or two dimensions"
    )]
    Shape { input: String, shape: String },
    #[error("the model's input `{input}` is not a tensor")]
    NotTensor { input: String },
    #[error("feature names are recorded, but the model takes {inputs} inputs rather than one matrix")]
    NotMatrix { inputs: usize },
    #[error("feature `{0}` is named twice")]
    Repeated(String),
    #[error("column {index} holds {got} for {expected} rows of {datatype}")]
    Column { index: usize, got: String, expected: usize, datatype: DataType },
}

impl Layout {
    /// The layout of a model with `signature`; `names` are the matrix input's column names when
    /// recorded. A model of several single-column inputs takes its input names as features (and
    /// `names` are not needed).
    pub fn new(signature: &Signature, names: Option<&[String]>) -> Result<Self, LayoutError> {
        let mut features = Vec::with_capacity(signature.inputs.len());
        let mut wide = None;
        for port in &signature.inputs {
            let PortKind::Tensor { datatype, shape } = &port.kind else {
                return Err(LayoutError::NotTensor { input: port.name.clone() });
            };
            match shape.as_slice() {
                [_] => features.push(Feature { name: port.name.clone(), datatype: *datatype, column: false }),
                [_, Some(1)] if names.is_none() || signature.inputs.len() > 1 => {
                    features.push(Feature { name: port.name.clone(), datatype: *datatype, column: true });
                }
                [_, width] => wide = Some((port, *datatype, *width)),
                _ => {
                    let dims: Vec<String> = shape
                        .iter()
                        .map(|dim| dim.map_or_else(|| "?".to_owned(), |dim| dim.to_string()))
                        .collect();
                    return Err(LayoutError::Shape {
                        input: port.name.clone(),
                        shape: format!("[{}]", dims.join(", ")),
                    });
                }
            }
        }
        let layout = match (wide, names) {
            (None, None) => Layout::Columns(features),
            (Some((port, datatype, width)), Some(names)) if signature.inputs.len() == 1 => {
                if width.is_some_and(|width| width != names.len()) {
                    return Err(LayoutError::Width {
                        input: port.name.clone(),
                        width: width.unwrap_or_default(),
                        names: names.len(),
                    });
                }
                Layout::Matrix { input: port.name.clone(), datatype, features: names.to_vec() }
            }
            (Some((port, _, width)), None) if signature.inputs.len() == 1 => {
                return Err(LayoutError::Unnamed {
                    input: port.name.clone(),
                    width: width.map_or_else(|| "unknown".to_owned(), |width| width.to_string()),
                });
            }
            _ => return Err(LayoutError::NotMatrix { inputs: signature.inputs.len() }),
        };
        let mut seen = std::collections::HashSet::new();
        for (name, _) in layout.features() {
            if !seen.insert(name) {
                return Err(LayoutError::Repeated(name.to_owned()));
            }
        }
        Ok(layout)
    }

    /// Every feature the model takes, in input order, with the type its values must have.
    pub fn features(&self) -> Vec<(&str, DataType)> {
        match self {
            Layout::Columns(features) => {
                features.iter().map(|feature| (feature.name.as_str(), feature.datatype)).collect()
            }
            Layout::Matrix { datatype, features, .. } => {
                features.iter().map(|name| (name.as_str(), *datatype)).collect()
            }
        }
    }

    /// The model's inputs for `rows` rows from one column per feature, in [`Layout::features`]'
    /// order, each of that feature's type.
    pub fn tensors(
        &self,
        rows: usize,
        columns: Vec<TensorData>,
    ) -> Result<Vec<(String, Tensor)>, LayoutError> {
        let features = self.features();
        for (index, (column, (_, datatype))) in columns.iter().zip(&features).enumerate() {
            if column.len() != rows || column.datatype() != *datatype {
                return Err(LayoutError::Column {
                    index,
                    got: format!("{} values of {}", column.len(), column.datatype()),
                    expected: rows,
                    datatype: *datatype,
                });
            }
        }
        if columns.len() != features.len() {
            return Err(LayoutError::Column {
                index: columns.len().min(features.len()),
                got: format!("{} columns", columns.len()),
                expected: rows,
                datatype: features.first().map_or(DataType::Fp32, |(_, datatype)| *datatype),
            });
        }
        Ok(match self {
            Layout::Columns(features) => features
                .iter()
                .zip(columns)
                .map(|(feature, data)| {
                    let shape = if feature.column { vec![rows, 1] } else { vec![rows] };
                    (feature.name.clone(), Tensor::new(shape, data))
                })
                .collect(),
            Layout::Matrix { input, features, .. } => {
                let width = features.len();
                vec![(input.clone(), Tensor::new(vec![rows, width], interleave(columns, rows)))]
            }
        })
    }
}

/// Columns of one type (checked by the caller), row-major.
fn interleave(columns: Vec<TensorData>, rows: usize) -> TensorData {
    fn rows_of<T: Clone>(columns: &[Vec<T>], rows: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(rows * columns.len());
        for row in 0..rows {
            out.extend(columns.iter().map(|column| column[row].clone()));
        }
        out
    }
    macro_rules! gather {
        ($($variant:ident),*) => {
            match columns.first() {
                $(Some(TensorData::$variant(_)) => {
                    let typed: Vec<_> = columns
                        .into_iter()
                        .filter_map(|column| match column { TensorData::$variant(values) => Some(values), _ => None })
                        .collect();
                    TensorData::$variant(rows_of(&typed, rows))
                })*
                None => TensorData::Fp32(Vec::new()),
            }
        };
    }
    gather!(Bool, Uint8, Uint16, Uint32, Uint64, Int8, Int16, Int32, Int64, Fp32, Fp64, Bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Port;

    fn tensor(name: &str, datatype: DataType, shape: Vec<Option<usize>>) -> Port {
        Port { name: name.to_owned(), kind: PortKind::Tensor { datatype, shape } }
    }

    fn signature(inputs: Vec<Port>) -> Signature {
        Signature { inputs, outputs: Vec::new() }
    }

    #[test]
    fn a_matrix_takes_its_columns_in_the_recorded_order() {
        let names = vec!["b".to_owned(), "a".to_owned()];
        let layout =
            Layout::new(&signature(vec![tensor("x", DataType::Fp32, vec![None, Some(2)])]), Some(&names))
                .unwrap();
        let tensors = layout
            .tensors(2, vec![TensorData::Fp32(vec![1.0, 2.0]), TensorData::Fp32(vec![10.0, 20.0])])
            .unwrap();
        assert_eq!(
            tensors,
            vec![("x".to_owned(), Tensor::new(vec![2, 2], TensorData::Fp32(vec![1.0, 10.0, 2.0, 20.0])))]
        );
    }

    #[test]
    fn named_inputs_are_features_of_their_own_shape() {
        let layout = Layout::new(
            &signature(vec![
                tensor("age", DataType::Fp32, vec![None, Some(1)]),
                tensor("city", DataType::Bytes, vec![None]),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(layout.features(), vec![("age", DataType::Fp32), ("city", DataType::Bytes)]);
        let tensors = layout
            .tensors(1, vec![TensorData::Fp32(vec![3.0]), TensorData::Bytes(vec!["Oslo".to_owned()])])
            .unwrap();
        assert_eq!(tensors[0].1.shape, vec![1, 1]);
        assert_eq!(tensors[1].1.shape, vec![1]);
    }

    #[test]
    fn a_matrix_without_names_or_of_another_width_is_refused_with_the_reason() {
        let wide = signature(vec![tensor("float_input", DataType::Fp32, vec![None, Some(30)])]);
        let unnamed = Layout::new(&wide, None).unwrap_err();
        assert!(unnamed.to_string().contains("cairn.feature_names"), "{unnamed}");
        let names: Vec<String> = (0..3).map(|index| format!("f{index}")).collect();
        assert_eq!(
            Layout::new(&wide, Some(&names)).unwrap_err(),
            LayoutError::Width { input: "float_input".to_owned(), width: 30, names: 3 }
        );
    }

    #[test]
    fn columns_of_the_wrong_type_or_length_are_refused() {
        let layout = Layout::new(&signature(vec![tensor("x", DataType::Fp32, vec![None])]), None).unwrap();
        assert!(layout.tensors(2, vec![TensorData::Fp64(vec![1.0, 2.0])]).is_err());
        assert!(layout.tensors(2, vec![TensorData::Fp32(vec![1.0])]).is_err());
        assert!(layout.tensors(2, Vec::new()).is_err());
    }
}
