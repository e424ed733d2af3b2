use std::path::PathBuf;

use cairn_runtime::{
    DataType, InputProblem, LibrarySource, Model, Runtime, RuntimeConfig, RuntimeError, SessionOptions,
    Tensor, TensorData,
};

use crate::{Case, runtime};

#[test]
fn a_missing_library_is_an_error_that_says_how_to_install_it() {
    let path = PathBuf::from("/nonexistent/cairn/libonnxruntime.so");
    let error = Runtime::init(&RuntimeConfig { library: Some(path.clone()) }).unwrap_err();
    assert!(
        matches!(&error, RuntimeError::LibraryMissing { path: tried, from: LibrarySource::Configured } if *tried == path),
        "{error:?}"
    );
    let message = error.to_string();
    for needle in [
        "/nonexistent/cairn/libonnxruntime.so",
        "infra/local/setup",
        "pip install onnxruntime",
        "/usr/local/lib/libonnxruntime.so",
    ] {
        assert!(message.contains(needle), "{needle} is not in: {message}");
    }
}

#[test]
fn a_process_loads_one_library() {
    let first = runtime();
    let again =
        Runtime::init(&RuntimeConfig { library: Some(cairn_testkit::onnxruntime_library().to_owned()) })
            .unwrap();
    assert_eq!(first.library(), again.library());
    assert!(again.build_info().contains("ORT Build Info"), "{}", again.build_info());

    let other = tempfile::NamedTempFile::new().unwrap();
    let error = Runtime::init(&RuntimeConfig { library: Some(other.path().to_owned()) }).unwrap_err();
    assert!(matches!(error, RuntimeError::AlreadyLoaded { .. }), "{error:?}");
}

#[test]
fn bytes_that_are_not_a_model_are_an_error() {
    let valid = Case::read("logistic_binary").onnx;
    let not_models: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("text", b"{\"name\": \"not a model\"}".to_vec()),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("noise", (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()),
    ];
    for (what, bytes) in not_models {
        let error = Model::load(&runtime(), &bytes, &SessionOptions::default()).unwrap_err();
        assert!(matches!(error, RuntimeError::Model(_)), "{what}: {error:?}");
    }
}

#[test]
fn inputs_that_do_not_fit_the_signature_are_refused_by_name() {
    let case = Case::read("logistic_binary");
    let model = case.model(&SessionOptions { sessions: 1, ..SessionOptions::default() });
    let features = |shape: Vec<usize>, len: usize| Tensor { shape, data: TensorData::Fp32(vec![0.5; len]) };
    let good = features(vec![2, 8], 16);
    assert!(model.run(&[("input", good.clone())]).is_ok());

    let refused = |inputs: &[(&str, Tensor)]| match model.run(inputs) {
        Err(RuntimeError::Input { name, problem }) => (name, problem),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(&[("features", good.clone())]),
        ("features".into(), InputProblem::Unknown { inputs: vec!["input".into()] })
    );
    assert_eq!(refused(&[]), ("input".into(), InputProblem::Missing));
    assert_eq!(
        refused(&[("input", good.clone()), ("input", good.clone())]),
        ("input".into(), InputProblem::Repeated)
    );
    assert_eq!(
        refused(&[("input", Tensor { shape: vec![2, 8], data: TensorData::Fp64(vec![0.5; 16]) })]),
        ("input".into(), InputProblem::DataType { expected: DataType::Fp32, got: DataType::Fp64 })
    );
    assert_eq!(
        refused(&[("input", features(vec![16], 16))]),
        ("input".into(), InputProblem::Rank { expected: 2, got: 1 })
    );
    assert_eq!(
        refused(&[("input", features(vec![2, 7], 14))]),
        ("input".into(), InputProblem::Dim { axis: 1, expected: 8, got: 7 })
    );
    assert_eq!(
        refused(&[("input", features(vec![2, 8], 15))]),
        ("input".into(), InputProblem::Length { shape: vec![2, 8], got: 15 })
    );
    let message = model.run(&[("input", features(vec![2, 7], 14))]).unwrap_err().to_string();
    assert_eq!(message, "input `input`: expected dimension 1 to be 8, got 7");
}

#[test]
fn a_string_input_with_a_nul_is_refused_by_name() {
    let case = Case::read("pipeline_column_transformer");
    let model = case.model(&SessionOptions { sessions: 1, ..SessionOptions::default() });
    let mut inputs = case.inputs();
    let (_, city) = inputs.iter_mut().find(|(name, _)| name == "city").unwrap();
    let TensorData::Bytes(cities) = &mut city.data else { panic!("city is {:?}", city.datatype()) };
    cities[0] = "par\0is".into();
    let error = model.run(&inputs).unwrap_err();
    assert!(
        matches!(&error, RuntimeError::Input { name, problem: InputProblem::Rejected(_) } if name == "city"),
        "{error:?}"
    );
}
