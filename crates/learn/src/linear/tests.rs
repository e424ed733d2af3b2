use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{ClassLabels, Frame, LearnError, LinearParams, Predictions, Target, TrainerKind, parameters};

/// Ten rows of two features; the expected coefficients below are scikit-learn 1.9's
/// (`LogisticRegression(C=…, tol=1e-12)`, `Ridge(alpha=2)`) on the same rows in `float64`.
fn small() -> Frame {
    let rows = [
        [0.5, 1.0],
        [1.5, -0.5],
        [-1.0, 2.0],
        [2.0, 0.0],
        [0.0, -1.0],
        [-2.0, 0.5],
        [1.0, 1.5],
        [-0.5, -2.0],
        [3.0, 1.0],
        [-1.5, -0.5],
    ];
    Frame::new(
        vec!["a".into(), "b".into()],
        vec![rows.iter().map(|row| row[0]).collect(), rows.iter().map(|row| row[1]).collect()],
    )
    .unwrap()
}

fn params(value: Value) -> LinearParams {
    let map: BTreeMap<String, Value> = serde_json::from_value(value).unwrap();
    LinearParams::from_map(&map).unwrap()
}

fn classes(codes: &[u32], count: usize) -> Target {
    Target::Classes { labels: ClassLabels::Int64((0..count as i64).collect()), codes: codes.to_vec() }
}

fn assert_close(actual: &[f32], expected: &[f32]) {
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-4, "{actual:?} vs {expected:?}");
    }
}

#[test]
fn binary_logistic_regression_matches_scikit_learn() {
    let target = classes(&[1, 1, 0, 1, 0, 0, 1, 0, 1, 0], 2);
    let (model, history) = super::train(&LinearParams::default(), &small(), &target, None).unwrap();
    assert_close(model.coefficients(), &[1.3820811, 0.4527453]);
    assert_close(model.intercepts(), &[-0.4428108]);
    assert!(history.iterations.len() > 1 && history.iterations.len() <= 100);

    let (model, _) = super::train(&params(json!({"l2": 2.0})), &small(), &target, None).unwrap();
    assert_close(model.coefficients(), &[1.0235248, 0.33620057]);
    assert_close(model.intercepts(), &[-0.3345819]);
}

#[test]
fn multinomial_logistic_regression_matches_scikit_learn() {
    let target = classes(&[2, 1, 0, 2, 1, 0, 2, 0, 2, 1], 3);
    let (model, _) = super::train(&LinearParams::default(), &small(), &target, None).unwrap();
    assert_close(
        model.coefficients(),
        &[-0.7540795, -0.07357524, -0.06320192, -0.5183514, 0.8172813, 0.59192663],
    );
    assert_close(model.intercepts(), &[0.05470494, 0.2903402, -0.34504536]);
    let Predictions::Classes { probabilities, labels, .. } = model.predict(&small()).unwrap() else {
        panic!()
    };
    assert!(probabilities.chunks(3).all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    assert_eq!(labels.len(), 10);
}

#[test]
fn least_squares_is_exact_and_ridge_matches_scikit_learn() {
    let frame = small();
    let exact: Vec<f64> = (0..10)
        .map(|row| 2.0 * f64::from(frame.columns[0][row]) - 3.0 * f64::from(frame.columns[1][row]) + 1.0)
        .collect();
    let (model, history) =
        super::train(&LinearParams::default(), &frame, &Target::Regression(exact), None).unwrap();
    assert_close(model.coefficients(), &[2.0, -3.0]);
    assert_close(model.intercepts(), &[1.0]);
    assert!(history.iterations[0].train_loss < 1e-10);

    let noisy = Target::Regression(vec![1.0, 2.0, -1.0, 3.5, 0.2, -2.0, 1.1, 0.0, 4.0, -1.0]);
    let (model, _) = super::train(&params(json!({"l2": 2.0})), &frame, &noisy, None).unwrap();
    assert_close(model.coefficients(), &[1.1138413, -0.08225763]);
    assert_close(model.intercepts(), &[0.46229917]);
}

#[test]
fn missing_values_are_refused_naming_the_feature() {
    let mut frame = small();
    frame.columns[1][3] = f32::NAN;
    let error =
        super::train(&LinearParams::default(), &frame, &classes(&[0, 1, 0, 1, 0, 1, 0, 1, 0, 1], 2), None)
            .unwrap_err();
    assert!(matches!(&error, LearnError::MissingValues { feature } if feature == "b"), "{error}");
}

#[test]
fn a_constant_feature_gets_no_weight_and_collinear_ones_are_refused() {
    let mut frame = small();
    frame.columns[1] = vec![4.0; 10];
    let y: Vec<f64> = frame.columns[0].iter().map(|&a| 3.0 * f64::from(a)).collect();
    let (model, _) =
        super::train(&LinearParams::default(), &frame, &Target::Regression(y.clone()), None).unwrap();
    assert_close(model.coefficients(), &[3.0, 0.0]);

    frame.columns[1] = frame.columns[0].iter().map(|a| 2.0 * a).collect();
    let error = super::train(&LinearParams::default(), &frame, &Target::Regression(y), None).unwrap_err();
    assert!(matches!(error, LearnError::Singular), "{error}");
}

#[test]
fn parameters_are_checked_by_name() {
    let names: Vec<&str> = parameters(TrainerKind::Linear).iter().map(|spec| spec.name).collect();
    assert_eq!(names, ["l2", "max_iter", "tol"]);
    let map: BTreeMap<String, Value> = serde_json::from_value(json!({"l2": -1})).unwrap();
    assert_eq!(LinearParams::from_map(&map).unwrap_err().to_string(), "l2 must be a number ≥ 0, got -1");
    let map: BTreeMap<String, Value> = serde_json::from_value(json!({"C": 1})).unwrap();
    assert!(matches!(LinearParams::from_map(&map).unwrap_err(), LearnError::UnknownParameter { .. }));
}

#[test]
fn the_same_data_gives_the_same_bytes() {
    let target = classes(&[2, 1, 0, 2, 1, 0, 2, 0, 2, 1], 3);
    let bytes = || {
        crate::train(TrainerKind::Linear, &BTreeMap::new(), &small(), &target, None).unwrap().model.to_onnx()
    };
    assert!(bytes() == bytes());
}
