//! Every exported model loaded in ONNX Runtime (the test Python's onnxruntime library, through
//! cairn-runtime) scores as `Model::predict` does: probabilities to 1e-6, regression values to 1e-6
//! of their scale,
//! labels exactly — GBDT with missing values in its inputs and linear models, for regression,
//! binary and multiclass targets with int64 and string labels.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use std::collections::BTreeMap;

use cairn_learn::{ClassLabels, Frame, Model, Predictions, Target, TrainerKind, train};
use cairn_runtime::{Runtime, RuntimeConfig, SessionOptions, Tensor, TensorData};
use serde_json::{Value, json};

fn runtime() -> Runtime {
    Runtime::init(&RuntimeConfig { library: Some(cairn_testkit::onnxruntime_library().to_owned()) }).unwrap()
}

/// A deterministic stream of uniforms in [0, 1) (an LCG is plenty for test data).
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `rows` rows of 4 features in [-2, 2]; with `missing`, about a tenth of features 1 and 3 NaN.
fn frame(rows: usize, seed: u64, missing: bool) -> Frame {
    let mut uniform = Uniform(seed);
    let columns = (0..4)
        .map(|feature| {
            (0..rows)
                .map(|_| {
                    let value = (uniform.next() * 4.0 - 2.0) as f32;
                    if missing && feature % 2 == 1 && uniform.next() < 0.1 { f32::NAN } else { value }
                })
                .collect()
        })
        .collect();
    Frame::new(vec!["age", "income", "x.2", "score"].into_iter().map(String::from).collect(), columns)
        .unwrap()
}

/// A score per row from the features, NaN counted as 1.5.
fn signal(frame: &Frame, row: usize) -> f64 {
    let value = |feature: usize| {
        let x = frame.columns[feature][row];
        if x.is_nan() { 1.5 } else { f64::from(x) }
    };
    value(0) * 1.5 - value(1) + (value(2) * 2.0).sin() + value(3) * value(0) * 0.5
}

fn regression(frame: &Frame) -> Target {
    Target::Regression((0..frame.rows()).map(|row| signal(frame, row) * 10.0 + 3.0).collect())
}

fn classes(frame: &Frame, labels: ClassLabels) -> Target {
    let count = labels.len();
    let codes = (0..frame.rows())
        .map(|row| {
            let score = signal(frame, row);
            if count == 2 {
                u32::from(score > 0.3)
            } else {
                ((score + 3.0).clamp(0.0, 5.99) as u32) % count as u32
            }
        })
        .collect();
    Target::Classes { labels, codes }
}

fn params(value: Value) -> BTreeMap<String, Value> {
    serde_json::from_value(value).unwrap()
}

/// Loads the model's ONNX bytes in ONNX Runtime, scores `frame` and compares with `predict`.
fn check(model: &Model, frame: &Frame) {
    let runtime = runtime();
    let loaded = cairn_runtime::Model::load(&runtime, &model.to_onnx(), &SessionOptions::default()).unwrap();
    let rows = frame.rows();
    let inputs: Vec<(String, Tensor)> = frame
        .names
        .iter()
        .zip(&frame.columns)
        .map(|(name, column)| (name.clone(), Tensor::new(vec![rows, 1], TensorData::Fp32(column.clone()))))
        .collect();
    let outputs = loaded.run(&inputs).unwrap();
    let output = |name: &str| &outputs.iter().find(|output| output.name == name).unwrap().tensor;
    match model.predict(frame).unwrap() {
        Predictions::Regression(values) => {
            let tensor = output("variable");
            assert_eq!(tensor.shape, vec![rows, 1]);
            let TensorData::Fp32(scored) = &tensor.data else { panic!("{:?}", tensor.datatype()) };
            // ONNX Runtime sums the trees in f32, so its rounding grows with the size of the
            // partial sums, not of the final value: 1e-6 relative to the predictions' scale.
            let tolerance = 1e-6 * values.iter().fold(1.0_f64, |max, value| max.max(value.abs()));
            for (row, (&onnx, &ours)) in scored.iter().zip(&values).enumerate() {
                assert!(
                    (f64::from(onnx) - ours).abs() <= tolerance,
                    "row {row}: onnx {onnx}, predict {ours}"
                );
            }
        }
        Predictions::Classes { classes, probabilities, labels } => {
            let tensor = output("probabilities");
            assert_eq!(tensor.shape, vec![rows, classes]);
            let TensorData::Fp32(scored) = &tensor.data else { panic!("{:?}", tensor.datatype()) };
            for (index, (&onnx, &ours)) in scored.iter().zip(&probabilities).enumerate() {
                assert!(
                    (f64::from(onnx) - ours).abs() <= 1e-6,
                    "row {}: onnx {onnx}, predict {ours}",
                    index / classes
                );
            }
            let expected: Vec<String> = match model.class_labels().unwrap() {
                ClassLabels::Int64(values) => {
                    labels.iter().map(|&code| values[code as usize].to_string()).collect()
                }
                ClassLabels::Strings(values) => {
                    labels.iter().map(|&code| values[code as usize].clone()).collect()
                }
            };
            let scored: Vec<String> = match &output("label").data {
                TensorData::Int64(values) => values.iter().map(i64::to_string).collect(),
                TensorData::Bytes(values) => values.clone(),
                other => panic!("label is {:?}", other.datatype()),
            };
            assert_eq!(scored, expected);
        }
    }
}

fn trained(kind: TrainerKind, settings: Value, frame: &Frame, target: &Target) -> Model {
    train(kind, &params(settings), frame, target, None).unwrap().model
}

fn gbdt_settings() -> Value {
    json!({"num_iterations": 40, "num_leaves": 15, "min_data_in_leaf": 10})
}

#[test]
fn gbdt_regression_with_missing_values() {
    let train_frame = frame(2000, 1, true);
    let model = trained(TrainerKind::Gbdt, gbdt_settings(), &train_frame, &regression(&train_frame));
    check(&model, &train_frame);
    check(&model, &frame(500, 2, true));
}

#[test]
fn gbdt_binary_with_int64_labels_and_missing_values() {
    let train_frame = frame(2000, 3, true);
    let target = classes(&train_frame, ClassLabels::Int64(vec![-1, 7]));
    let model = trained(TrainerKind::Gbdt, gbdt_settings(), &train_frame, &target);
    check(&model, &train_frame);
    check(&model, &frame(500, 4, true));
}

#[test]
fn gbdt_multiclass_with_string_labels_and_missing_values() {
    let train_frame = frame(2000, 5, true);
    let labels = ClassLabels::Strings(vec!["low".into(), "mid".into(), "high".into()]);
    let model = trained(TrainerKind::Gbdt, gbdt_settings(), &train_frame, &classes(&train_frame, labels));
    check(&model, &train_frame);
    check(&model, &frame(500, 6, true));
}

#[test]
fn gbdt_binary_whose_leaves_are_all_positive_keeps_the_zero_threshold() {
    // 4 rows in 7 positive (log-odds 0.29) and one short tree: every leaf, prior included, is
    // in (0, 0.5), where ONNX Runtime's rule for all-positive weights (score > 0.5) would call
    // every row negative without the guard tree.
    let train_frame = frame(1000, 7, false);
    let codes = (0..1000).map(|row| u32::from(row % 7 >= 3)).collect();
    let target = Target::Classes { labels: ClassLabels::Strings(vec!["no".into(), "yes".into()]), codes };
    let settings = json!({"num_iterations": 1, "num_leaves": 4, "learning_rate": 0.05});
    let model = trained(TrainerKind::Gbdt, settings, &train_frame, &target);
    check(&model, &train_frame);
}

#[test]
fn linear_regression() {
    let train_frame = frame(800, 8, false);
    let model = trained(TrainerKind::Linear, json!({}), &train_frame, &regression(&train_frame));
    check(&model, &frame(300, 9, false));
}

#[test]
fn logistic_regression_binary_with_int64_labels() {
    let train_frame = frame(800, 10, false);
    let target = classes(&train_frame, ClassLabels::Int64(vec![0, 1]));
    let model = trained(TrainerKind::Linear, json!({"l2": 0.1}), &train_frame, &target);
    check(&model, &frame(300, 11, false));
}

#[test]
fn logistic_regression_multiclass_with_string_labels() {
    let train_frame = frame(800, 12, false);
    let labels = ClassLabels::Strings(vec!["a".into(), "b".into(), "c".into(), "d".into()]);
    let model = trained(TrainerKind::Linear, json!({}), &train_frame, &classes(&train_frame, labels));
    check(&model, &frame(300, 13, false));
}

#[test]
fn logistic_regression_multiclass_with_int64_labels() {
    let train_frame = frame(800, 14, false);
    let labels = ClassLabels::Int64(vec![3, 1, 2]);
    let model = trained(TrainerKind::Linear, json!({}), &train_frame, &classes(&train_frame, labels));
    check(&model, &frame(300, 15, false));
}
