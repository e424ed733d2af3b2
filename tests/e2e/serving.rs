//! Serving: models registered through the registry, served over the Open Inference Protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_api::{Canary, EndpointSpec};
use cairn_domain::ServiceKind;
use tokio::task::JoinHandle;

use crate::{Platform, Store, eventually};

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

/// Requests to `endpoint` in a loop from `tasks` clients until `stop`; every response's status
/// and the version that answered, in order, per client.
fn load(
    url: String,
    endpoint: &str,
    tasks: usize,
    stop: Arc<AtomicBool>,
) -> Vec<JoinHandle<Vec<(u16, String)>>> {
    let body = serde_json::json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 8],
        "data": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}]});
    (0..tasks)
        .map(|_| {
            let (url, body, stop) =
                (format!("{url}/v2/models/{endpoint}/infer"), body.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let answer = http.post(&url).json(&body).send().await.unwrap();
                    let status = answer.status().as_u16();
                    let reply: serde_json::Value = answer.json().await.unwrap();
                    let version = reply["model_version"].as_str().unwrap_or_default().to_owned();
                    assert!(status == 200, "{status}: {reply}");
                    seen.push((status, version));
                }
                seen
            })
        })
        .collect()
}

async fn move_alias(platform: &Platform, model: &str, alias: &str, version: i64) {
    let url =
        format!("{}/api/2.0/mlflow/registered-models/alias", platform.service(ServiceKind::Registry).url());
    let body = serde_json::json!({"name": model, "alias": alias, "version": version.to_string()});
    let answer = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
}

async fn endpoint(platform: &Platform, name: &str) -> serde_json::Value {
    platform.client(ServiceKind::Serving).get(&format!("/v1/endpoints/{name}")).await.unwrap()
}

/// An endpoint following an alias swaps versions under a load of requests without one failure,
/// every response naming the version that answered (and never an older one after a newer); a
/// version that cannot load (not ONNX) leaves the previous one serving and says why; with the
/// registry gone, the loaded version keeps answering.
#[tokio::test]
async fn alias_moves_under_load_swap_without_a_failed_request() {
    let zoo = zoo();
    let mut platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Registry, ServiceKind::Serving], &[]).await;
    let broken = zoo.path().join("broken.bin");
    std::fs::write(&broken, b"not an ONNX model").unwrap();
    let file = |name: &str| zoo.path().join(format!("{name}.onnx")).display().to_string();
    let printed = scenario(
        &platform,
        "versions",
        &[
            "scorer",
            &file("random_forest_binary"),
            &file("gradient_boosting_binary"),
            broken.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(printed.lines().last(), Some("1 2 3"), "{printed}");
    move_alias(&platform, "scorer", "champion", 1).await;

    let serving = platform.client(ServiceKind::Serving);
    let spec = EndpointSpec::alias("scorer", "champion");
    let deployed = serving.put_endpoint("scorer", &spec).await.unwrap();
    assert_eq!((deployed.state.as_str(), deployed.serving), ("ready", Some(1)), "{deployed:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let clients = load(platform.service(ServiceKind::Serving).url(), "scorer", 4, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;
    move_alias(&platform, "scorer", "champion", 2).await;
    eventually("version 2 serving", || async {
        (endpoint(&platform, "scorer").await["serving"] == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Version 3 is no model: it fails to load, version 2 keeps answering.
    move_alias(&platform, "scorer", "champion", 3).await;
    let failed = eventually("version 3 refused", || async {
        let view = endpoint(&platform, "scorer").await;
        (view["state"] == "failed").then_some(view)
    })
    .await;
    assert_eq!(failed["serving"], 2, "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("cannot load"), "{failed}");

    // The registry goes away: the loaded version keeps serving.
    platform.stop_service(ServiceKind::Registry).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    let mut seen_versions = std::collections::BTreeSet::new();
    for client in clients {
        let seen = client.await.unwrap();
        answered += seen.len();
        let versions: Vec<&str> = seen.iter().map(|(_, version)| version.as_str()).collect();
        let first_two = versions.iter().position(|v| *v == "2").unwrap_or(versions.len());
        assert!(
            versions[first_two..].iter().all(|v| *v == "2"),
            "an older version answered after a newer one"
        );
        seen_versions.extend(versions.into_iter().map(str::to_owned));
    }
    assert!(answered > 20, "{answered} requests");
    assert_eq!(seen_versions.into_iter().collect::<Vec<_>>(), ["1", "2"]);
    platform.stop().await;
}

/// Bad requests are 4xx in the protocol's shape, naming what is wrong; nothing reaches the model.
#[tokio::test]
async fn bad_requests_are_refused_with_the_reason() {
    let zoo = zoo();
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Registry, ServiceKind::Serving],
        &[("CAIRN__HTTP__MAX_BODY_BYTES", "65536")],
    )
    .await;
    let file = zoo.path().join("random_forest_binary.onnx");
    scenario(&platform, "versions", &["scorer", file.to_str().unwrap()]).await;
    let serving = platform.client(ServiceKind::Serving);
    let pinned = EndpointSpec::version("scorer", 1);
    serving.put_endpoint("scorer", &pinned).await.unwrap();

    let url = platform.service(ServiceKind::Serving).url();
    let http = reqwest::Client::new();
    let infer = |path: &str, body: Vec<u8>| {
        let request = http.post(format!("{url}{path}")).header("content-type", "application/json").body(body);
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
            assert_eq!(content_type, "application/json");
            let body: serde_json::Value = answer.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let tensor = |name: &str, datatype: &str, shape: serde_json::Value, data: serde_json::Value| {
        serde_json::to_vec(&serde_json::json!({"inputs": [
            {"name": name, "datatype": datatype, "shape": shape, "data": data}]}))
        .unwrap()
    };
    let row = serde_json::json!([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]);
    let cases = [
        (
            "/v2/models/scorer/infer",
            tensor("features", "FP32", serde_json::json!([1, 8]), row.clone()),
            400,
            "features",
        ),
        (
            "/v2/models/scorer/infer",
            tensor("input", "INT64", serde_json::json!([1, 8]), serde_json::json!([1, 2, 3, 4, 5, 6, 7, 8])),
            400,
            "FP32",
        ),
        (
            "/v2/models/scorer/infer",
            tensor("input", "FP32", serde_json::json!([1, 7]), serde_json::json!([1, 2, 3, 4, 5, 6, 7])),
            400,
            "input",
        ),
        (
            "/v2/models/scorer/infer",
            tensor("input", "FP32", serde_json::json!([2, 8]), row.clone()),
            400,
            "input",
        ),
        ("/v2/models/scorer/infer", b"{\"inputs\": [".to_vec(), 400, ""),
        ("/v2/models/scorer/infer", vec![b' '; 100_000], 413, "max_body_bytes"),
        (
            "/v2/models/nobody/infer",
            tensor("input", "FP32", serde_json::json!([1, 8]), row.clone()),
            404,
            "nobody",
        ),
        (
            "/v2/models/scorer/versions/7/infer",
            tensor("input", "FP32", serde_json::json!([1, 8]), row.clone()),
            404,
            "version 7",
        ),
    ];
    for (path, body, status, mentions) in cases {
        let (got, message) = infer(path, body).await;
        assert_eq!(got, status, "{path}: {message}");
        assert!(
            !message.is_empty() && message.contains(mentions),
            "{path}: `{message}` should name {mentions}"
        );
    }
    let ok =
        infer("/v2/models/scorer/versions/1/infer", tensor("input", "FP32", serde_json::json!([1, 8]), row))
            .await;
    assert_eq!(ok.0, 200, "{}", ok.1);

    // The answered request, and only it, is in the prediction log with its inputs and outputs.
    let jetstream = async_nats::jetstream::new(async_nats::connect(platform.nats.url()).await.unwrap());
    eventually("the prediction logged", || async {
        let mut stream = jetstream.get_stream("CAIRN_PREDICTIONS").await.unwrap();
        (stream.info().await.unwrap().state.messages >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut logged = jetstream.get_stream("CAIRN_PREDICTIONS").await.unwrap();
    assert_eq!(logged.info().await.unwrap().state.messages, 1, "only answered requests are logged");
    let message = logged.get_raw_message(1).await.unwrap();
    let batch = <cairn_events::v1::PredictionLogBatch as prost::Message>::decode(message.payload).unwrap();
    let [event] = batch.predictions.as_slice() else { panic!("one prediction: {batch:?}") };
    assert_eq!((event.deployment.as_str(), event.model.as_str(), event.version), ("scorer", "scorer", 1));
    let inputs: serde_json::Value = serde_json::from_str(&event.inputs_json).unwrap();
    assert_eq!(inputs["input"]["shape"], serde_json::json!([1, 8]), "{inputs}");
    let outputs: serde_json::Value = serde_json::from_str(&event.outputs_json).unwrap();
    assert_eq!(outputs["probabilities"]["shape"], serde_json::json!([1, 2]), "{outputs}");
    assert!(!event.request_id.is_empty() && event.latency_micros > 0);

    let metrics = reqwest::get(format!("{url}/metrics")).await.unwrap().text().await.unwrap();
    let answered =
        r#"cairn_predictions_total{endpoint="scorer",outcome="ok",version="1",service="serving"} 1"#;
    assert!(metrics.contains(answered), "{metrics}");
    assert!(metrics.contains(r#"endpoint="(unknown)""#), "unknown endpoints share one label: {metrics}");

    // Endpoints naming what the registry lacks are refused at once, in the platform's shape.
    for spec in [
        EndpointSpec::version("scorer", 9),
        EndpointSpec::alias("scorer", "nobody"),
        EndpointSpec::version("ghost", 1),
    ] {
        let error = serving.put_endpoint("other", &spec).await.unwrap_err();
        assert_eq!(error.code(), Some("invalid_request"), "{spec:?}: {error}");
    }
    let error = serving.put_endpoint("bad/name", &pinned).await.unwrap_err();
    assert!(error.to_string().contains("404") || error.code() == Some("invalid_request"), "{error}");

    // A version tagged to refuse missing values answers a null (NaN) with a 400 naming the
    // feature and row, where the same forest untagged would route it down its trees.
    scenario(&platform, "versions", &["strict", file.to_str().unwrap()]).await;
    let registry = platform.service(ServiceKind::Registry).url();
    for (key, value) in
        [("cairn.missing_values", "refuse"), ("cairn.feature_names", "f0,f1,f2,f3,f4,f5,f6,f7")]
    {
        let body = serde_json::json!({"name": "strict", "version": "1", "key": key, "value": value});
        let url = format!("{registry}/api/2.0/mlflow/model-versions/set-tag");
        assert!(http.post(url).json(&body).send().await.unwrap().status().is_success());
    }
    serving.put_endpoint("strict", &EndpointSpec::version("strict", 1)).await.unwrap();
    let mut record: serde_json::Map<String, serde_json::Value> =
        (0..8).map(|i| (format!("f{i}"), serde_json::json!(0.5))).collect();
    let (status, body) =
        predict(&http, &platform, "strict", serde_json::json!({"records": record.clone()})).await;
    assert_eq!(status, 200, "{body}");
    let complete = record.clone();
    record.insert("f3".into(), serde_json::Value::Null);
    let (status, body) =
        predict(&http, &platform, "strict", serde_json::json!({"records": [complete, record]})).await;
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(status == 400 && message.contains("feature `f3` of row 1 is missing"), "{status} {body}");
    platform.stop().await;
}

/// A canary answers its share of requests (within statistical tolerance), the same way for the
/// same routing key; a shadow gets a copy of each request, off the request path, whose answer is
/// logged under the request's id and never returned.
#[tokio::test]
async fn canary_and_shadow_split_requests_as_configured() {
    let zoo = zoo();
    let platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Registry, ServiceKind::Serving], &[]).await;
    let file = |name: &str| zoo.path().join(format!("{name}.onnx")).display().to_string();
    let files = [file("random_forest_binary"), file("gradient_boosting_binary"), file("lightgbm_binary")];
    scenario(&platform, "versions", &["scorer", &files[0], &files[1], &files[2]]).await;
    let spec = EndpointSpec {
        canary: Some(Canary { version: 2, weight: 0.25 }),
        shadow: Some(3),
        ..EndpointSpec::version("scorer", 1)
    };
    let deployed = platform.client(ServiceKind::Serving).put_endpoint("scorer", &spec).await.unwrap();
    assert_eq!(
        (deployed.state.as_str(), deployed.serving, deployed.serving_canary, deployed.serving_shadow),
        ("ready", Some(1), Some(2), Some(3)),
        "{deployed:?}"
    );

    let url = format!("{}/v2/models/scorer/infer", platform.service(ServiceKind::Serving).url());
    let http = reqwest::Client::new();
    let body = serde_json::json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 8],
        "data": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}]});
    let ask = |key: Option<String>| {
        let mut request = http.post(&url).json(&body);
        if let Some(key) = key {
            request = request.header("cairn-routing-key", key);
        }
        async move {
            let reply: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            (reply["model_version"].as_str().unwrap().to_owned(), reply["id"].as_str().unwrap().to_owned())
        }
    };
    let requests = 1200;
    let mut canary = 0;
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..requests {
        let (version, id) = ask(None).await;
        assert!(version == "1" || version == "2", "the shadow never answers: {version}");
        canary += usize::from(version == "2");
        ids.insert(id);
    }
    // Binomial(1200, 0.25): mean 300, standard deviation 15; five deviations either way.
    assert!((225..=375).contains(&canary), "{canary} of {requests} to the canary");
    for key in ["alice", "bob", "carol"] {
        let (first, _) = ask(Some(key.to_owned())).await;
        for _ in 0..20 {
            assert_eq!(ask(Some(key.to_owned())).await.0, first, "key {key} moved");
        }
    }

    // Every request's copy went to the shadow: its answers are in the log under the same ids.
    let jetstream = async_nats::jetstream::new(async_nats::connect(platform.nats.url()).await.unwrap());
    let total = (requests + 3 * 21) * 2;
    let logged = || async {
        let mut stream = jetstream.get_stream("CAIRN_PREDICTIONS").await.unwrap();
        let mut predictions = Vec::new();
        for sequence in 1..=stream.info().await.unwrap().state.messages {
            let message = stream.get_raw_message(sequence).await.unwrap();
            let batch =
                <cairn_events::v1::PredictionLogBatch as prost::Message>::decode(message.payload).unwrap();
            predictions.extend(batch.predictions);
        }
        predictions
    };
    let predictions = eventually("every prediction logged", || async {
        let predictions = logged().await;
        (predictions.len() >= total).then_some(predictions)
    })
    .await;
    let mut shadowed = std::collections::BTreeSet::new();
    for event in predictions {
        if event.shadow {
            assert_eq!(event.version, 3);
            shadowed.insert(event.request_id);
        } else {
            assert!(event.version == 1 || event.version == 2);
        }
    }
    assert!(
        ids.is_subset(&shadowed),
        "{} of {} requests shadowed",
        ids.intersection(&shadowed).count(),
        ids.len()
    );
    platform.stop().await;
}

/// Predictions by entity key: the endpoint's model version was trained on a feature service; its
/// features come from the online store, read in serving's own process, and what the store lacks
/// is reported per row. With the feature store stopped, the same requests are answered.
#[tokio::test]
async fn entity_keys_are_predicted_on_online_features_read_in_process() {
    let mut platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion, ServiceKind::FeatureStore, ServiceKind::Registry, ServiceKind::Serving],
        &[],
    )
    .await;
    let (ingestion, features) =
        (platform.client(ServiceKind::Ingestion), platform.client(ServiceKind::FeatureStore));
    ingestion.create_dataset(&crate::batches::dataset()).await.unwrap();
    eventually("the source dataset", || async { features.source_dataset("payments").await.ok() }).await;
    let now = cairn_domain::Timestamp::now().as_micros() / 1_000_000;
    ingestion.ingest("payments", "text/csv", crate::online::history(now)).await.unwrap();
    let definitions: cairn_api::Definitions = serde_json::from_value(serde_json::json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [{"name": "spend", "source": "payments", "entities": ["customer"],
                           "features": [{"name": "amount", "type": "float64"}]}],
        "feature_services": [{"name": "scoring", "features": ["spend:amount"]}]
    }))
    .unwrap();
    features.apply_features(&definitions, None).await.unwrap();
    eventually("spend materialized from the batch's files", || async {
        let run = features.materialize("spend", &cairn_api::MaterializeRequest::default()).await.unwrap();
        let run = crate::online::finished(&features, &run).await;
        (run.files > 0 && run.state == cairn_api::MaterializationState::Succeeded).then_some(())
    })
    .await;

    // y = 2·amount + 1, one unnamed matrix column: the feature service names it.
    let version = scenario(&platform, "feature_model", &["spend-model", "scoring@1"]).await;
    assert_eq!(version.lines().last(), Some("1"), "{version}");
    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("spend", &EndpointSpec::version("spend-model", 1)).await.unwrap();
    let http = reqwest::Client::new();
    let by_key = serde_json::json!({"entities": [{"id": 3}, {"id": 999}, {"id": 7}, {"id": 12}]});
    let expect_answers = |body: &serde_json::Value| {
        let predictions = body["predictions"].as_array().unwrap();
        // Entity 3's latest amount is 30, 12's is 120; 999 is unknown and 7's latest is null.
        assert_eq!(predictions[0]["variable"], serde_json::json!(61.0), "{body}");
        assert_eq!(predictions[3]["variable"], serde_json::json!(241.0), "{body}");
        assert!(predictions[1]["variable"].is_null() && predictions[2]["variable"].is_null(), "{body}");
        assert_eq!(body["missing"], serde_json::json!([[], ["amount"], ["amount"], []]), "{body}");
        assert_eq!((body["model"].as_str(), body["version"].as_i64()), (Some("spend-model"), Some(1)));
    };
    let (status, body) = predict(&http, &platform, "spend", by_key.clone()).await;
    assert_eq!(status, 200, "{body}");
    expect_answers(&body);

    // Records by feature name need no store; mistakes are 400s naming the feature.
    let (status, body) =
        predict(&http, &platform, "spend", serde_json::json!({"records": {"amount": 4.5}})).await;
    assert_eq!((status, &body["predictions"]), (200, &serde_json::json!([{"variable": 10.0}])), "{body}");
    for (bad, mentions) in [
        (serde_json::json!({"records": [{"amount": "x"}]}), "feature `amount` of record 0"),
        (serde_json::json!({"records": [{"other": 1}]}), "no feature `amount`"),
        (serde_json::json!({"records": []}), "no rows"),
        (serde_json::json!({"records": [{"amount": 1}], "entities": [{"id": 1}]}), "not both"),
        (serde_json::json!({"record": {"amount": 1}}), "unknown field"),
    ] {
        let (status, body) = predict(&http, &platform, "spend", bad.clone()).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{bad}: `{message}` should say {mentions}");
    }
    let (status, body) =
        predict(&http, &platform, "nobody", serde_json::json!({"records": {"amount": 1.0}})).await;
    assert_eq!(status, 404, "{body}");

    // The same requests over NATS request-reply, the status in a header.
    let nats = async_nats::connect(platform.nats.url()).await.unwrap();
    let over_nats = |endpoint: &str, body: serde_json::Value| {
        let (nats, subject) = (nats.clone(), format!("cairn.serving.predict.{endpoint}"));
        async move {
            let reply = nats.request(subject, serde_json::to_vec(&body).unwrap().into()).await.unwrap();
            let status = reply.headers.as_ref().and_then(|h| h.get("Cairn-Status")).unwrap().to_string();
            (status, serde_json::from_slice::<serde_json::Value>(&reply.payload).unwrap())
        }
    };
    let (status, body) = over_nats("spend", serde_json::json!({"records": [{"amount": 1.0}]})).await;
    assert_eq!(
        (status.as_str(), &body["predictions"]),
        ("200", &serde_json::json!([{"variable": 3.0}])),
        "{body}"
    );
    let (status, body) = over_nats("spend", by_key.clone()).await;
    assert_eq!(status, "200", "{body}");
    expect_answers(&body);
    let (status, body) = over_nats("nobody", serde_json::json!({"records": [{"amount": 1.0}]})).await;
    assert_eq!((status.as_str(), body["error"]["code"].as_str()), ("404", Some("not_found")), "{body}");
    let (status, body) = over_nats("spend", serde_json::json!("not a request")).await;
    assert_eq!(status, "400", "{body}");

    // Streamed entity keys: each gets its prediction on the online features, or what was missing.
    let streamed = EndpointSpec {
        stream: Some(cairn_api::StreamScoring {
            input: "spend.keys".into(),
            output: "spend.scored".into(),
            entity_keys: true,
        }),
        ..EndpointSpec::version("spend-model", 1)
    };
    serving.put_endpoint("spend", &streamed).await.unwrap();
    let jetstream = async_nats::jetstream::new(nats.clone());
    let output = eventually("serving made the streams", || async {
        jetstream.stream_by_subject("spend.keys").await.ok()?;
        jetstream.stream_by_subject("spend.scored").await.ok()
    })
    .await;
    for key in [3, 999] {
        let payload = serde_json::to_vec(&serde_json::json!({"id": key})).unwrap();
        jetstream.publish("spend.keys", payload.into()).await.unwrap().await.unwrap();
    }
    let stream = jetstream.get_stream(&output).await.unwrap();
    let answers: Vec<serde_json::Value> = eventually("both keys answered", || async {
        let mut stream = stream.clone();
        let count = stream.info().await.ok()?.state.messages;
        if count < 2 {
            return None;
        }
        let mut answers = Vec::new();
        for sequence in 1..=count {
            let message = stream.get_raw_message(sequence).await.ok()?;
            answers.push(serde_json::from_slice(&message.payload).ok()?);
        }
        Some(answers)
    })
    .await;
    assert_eq!(answers[0]["prediction"]["variable"], serde_json::json!(61.0), "{answers:?}");
    assert!(answers[1]["prediction"]["variable"].is_null(), "{answers:?}");
    assert_eq!(answers[1]["missing"], serde_json::json!(["amount"]), "{answers:?}");

    // The feature store goes away: definitions are held, values are read from the replica.
    platform.stop_service(ServiceKind::FeatureStore).await;
    let (status, body) = predict(&http, &platform, "spend", by_key.clone()).await;
    assert_eq!(status, 200, "{body}");
    expect_answers(&body);

    // NATS goes away as well: the replica still answers, and the replica reports itself ready
    // but degraded, saying why.
    platform.nats.kill9();
    let (status, body) = predict(&http, &platform, "spend", by_key).await;
    assert_eq!(status, 200, "{body}");
    expect_answers(&body);
    let readyz = format!("{}/readyz", platform.service(ServiceKind::Serving).url());
    let degraded = eventually("serving reports NATS away", || async {
        let answer = http.get(&readyz).send().await.ok()?;
        assert_eq!(answer.status().as_u16(), 200, "loaded models keep serving: ready");
        let body: serde_json::Value = answer.json().await.ok()?;
        body["degraded"].to_string().contains("nats").then_some(body)
    })
    .await;
    assert_eq!(degraded["ready"], serde_json::json!(true), "{degraded}");
    platform.stop().await;
}

async fn predict(
    http: &reqwest::Client,
    platform: &Platform,
    endpoint: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let url = format!("{}/v1/endpoints/{endpoint}/predict", platform.service(ServiceKind::Serving).url());
    let answer = http.post(url).json(&body).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// Batch scoring: `cairn score MODEL@ALIAS --dataset NAME@N` scores every row of the version with
/// the model (a random forest with ZipMap probabilities, its columns named by a tag); the rows and
/// predictions become a new dataset version with lineage to both, holding what onnxruntime
/// computes on the same rows. Mistakes are refused before a job starts, naming what is wrong.
#[tokio::test]
async fn a_dataset_version_is_scored_into_a_new_version_with_lineage() {
    let platform = Platform::start_with(
        Store::Sqlite,
        &[ServiceKind::Ingestion, ServiceKind::Registry, ServiceKind::Serving],
        &[],
    )
    .await;
    let ingestion = platform.client(ServiceKind::Ingestion);
    ingestion.create_dataset(&crate::batches::dataset()).await.unwrap();
    let now = cairn_domain::Timestamp::now().as_micros() / 1_000_000;
    let batch = ingestion.ingest("payments", "text/csv", crate::online::history(now)).await.unwrap();
    assert_eq!(batch.version, Some(1), "{batch:?}");
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("risk.onnx");
    let version = scenario(&platform, "scoring_model", &["risk", onnx.to_str().unwrap()]).await;
    assert_eq!(version.lines().last(), Some("1"), "{version}");
    move_alias(&platform, "risk", "champion", 1).await;

    // The CLI as a user runs it (on tokio's process API: the services share this test's runtime).
    let scored = tokio::process::Command::new(cairn_testkit::cairn())
        .current_dir(dir.path())
        .env_remove("CAIRN_CONFIG")
        .env("CAIRN__SERVICES__SERVING__URL", platform.service(ServiceKind::Serving).url())
        .args(["score", "risk@champion", "--dataset", "payments@1", "--json"])
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&scored.stdout);
    assert!(scored.status.success(), "{printed}\n{}", String::from_utf8_lossy(&scored.stderr));
    let job: cairn_api::ScoringJob = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        (job.state.as_str(), job.output.as_str(), job.output_version),
        ("succeeded", "payments_scores", Some(1))
    );
    assert_eq!(
        (job.rows, job.rows_scored, job.version),
        (batch.report.as_ref().unwrap().rows_accepted, job.rows, 1)
    );

    let output = ingestion.version("payments_scores", 1).await.unwrap();
    let lineage = output.lineage.clone().unwrap();
    assert_eq!(
        (lineage.training_data.as_str(), lineage.model.as_deref(), lineage.entity_rows.as_str()),
        (job.id.as_str(), Some("risk@1"), "payments@1")
    );
    let columns: Vec<&str> = output.schema.columns.iter().map(|column| column.name.as_str()).collect();
    assert_eq!(
        columns,
        [
            "id",
            "ts",
            "amount",
            "channel",
            "predicted_output_label",
            "predicted_output_probability_0",
            "predicted_output_probability_1"
        ]
    );
    let root = platform.config.offline_root();
    let files: Vec<String> =
        output.files.iter().map(|file| root.join(&file.path).to_string_lossy().into_owned()).collect();
    let mut args = vec![onnx.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let checked = scenario(&platform, "check_scores", &args).await;
    assert_eq!(checked.lines().last(), Some(format!("{} rows", job.rows).as_str()), "{checked}");

    // Refused before a job starts: unknown model, version or dataset version; both an alias and
    // a version; rows that lack a feature of the model.
    ingestion
        .create_dataset(
            &serde_json::from_value(serde_json::json!({"name": "visits", "schema": {
                "columns": [{"name": "id", "type": "int64"}, {"name": "ts", "type": "timestamp", "nullable": false}],
                "event_timestamp": "ts"}}))
            .unwrap(),
        )
        .await
        .unwrap();
    ingestion
        .ingest("visits", "text/csv", format!("id,ts\n1,{}\n", cairn_domain::Timestamp::now()))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let jobs = format!("{}/v1/scoring-jobs", platform.service(ServiceKind::Serving).url());
    for (request, status, mentions) in [
        (serde_json::json!({"model": "nobody", "version": 1, "dataset": "payments"}), 404, "nobody"),
        (serde_json::json!({"model": "risk", "alias": "gone", "dataset": "payments"}), 404, "gone"),
        (
            serde_json::json!({"model": "risk", "version": 1, "dataset": "payments", "dataset_version": 9}),
            404,
            "no version 9",
        ),
        (
            serde_json::json!({"model": "risk", "version": 1, "alias": "champion", "dataset": "payments"}),
            422,
            "one of them",
        ),
        (serde_json::json!({"model": "risk", "version": 1, "dataset": "visits"}), 422, "no column `amount`"),
        (serde_json::json!({"model": "risk", "version": 1, "dataset": "Bad Name"}), 422, "Bad Name"),
    ] {
        let answer = http.post(&jobs).json(&request).send().await.unwrap();
        let code = answer.status().as_u16();
        let body: serde_json::Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(code == status && message.contains(mentions), "{request}: {code} {body}");
    }
    let unknown = http.get(format!("{jobs}/nope")).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    platform.stop().await;
}

/// Stream scoring: every record published on a subject gets one answer on another — its
/// prediction, or why it has none — even when its delivery repeats: the durable consumer lost,
/// NATS killed and restarted, serving restarted, all mid-stream.
#[tokio::test]
async fn streamed_records_get_one_answer_each_through_redeliveries() {
    let mut platform =
        Platform::start_with(Store::Sqlite, &[ServiceKind::Registry, ServiceKind::Serving], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("risk.onnx");
    scenario(&platform, "scoring_model", &["risk", onnx.to_str().unwrap()]).await;
    let spec = EndpointSpec {
        stream: Some(cairn_api::StreamScoring {
            input: "payments.in".into(),
            output: "payments.scored".into(),
            entity_keys: false,
        }),
        ..EndpointSpec::version("risk", 1)
    };
    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("risk", &spec).await.unwrap();
    let bad = EndpointSpec {
        stream: Some(cairn_api::StreamScoring {
            input: "a.>".into(),
            output: "b.*".into(),
            entity_keys: false,
        }),
        ..spec.clone()
    };
    assert!(serving.put_endpoint("risk", &bad).await.is_err(), "an output subject with a wildcard");

    let nats = async_nats::connect(platform.nats.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(nats);
    let (input, output) = eventually("serving made a stream for each subject", || async {
        Some((
            jetstream.stream_by_subject("payments.in").await.ok()?,
            jetstream.stream_by_subject("payments.scored").await.ok()?,
        ))
    })
    .await;
    const RECORDS: u64 = 3000;
    let record = |i: u64| serde_json::json!({"amount": (i % 130) as f64 + 0.5, "id": i % 13});
    for i in 1..=RECORDS {
        let payload = match i {
            100 => b"not json".to_vec(),
            200 => serde_json::to_vec(&serde_json::json!({"id": 3})).unwrap(),
            _ => serde_json::to_vec(&record(i)).unwrap(),
        };
        jetstream.publish("payments.in", payload.into()).await.unwrap().await.unwrap();
    }
    let answered = || async {
        let mut stream = jetstream.get_stream(&output).await.ok()?;
        Some(stream.info().await.ok()?.state.messages)
    };
    eventually("the first answers", || async { answered().await.filter(|n| *n > 0) }).await;

    // Every delivery repeats: the durable consumer is lost, NATS is killed, serving restarts.
    let consumer = "serving-scoring-risk";
    jetstream.get_stream(&input).await.unwrap().delete_consumer(consumer).await.unwrap();
    platform.nats.kill9();
    platform.nats.restart().await;
    platform.restart(ServiceKind::Serving).await;
    eventually("every record answered", || async {
        let stream = jetstream.get_stream(&input).await.ok()?;
        let mut reader =
            stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>(consumer).await.ok()?;
        let info = reader.info().await.ok()?;
        (info.num_pending == 0 && info.num_ack_pending == 0 && answered().await? >= RECORDS).then_some(())
    })
    .await;

    // One answer per record, in the output stream.
    let stream = jetstream.get_stream(&output).await.unwrap();
    let reader = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < RECORDS as usize {
        let message = futures::StreamExt::next(&mut messages).await.unwrap().unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        let sequence = answer["sequence"].as_u64().unwrap();
        assert!(answers.insert(sequence, answer).is_none(), "record {sequence} answered twice");
    }
    assert_eq!(answered().await, Some(RECORDS), "no answer beyond one per record");
    assert!(answers[&100]["error"]["message"].as_str().unwrap().contains("not JSON"), "{}", answers[&100]);
    assert!(
        answers[&200]["error"]["message"].as_str().unwrap().contains("no feature `amount`"),
        "{}",
        answers[&200]
    );
    let http = reqwest::Client::new();
    for i in [1, 777, RECORDS] {
        let (status, body) =
            predict(&http, &platform, "risk", serde_json::json!({"records": record(i)})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(answers[&i]["prediction"], body["predictions"][0], "record {i}");
        assert_eq!((answers[&i]["model"].as_str(), answers[&i]["version"].as_i64()), (Some("risk"), Some(1)));
    }
    platform.stop().await;
}
