//! Serving: models registered through the registry, served over the Open Inference Protocol.

use cairn_domain::ServiceKind;

use crate::{Platform, Store};

/// The model zoo's ONNX files and onnxruntime's outputs on fixed rows, in a new directory.
fn zoo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/model_zoo.py");
    let output =
        std::process::Command::new(cairn_testkit::python()).arg(script).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "model zoo: {}", String::from_utf8_lossy(&output.stderr));
    dir
}

/// Runs a scenario of tests/python/serving_client.py against the registry and serving.
async fn scenario(platform: &Platform, name: &str, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/serving_client.py");
    let output = tokio::process::Command::new(cairn_testkit::python())
        .arg(script)
        .arg(name)
        .args(args)
        .env("MLFLOW_TRACKING_URI", platform.service(ServiceKind::Registry).url())
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("CAIRN_SERVING_URL", platform.service(ServiceKind::Serving).url())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "scenario {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every model of the zoo — scikit-learn (linear, logistic, a ColumnTransformer pipeline with a
/// string input, trees, forests and boosting, with and without ZipMap), LightGBM, XGBoost, an MLP
/// — registered with the mlflow client, deployed, and queried with tritonclient's defaults
/// (binary tensors both ways) and with JSON: onnxruntime's answers, labels exactly, numbers to 1e-5.
#[tokio::test]
async fn the_model_zoo_serves_what_onnxruntime_computes() {
    let zoo = zoo();
    let platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Registry, ServiceKind::Serving], &[]).await;
    let printed = scenario(&platform, "zoo", &[zoo.path().to_str().unwrap()]).await;
    assert!(printed.lines().last().is_some_and(|line| line.ends_with(" models")), "{printed}");
    platform.stop().await;
}
