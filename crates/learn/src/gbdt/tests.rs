use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::rng::SplitMix64;
use crate::{
    ClassLabels, Frame, GbdtParams, LearnError, Model, Predictions, Target, TrainerKind, parameters,
};

/// `rows` rows of `features` uniform features in [-1, 1].
fn uniform_frame(rows: usize, features: usize, seed: u64) -> Frame {
    let mut rng = SplitMix64::new(seed);
    let columns =
        (0..features).map(|_| (0..rows).map(|_| rng.next_f64() as f32 * 2.0 - 1.0).collect()).collect();
    Frame::new((0..features).map(|i| format!("x{i}")).collect(), columns).unwrap()
}

fn params(map: Value) -> GbdtParams {
    let map: BTreeMap<String, Value> = serde_json::from_value(map).unwrap();
    GbdtParams::from_map(&map).unwrap()
}

fn map(value: Value) -> BTreeMap<String, Value> {
    serde_json::from_value(value).unwrap()
}

#[test]
fn parameters_take_lightgbm_names_and_defaults() {
    assert_eq!(GbdtParams::from_map(&BTreeMap::new()).unwrap(), GbdtParams::default());
    let parsed = params(json!({"num_leaves": 7, "learning_rate": 1, "max_depth": -1, "lambda_l2": 0.5}));
    assert_eq!((parsed.num_leaves, parsed.learning_rate, parsed.lambda_l2), (7, 1.0, 0.5));
    let names: Vec<&str> = parameters(TrainerKind::Gbdt).iter().map(|spec| spec.name).collect();
    assert!(names.contains(&"num_iterations") && names.contains(&"bagging_freq"));
}

#[test]
fn parameters_out_of_range_or_of_the_wrong_type_or_unknown_are_refused_by_name() {
    let error = GbdtParams::from_map(&map(json!({"num_leaves": 1}))).unwrap_err();
    assert_eq!(error.to_string(), "num_leaves must be an integer ≥ 2, got 1");
    let error = GbdtParams::from_map(&map(json!({"learning_rate": "fast"}))).unwrap_err();
    assert_eq!(error.to_string(), "learning_rate must be a number > 0, got \"fast\"");
    let error = GbdtParams::from_map(&map(json!({"num_iterations": 10.5}))).unwrap_err();
    assert!(matches!(error, LearnError::InvalidParameter { name: "num_iterations", .. }), "{error}");
    let error = GbdtParams::from_map(&map(json!({"max_bin": 256}))).unwrap_err();
    assert!(matches!(error, LearnError::InvalidParameter { name: "max_bin", .. }), "{error}");
    let error = GbdtParams::from_map(&map(json!({"num_leaf": 31}))).unwrap_err();
    assert!(matches!(&error, LearnError::UnknownParameter { name, .. } if name == "num_leaf"), "{error}");
}

#[test]
fn fits_a_known_function() {
    let frame = uniform_frame(4000, 3, 1);
    let truth: Vec<f64> = (0..4000)
        .map(|row| {
            let (a, b) = (f64::from(frame.columns[0][row]), f64::from(frame.columns[1][row]));
            (3.0 * a).sin() + if b > 0.2 { 1.0 } else { -1.0 }
        })
        .collect();
    let target = Target::Regression(truth.clone());
    let (model, history) =
        super::train(&params(json!({"num_iterations": 60, "learning_rate": 0.3})), &frame, &target, None)
            .unwrap();
    let Predictions::Regression(predicted) = model.predict(&frame).unwrap() else { panic!() };
    let mse = predicted.iter().zip(&truth).map(|(p, y)| (p - y) * (p - y)).sum::<f64>() / 4000.0;
    assert!(mse < 0.01, "mse {mse}");
    assert_eq!(history.iterations.len(), 60);
    // The history's last training loss is the model's own.
    assert!((history.iterations[59].train_loss - mse).abs() < 1e-9);
    assert!(history.iterations[0].train_loss > history.iterations[59].train_loss);
}

#[test]
fn the_same_data_and_seed_give_the_same_bytes_for_any_number_of_threads() {
    let frame = uniform_frame(3000, 5, 2);
    let codes: Vec<u32> = (0..3000)
        .map(|row| {
            let score = frame.columns[0][row] + frame.columns[1][row] * frame.columns[2][row];
            if score > 0.3 {
                2
            } else if score > -0.3 {
                1
            } else {
                0
            }
        })
        .collect();
    let target = Target::Classes { labels: ClassLabels::Int64(vec![10, 20, 30]), codes };
    let settings = json!({"num_iterations": 10, "bagging_fraction": 0.7, "bagging_freq": 2, "feature_fraction": 0.8, "seed": 7});
    let train = |threads: i64| {
        let mut settings = settings.clone();
        settings["threads"] = json!(threads);
        Model::Gbdt(super::train(&params(settings), &frame, &target, None).unwrap().0).to_onnx()
    };
    let once = train(1);
    assert!(once == train(1), "two runs differ");
    assert!(once == train(2), "2 threads differ from 1");
    assert!(once == train(3), "3 threads differ from 1");
    let other_seed = {
        let mut settings = settings.clone();
        settings["seed"] = json!(8);
        Model::Gbdt(super::train(&params(settings), &frame, &target, None).unwrap().0).to_onnx()
    };
    assert!(once != other_seed, "the seed drives bagging and feature sampling");
}

#[test]
fn missing_values_go_the_way_that_fits_them_best() {
    // NaN rows have a high target, low values a low one and high values a middle one: the split
    // must send NaN right (with the high values) and a second split separate them.
    let rows = 600;
    let mut column = Vec::new();
    let mut truth = Vec::new();
    for row in 0..rows {
        match row % 3 {
            0 => {
                column.push(f32::NAN);
                truth.push(10.0);
            }
            1 => {
                column.push(-(row as f32));
                truth.push(0.0);
            }
            _ => {
                column.push(row as f32);
                truth.push(5.0);
            }
        }
    }
    let frame = Frame::new(vec!["x".into()], vec![column]).unwrap();
    let target = Target::Regression(truth);
    let settings = json!({"num_iterations": 1, "learning_rate": 1.0, "num_leaves": 2, "min_data_in_leaf": 1});
    let (model, _) = super::train(&params(settings), &frame, &target, None).unwrap();
    let probe = Frame::new(vec!["x".into()], vec![vec![f32::NAN, -50.0, 50.0]]).unwrap();
    let Predictions::Regression(values) = model.predict(&probe).unwrap() else { panic!() };
    // One split, two leaves: {low} = 0 and {NaN, high} = 7.5 (the NaN rows went right).
    assert!(
        (values[0] - 7.5).abs() < 1e-5 && (values[1]).abs() < 1e-5 && (values[2] - 7.5).abs() < 1e-5,
        "{values:?}"
    );

    let settings = json!({"num_iterations": 1, "learning_rate": 1.0, "num_leaves": 3, "min_data_in_leaf": 1});
    let (model, _) = super::train(&params(settings), &frame, &target, None).unwrap();
    let Predictions::Regression(values) = model.predict(&probe).unwrap() else { panic!() };
    assert!(
        (values[0] - 10.0).abs() < 1e-5 && values[1].abs() < 1e-5 && (values[2] - 5.0).abs() < 1e-5,
        "{values:?}"
    );
}

#[test]
fn early_stopping_keeps_the_best_iteration() {
    let frame = uniform_frame(600, 4, 3);
    let valid = uniform_frame(600, 4, 4);
    // Pure noise: the validation loss soon stops improving.
    let mut rng = SplitMix64::new(5);
    let noise = |rng: &mut SplitMix64| (0..600).map(|_| u32::from(rng.next_f64() < 0.5)).collect::<Vec<_>>();
    let labels = ClassLabels::Strings(vec!["no".into(), "yes".into()]);
    let target = Target::Classes { labels: labels.clone(), codes: noise(&mut rng) };
    let target_v = Target::Classes { labels, codes: noise(&mut rng) };
    let settings = json!({"num_iterations": 200, "early_stopping_round": 5, "min_data_in_leaf": 5});
    let (model, history) =
        super::train(&params(settings), &frame, &target, Some((&valid, &target_v))).unwrap();
    let best = history.best_iteration.unwrap();
    assert!(
        history.iterations.len() < 200 && history.iterations.len() == best + 5,
        "{best} of {}",
        history.iterations.len()
    );
    assert_eq!(model.iterations(), best);
    let losses: Vec<f64> = history.iterations.iter().map(|it| it.validation_loss.unwrap()).collect();
    assert!(losses[best..].iter().all(|&loss| loss >= losses[best - 1]));

    let error = super::train(&params(json!({"early_stopping_round": 5})), &frame, &target, None).unwrap_err();
    assert!(matches!(error, LearnError::InvalidParameter { name: "early_stopping_round", .. }));
}
