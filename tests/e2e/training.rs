//! Training: pipelines applied and refused, runs through the work queue and a worker, the
//! platform's evaluation and gates, registration and serving of what was trained.

use std::time::{Duration, Instant};

use cairn_api::{EndpointSpec, NewDataset, NewPipelineRun, PipelineRun, PipelineSpec, RunState};
use cairn_client::Client;
use cairn_domain::ServiceKind;
use serde_json::json;

use crate::Platform;

const SERVICES: [ServiceKind; 5] = [
    ServiceKind::Ingestion,
    ServiceKind::FeatureStore,
    ServiceKind::Registry,
    ServiceKind::Training,
    ServiceKind::Serving,
];

pub(crate) fn customers() -> NewDataset {
    serde_json::from_value(json!({
        "name": "customers",
        "schema": {
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "tenure", "type": "float64"},
                {"name": "spend", "type": "float64"},
                {"name": "visits", "type": "int64"},
                {"name": "region", "type": "categorical", "values": ["north", "south"]},
                {"name": "churned", "type": "int64", "nullable": false}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["id"]
        }
    }))
    .unwrap()
}

/// `rows` customers whose churn follows their tenure, spend and visits, with noise: a model can
/// learn it well but not perfectly. Some spends are missing.
pub(crate) fn customers_csv(rows: u64) -> String {
    let mut state = 42u64;
    let mut unit = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = cairn_domain::Timestamp::now().as_micros() - 10 * 86_400_000_000;
    let mut body = String::from("id,ts,tenure,spend,visits,region,churned\n");
    for id in 0..rows {
        let tenure = unit() * 60.0;
        let spend = unit() * 200.0;
        let visits = (unit() * 20.0) as i64;
        let score = 2.0 - tenure / 15.0 - spend / 80.0 + (visits as f64) / 10.0 + (unit() - 0.5) * 2.0;
        let churned = i64::from(score > 0.0);
        let spend = if id % 37 == 0 { String::new() } else { format!("{spend:.3}") };
        let region = if unit() < 0.5 { "north" } else { "south" };
        let ts = cairn_domain::Timestamp::from_micros(start + (id as i64) * 60_000_000).unwrap();
        body.push_str(&format!("{id},{ts},{tenure:.3},{spend},{visits},{region},{churned}\n"));
    }
    body
}

pub(crate) fn spec(text: &str) -> PipelineSpec {
    toml::from_str(text).unwrap_or_else(|error| panic!("{error}"))
}

pub(crate) const CHURN: &str = r#"
    name = "churn"
    [data]
    dataset = "customers"
    label = "churned"
    [split]
    kind = "time"
    holdout = 0.2
    validation = 0.15
    [trainer]
    task = "binary"
    builtin = "gbdt"
    params = { num_iterations = 40, min_data_in_leaf = 10 }
    [search]
    strategy = "random"
    trials = 3
    parallelism = 2
    seed = 5
    space = { num_leaves = { int = [4, 16] }, learning_rate = { log_uniform = [0.05, 0.3] } }
    [evaluation]
    gates = [{ kind = "threshold", metric = "roc_auc", min = 0.75 },
             { kind = "slice", metric = "roc_auc", column = "region", max_gap = 0.3 },
             { kind = "serving", p99_ms = 50.0, max_bytes = 10000000 }]
    [registration]
    model = "churn"
    alias = "champion"
    tags = { team = "retention" }
"#;

/// Follows a run to its end (three minutes at most).
pub(crate) async fn finished(training: &Client, id: &str) -> PipelineRun {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let run = training.pipeline_run(id).await.unwrap();
        if run.state.finished() {
            return run;
        }
        assert!(Instant::now() < deadline, "run {id} still {:?}: {run:#?}", run.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pipeline of the built-in GBDT trainer with a random search runs end to end: the data
/// prepared and split by the platform, three trials trained by a worker from the queue, the best
/// measured on the holdout and passed by its gate, registered with its lineage and alias — and
/// served. A second run whose gate it cannot pass registers nothing and moves no alias, saying
/// which gate failed and by how much.
#[tokio::test]
async fn a_pipeline_trains_evaluates_registers_and_serves_its_model() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    let (ingestion, training) =
        (platform.client(ServiceKind::Ingestion), platform.client(ServiceKind::Training));
    let registry = platform.client(ServiceKind::Registry);
    ingestion.create_dataset(&customers()).await.unwrap();
    ingestion.ingest("customers", "text/csv", customers_csv(3000)).await.unwrap();

    let plan = training.apply_pipeline(&spec(CHURN)).await.unwrap();
    assert_eq!((plan.action, plan.to_version), (cairn_api::Action::Create, 1));
    let run = training.start_pipeline_run("churn", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    let first = run.clone();
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!(run.dataset.as_deref(), Some("customers@1"));
    let rows = run.rows.unwrap();
    assert_eq!((rows.train + rows.validation + rows.holdout, rows.holdout), (3000, 600));
    assert_eq!(run.trials.len(), 3);
    assert!(
        run.trials.iter().all(|trial| trial.state == "succeeded" && trial.score.is_some()),
        "{:#?}",
        run.trials
    );
    assert!(run.metrics["roc_auc"] > 0.75, "{:?}", run.metrics);
    assert!(run.gates.iter().all(|gate| gate.passed) && run.gates.len() == 3, "{:#?}", run.gates);
    assert!(
        run.gates[1].detail.contains("by `region`") && run.gates[1].detail.contains("`north`"),
        "{}",
        run.gates[1].detail
    );
    assert!(
        run.gates[2].detail.starts_with("one-row p99 ") && run.gates[2].value.unwrap() < 50.0,
        "{}",
        run.gates[2].detail
    );
    assert_eq!(run.model_version.as_deref(), Some("churn@1"));
    let steps: Vec<RunState> = run.steps.iter().map(|step| step.step).collect();
    assert_eq!(
        steps,
        [
            RunState::Queued,
            RunState::PreparingData,
            RunState::Training,
            RunState::Evaluating,
            RunState::Registering
        ]
    );

    // The registry holds the version, its alias and lineage, and a tracking run per trial.
    let model = registry.model("churn").await.unwrap();
    assert_eq!(model.aliases.get("champion"), Some(&1));
    let version = registry.model_version("churn", 1).await.unwrap();
    assert_eq!(version.tags.get("team").map(String::as_str), Some("retention"));
    assert_eq!(version.tags.get("cairn.pipeline_run"), Some(&run.id));
    assert_eq!(version.lineage.datasets, [cairn_api::DatasetRef { dataset: "customers".into(), version: 1 }]);
    assert!(version.lineage.metrics["roc_auc"] > 0.75);
    let best = run.trials.iter().find(|trial| Some(trial.number) == run.best_trial).unwrap();
    assert_eq!(version.lineage.params["num_leaves"], best.params["num_leaves"].to_string());
    assert_eq!(version.model_file.as_ref().map(|file| file.sha256.clone()), best.model_sha256.clone());
    let signature = version.signature.unwrap();
    let inputs: Vec<&str> = signature.inputs.iter().map(|input| input.name.as_str()).collect();
    assert_eq!(inputs, ["tenure", "spend", "visits"], "numeric columns but the id, time and label");
    // The model card shows the platform's own evaluation.
    let card = registry.model_card("churn", 1, "markdown").await.unwrap();
    for shown in [
        "## Evaluation",
        "### Holdout metrics",
        "| roc_auc |",
        "### Calibration",
        "### Permutation importance",
        "roc_auc by region",
    ] {
        assert!(card.contains(shown), "{shown} in the card:\n{card}");
    }
    let evaluation: serde_json::Value = serde_json::from_str(&version.tags["cairn.evaluation"]).unwrap();
    let important: Vec<&str> =
        evaluation["importance"].as_array().unwrap().iter().map(|pair| pair[0].as_str().unwrap()).collect();
    assert_eq!(important.len(), 3);
    assert_ne!(
        important[2], "tenure",
        "the feature churn depends on most is not the least important: {important:?}"
    );
    for trial in &run.trials {
        let tracked = registry.run(trial.tracking_run_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(tracked.status, "FINISHED");
        assert!(
            tracked.metrics.contains_key("validation_roc_auc")
                && tracked.metrics.contains_key("train_binary_logloss")
        );
    }

    // It serves: the endpoint follows the alias the run moved.
    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("churn", &EndpointSpec::alias("churn", "champion")).await.unwrap();
    let answer: serde_json::Value = crate::eventually("the endpoint to serve", || async {
        serving
            .post::<_, serde_json::Value>(
                "/v1/endpoints/churn/predict",
                &json!({"records": [{"tenure": 2.0, "spend": 10.0, "visits": 15}, {"tenure": 58.0, "spend": 190.0, "visits": 1}]}),
            )
            .await
            .ok()
    })
    .await;
    // Labels as the data had them, probabilities a plain [0, 1] pair.
    let probability = |row: usize| {
        answer["predictions"][row]["probabilities"][1].as_f64().unwrap_or_else(|| panic!("{answer}"))
    };
    assert!(probability(0) > 0.5 && probability(1) < 0.5, "{answer}");
    assert_eq!(
        (answer["predictions"][0]["label"].clone(), answer["predictions"][1]["label"].clone()),
        (json!(1), json!(0))
    );

    // A gate it cannot pass: nothing registered, the alias stays.
    let strict = CHURN.replace(
        r#"max_bytes = 10000000 }]"#,
        r#"max_bytes = 10000000 }, { kind = "beat", metric = "roc_auc", alias = "champion", by = 0.5 }]"#,
    );
    let plan = training.apply_pipeline(&spec(&strict)).await.unwrap();
    assert_eq!(
        (plan.action, plan.to_version, plan.fields),
        (cairn_api::Action::NewVersion, 2, vec!["evaluation".to_owned()])
    );
    let run = training.start_pipeline_run("churn", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("gate failed") && error.contains("`champion` (v1)") && error.contains("0.5 required"),
        "{error}"
    );
    assert!(run.model_version.is_none());
    let model = registry.model("churn").await.unwrap();
    assert_eq!((model.versions.len(), model.aliases.get("champion")), (1, Some(&1)));

    // Reproduced, after the dataset has grown: the same dataset version, trials and seeds, and
    // the very same model files.
    ingestion.ingest("customers", "text/csv", customers_csv(200)).await.unwrap();
    let again = training.reproduce_pipeline_run(&first.id).await.unwrap();
    let again = finished(&training, &again.id).await;
    assert_eq!(again.state, RunState::Succeeded, "{again:#?}");
    assert_eq!(
        (again.reproduces.as_ref(), again.dataset.as_deref(), again.pipeline_version),
        (Some(&first.id), Some("customers@1"), 1)
    );
    for (trial, original) in again.trials.iter().zip(&first.trials) {
        assert_eq!(trial.params, original.params);
        assert!(
            trial.model_sha256.is_some() && trial.model_sha256 == original.model_sha256,
            "trial {}",
            trial.number
        );
    }
    assert_eq!(again.metrics, first.metrics);

    worker.stop().await;
    platform.stop().await;
}

/// A spec that could not work is refused at plan and apply, naming the field, and nothing is
/// stored.
#[tokio::test]
async fn an_invalid_pipeline_is_refused_with_the_field_named() {
    let platform = Platform::start_with(
        crate::Store::Sqlite,
        &[ServiceKind::Ingestion, ServiceKind::FeatureStore, ServiceKind::Registry, ServiceKind::Training],
        &[],
    )
    .await;
    let (ingestion, training) =
        (platform.client(ServiceKind::Ingestion), platform.client(ServiceKind::Training));
    ingestion.create_dataset(&customers()).await.unwrap();
    let refused = |text: String| {
        let training = training.clone();
        async move {
            let error = training.apply_pipeline(&spec(&text)).await.unwrap_err();
            match error {
                cairn_client::ClientError::Api { status, body } => (status, body.error.message),
                other => panic!("{other}"),
            }
        }
    };
    let (status, message) = refused(CHURN.replace("dataset = \"customers\"", "dataset = \"clients\"")).await;
    assert!(status == 422 && message.starts_with("data.dataset"), "{status} {message}");
    let (status, message) = refused(CHURN.replace("label = \"churned\"", "label = \"left\"")).await;
    assert!(status == 422 && message.contains("data.label") && message.contains("`left`"), "{message}");
    let (_, message) = refused(CHURN.replace("log_uniform = [0.05, 0.3]", "log_uniform = [0.3, 0.05]")).await;
    assert!(message.starts_with("search.space.learning_rate"), "{message}");
    let (_, message) = refused(CHURN.replace("int = [4, 16]", "int = [1, 16]")).await;
    assert!(message.starts_with("search.space.num_leaves") && message.contains("num_leaves"), "{message}");
    let (_, message) =
        refused(CHURN.replace(
            "[data]",
            "[data]\nfeature_service = \"churn_features\"\nentity_dataset = \"customers\"",
        ))
        .await;
    assert!(message.starts_with("data"), "{message}");
    let without_dataset = CHURN
        .replace("dataset = \"customers\"", "feature_service = \"nope\"\nentity_dataset = \"customers\"");
    let (_, message) = refused(without_dataset).await;
    assert!(message.starts_with("data.feature_service") && message.contains("nope"), "{message}");
    let missing = training.pipeline("churn").await.unwrap_err();
    assert_eq!(missing.code(), Some("not_found"));
    platform.stop().await;
}

/// A pipeline whose trainer is `tests/python/trainer_cases.py` (the scikit-learn example, or a
/// misbehaviour its `mode` names), with `extra` TOML after the trainer's table.
fn external(name: &str, params: &str, extra: &str) -> PipelineSpec {
    let python = cairn_testkit::python().display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/trainer_cases.py");
    spec(&format!(
        r#"
        name = "{name}"
        [data]
        dataset = "customers"
        label = "churned"
        [split]
        kind = "random"
        seed = 11
        [trainer]
        task = "binary"
        command = ["{python}", "{script}"]
        timeout_seconds = 4
        params = {params}
        {extra}
        [registration]
        model = "{name}"
        alias = "champion"
        "#
    ))
}

pub(crate) async fn with_customers(platform: &Platform) {
    let ingestion = platform.client(ServiceKind::Ingestion);
    ingestion.create_dataset(&customers()).await.unwrap();
    ingestion.ingest("customers", "text/csv", customers_csv(1500)).await.unwrap();
}

/// The scikit-learn example runs as an external trainer's trials; its model (one matrix input)
/// is registered with the order of its features, served by feature name, and answers as
/// scikit-learn itself does on the same training rows, to 1e-5.
#[tokio::test]
async fn an_external_scikit_learn_trainer_is_served_as_scikit_learn_answers() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    let search = r#"[search]
        strategy = "grid"
        space = { C = { choice = [0.01, 1.0] } }"#;
    let mut sk = external("sk", "{ mode = \"ok\" }", search);
    sk.trainer.code_version = Some("4b825dc642cb".into());
    training.apply_pipeline(&sk).await.unwrap();
    let run = training.start_pipeline_run("sk", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!(run.trials.len(), 2);
    let version = platform.client(ServiceKind::Registry).model_version("sk", 1).await.unwrap();
    assert_eq!(version.tags["cairn.feature_names"], r#"["tenure","spend","visits"]"#);
    assert_eq!(version.lineage.code_version.as_deref(), Some("4b825dc642cb"));
    let tracked = platform
        .client(ServiceKind::Registry)
        .run(run.trials[0].tracking_run_id.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        tracked.metrics.contains_key("train_accuracy"),
        "the trainer's JSON lines: {:?}",
        tracked.metrics
    );

    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("sk", &EndpointSpec::alias("sk", "champion")).await.unwrap();
    let records = json!([{"tenure": 3.0, "spend": 20.0, "visits": 12}, {"tenure": 40.0, "spend": 150.0, "visits": 2},
                         {"tenure": 20.0, "spend": 90.0, "visits": 8}]);
    let answer: serde_json::Value = crate::eventually("the endpoint to serve", || async {
        serving
            .post::<_, serde_json::Value>("/v1/endpoints/sk/predict", &json!({"records": records}))
            .await
            .ok()
    })
    .await;
    let best = run.trials.iter().find(|trial| Some(trial.number) == run.best_trial).unwrap();
    let train = platform.dir.path().join(format!("offline/training/runs/{}/train.parquet", run.id));
    let mut reference = tokio::process::Command::new(cairn_testkit::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/sklearn_reference.py"))
        .args([train.display().to_string(), r#"["tenure","spend","visits"]"#.into(), "churned".into()])
        .arg(serde_json::to_string(&best.params).unwrap())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt as _;
    reference.stdin.take().unwrap().write_all(records.to_string().as_bytes()).await.unwrap();
    let output = reference.wait_with_output().await.unwrap();
    assert!(output.status.success());
    let expected: Vec<Vec<f64>> = serde_json::from_slice(&output.stdout).unwrap();
    for (row, probabilities) in expected.iter().enumerate() {
        for (class, want) in probabilities.iter().enumerate() {
            let got = answer["predictions"][row]["probabilities"][class].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-5,
                "row {row} class {class}: {got} against scikit-learn's {want}"
            );
        }
    }
    worker.stop().await;
    platform.stop().await;
}

/// Trainers that crash, hang past their timeout, write no model or write no ONNX fail their
/// trials with that reason; the run goes on with the trial that works.
#[tokio::test]
async fn a_trainer_that_crashes_hangs_or_writes_no_model_fails_its_trial_with_the_reason() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    let search = r#"[search]
        strategy = "grid"
        parallelism = 5
        space = { mode = { choice = ["crash", "hang", "nomodel", "invalid", "ok"] } }"#;
    training.apply_pipeline(&external("cases", "{}", search)).await.unwrap();
    let run = training.start_pipeline_run("cases", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    let error = |mode: &str| {
        let trial = run.trials.iter().find(|trial| trial.params["mode"] == mode).unwrap();
        assert_eq!(trial.state, if mode == "ok" { "succeeded" } else { "failed" }, "{trial:?}");
        trial.error.clone().unwrap_or_default()
    };
    assert!(
        error("crash").contains("exited with exit status: 3") && error("crash").contains("boom"),
        "{}",
        error("crash")
    );
    assert!(error("hang").contains("past its timeout of 4 s"), "{}", error("hang"));
    assert!(error("nomodel").contains("wrote no model.onnx"), "{}", error("nomodel"));
    assert!(error("invalid").contains("not one ONNX Runtime can run"), "{}", error("invalid"));
    assert_eq!(error("ok"), "");
    assert_eq!(
        run.trials.iter().find(|trial| trial.params["mode"] == "ok").map(|trial| trial.number),
        run.best_trial
    );
    worker.stop().await;
    platform.stop().await;
}

/// A worker killed (SIGKILL) in the middle of a trial: the trial goes to another worker once the
/// queue's acknowledgement wait has passed, the run completes, and there is one model version and
/// one tracking run per trial — nothing twice.
#[tokio::test]
async fn a_worker_killed_mid_trial_gives_the_trial_to_another() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    with_customers(&platform).await;
    let marker = platform.dir.path().join("first-attempt");
    let mut first = std::process::Command::new(cairn_testkit::cairn())
        .arg("worker")
        .env("CAIRN__NATS__URL", platform.nats.url())
        .env("CAIRN__DATA_DIR", platform.dir.path())
        .env("CAIRN__TELEMETRY__LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let training = platform.client(ServiceKind::Training);
    let params = format!("{{ mode = \"slow_once\", marker = \"{}\" }}", marker.display());
    training.apply_pipeline(&external("killed", &params, "")).await.unwrap();
    let run = training.start_pipeline_run("killed", &NewPipelineRun::default()).await.unwrap();
    crate::eventually("the first worker to be training", || async { marker.exists().then_some(()) }).await;
    first.kill().unwrap(); // SIGKILL: no goodbye, the trial unacknowledged
    first.wait().unwrap();
    let second = cairn_training::work(platform.config.clone()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    let trial = &run.trials[0];
    assert_eq!(
        (trial.state.as_str(), trial.attempts),
        ("succeeded", 1),
        "handed out once, redelivered by the queue"
    );
    let registry = platform.client(ServiceKind::Registry);
    assert_eq!(registry.model("killed").await.unwrap().versions.len(), 1);
    let tracked = registry.runs("pipeline-killed", &cairn_client::RunQuery::default()).await.unwrap();
    assert_eq!(tracked.runs.len(), 2, "the run's tracking run and its trial's");
    second.stop().await;
    platform.stop().await;
}

/// The orchestrator stopped mid-run (its trials out with the workers): restarted, it takes the
/// run up at the step it was in, hands out nothing twice, and the run completes with one version.
#[tokio::test]
async fn a_restarted_orchestrator_continues_the_run_from_its_step() {
    let mut platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let marker = platform.dir.path().join("go");
    let params = format!("{{ mode = \"wait_for\", marker = \"{}\" }}", marker.display());
    let search = r#"[search]
        strategy = "grid"
        parallelism = 2
        space = { C = { choice = [0.1, 1.0] } }"#;
    let mut spec = external("resumed", &params, search);
    spec.trainer.timeout_seconds = 120;
    let training = platform.client(ServiceKind::Training);
    training.apply_pipeline(&spec).await.unwrap();
    let id = training.start_pipeline_run("resumed", &NewPipelineRun::default()).await.unwrap().id;
    crate::eventually("both trials handed out", || async {
        let run = training.pipeline_run(&id).await.ok()?;
        (run.trials.len() == 2 && run.trials.iter().all(|trial| trial.state == "running")).then_some(())
    })
    .await;
    platform.restart(ServiceKind::Training).await;
    std::fs::write(&marker, "go").unwrap();
    let training = platform.client(ServiceKind::Training);
    let run = finished(&training, &id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert!(
        run.trials.iter().all(|trial| trial.state == "succeeded" && trial.attempts == 1),
        "{:#?}",
        run.trials
    );
    let training_steps = run.steps.iter().filter(|step| step.step == RunState::Training).count();
    assert_eq!(training_steps, 1, "the step resumed, not begun again");
    let registry = platform.client(ServiceKind::Registry);
    assert_eq!(registry.model("resumed").await.unwrap().versions.len(), 1);
    let tracked = registry.runs("pipeline-resumed", &cairn_client::RunQuery::default()).await.unwrap();
    assert_eq!(tracked.runs.len(), 3, "the run's tracking run and one per trial");
    worker.stop().await;
    platform.stop().await;
}

/// Customers' activity (the feature view's source) and, an hour after each, whether they
/// churned (the entity rows with labels).
fn activity_and_labels(rows: u64) -> (String, String) {
    let (mut activity, mut labels) =
        (String::from("id,ts,tenure,spend,visits\n"), String::from("id,ts,churned\n"));
    let start = cairn_domain::Timestamp::now().as_micros() - 10 * 86_400_000_000;
    for line in customers_csv(rows).lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (id, tenure, spend, visits, churned) = (fields[0], fields[2], fields[3], fields[4], fields[6]);
        let at = start + id.parse::<i64>().unwrap() * 60_000_000;
        let (seen, labelled) = (
            cairn_domain::Timestamp::from_micros(at).unwrap(),
            cairn_domain::Timestamp::from_micros(at + 3_600_000_000).unwrap(),
        );
        activity.push_str(&format!("{id},{seen},{tenure},{spend},{visits}\n"));
        labels.push_str(&format!("{id},{labelled},{churned}\n"));
    }
    (activity, labels)
}

/// A pipeline on a feature service: the feature store joins the features as of each labelled
/// row's time into a training dataset version, the model is trained on it and registered with
/// the feature service it needs — and serves by entity key on the online store.
#[tokio::test]
async fn a_pipeline_on_a_feature_service_trains_on_point_in_time_features_and_serves_by_entity_key() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    let (ingestion, features) =
        (platform.client(ServiceKind::Ingestion), platform.client(ServiceKind::FeatureStore));
    let declare = |name: &str, columns: serde_json::Value| -> NewDataset {
        serde_json::from_value(json!({"name": name, "schema": {"columns": columns, "event_timestamp": "ts", "entity_keys": ["id"]}}))
            .unwrap()
    };
    ingestion
        .create_dataset(&declare("activity", json!([
            {"name": "id", "type": "int64", "nullable": false}, {"name": "ts", "type": "timestamp", "nullable": false},
            {"name": "tenure", "type": "float64"}, {"name": "spend", "type": "float64"}, {"name": "visits", "type": "int64"}])))
        .await
        .unwrap();
    ingestion
        .create_dataset(&declare("labels", json!([
            {"name": "id", "type": "int64", "nullable": false}, {"name": "ts", "type": "timestamp", "nullable": false},
            {"name": "churned", "type": "int64", "nullable": false}])))
        .await
        .unwrap();
    let (activity, labels) = activity_and_labels(1200);
    ingestion.ingest("activity", "text/csv", activity).await.unwrap();
    ingestion.ingest("labels", "text/csv", labels).await.unwrap();
    let definitions: cairn_api::Definitions = serde_json::from_value(json!({
        "entities": [{"name": "customer", "join_keys": ["id"]}],
        "feature_views": [{"name": "activity", "source": "activity", "entities": ["customer"],
            "features": [{"name": "tenure", "type": "float64"}, {"name": "spend", "type": "float64"},
                         {"name": "visits", "type": "int64"}]}],
        "feature_services": [{"name": "churn_features", "features": ["activity"]}]
    }))
    .unwrap();
    crate::eventually("the feature store to know the datasets", || async {
        features.apply_features(&definitions, None).await.ok()
    })
    .await;

    let training = platform.client(ServiceKind::Training);
    let text = CHURN
        .replace(
            "dataset = \"customers\"",
            "feature_service = \"churn_features\"\nentity_dataset = \"labels\"",
        )
        .replace("kind = \"time\"", "kind = \"random\"")
        .replace("{ kind = \"slice\", metric = \"roc_auc\", column = \"region\", max_gap = 0.3 },", "");
    training.apply_pipeline(&spec(&text)).await.unwrap();
    let run = training.start_pipeline_run("churn", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!(run.dataset.as_deref(), Some("churn_training@1"));
    assert_eq!(run.rows.map(|rows| rows.train + rows.validation + rows.holdout), Some(1200));
    let version = platform.client(ServiceKind::Registry).model_version("churn", 1).await.unwrap();
    assert_eq!(version.tags.get("cairn.feature_service").map(String::as_str), Some("churn_features@1"));
    assert_eq!(version.lineage.feature_service.as_deref(), Some("churn_features@1"));
    let lineage = ingestion.version("churn_training", 1).await.unwrap().lineage.unwrap();
    assert_eq!(lineage.entity_rows, "labels@1");

    // Online, the model answers for a customer by key.
    let materialized = features.materialize("activity", &Default::default()).await.unwrap();
    crate::online::finished(&features, &materialized).await;
    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("churn", &EndpointSpec::alias("churn", "champion")).await.unwrap();
    let answer: serde_json::Value = crate::eventually("an answer by entity key", || async {
        serving
            .post::<_, serde_json::Value>(
                "/v1/endpoints/churn/predict",
                &json!({"entities": [{"id": 3}, {"id": 5000}]}),
            )
            .await
            .ok()
    })
    .await;
    assert!(answer["predictions"][0]["probabilities"][1].as_f64().is_some(), "{answer}");
    assert_eq!(
        answer["missing"][1],
        json!(["tenure", "spend", "visits"]),
        "customer 5000 has no features: {answer}"
    );
    worker.stop().await;
    platform.stop().await;
}

/// A pipeline retrains by itself: on a new version of its dataset, and when monitoring reports
/// drift for its model — once per firing, however often the event comes.
#[tokio::test]
async fn new_data_and_drift_start_runs_once_each() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    let text = CHURN.replace("trials = 3", "trials = 1")
        + "\n    [[triggers]]\n    kind = \"dataset\"\n    [[triggers]]\n    kind = \"drift\"\n";
    training.apply_pipeline(&spec(&text)).await.unwrap();
    let runs = |training: Client| async move { training.pipeline_runs(Some("churn"), 100).await.unwrap() };
    assert!(
        runs(training.clone()).await.is_empty(),
        "applying starts nothing, nor do the dataset's older versions"
    );

    platform
        .client(ServiceKind::Ingestion)
        .ingest("customers", "text/csv", customers_csv(300))
        .await
        .unwrap();
    let started = crate::eventually("a run started by the new version", || async {
        runs(training.clone()).await.into_iter().next()
    })
    .await;
    assert_eq!(started.trigger, "dataset:customers (customers@2)");
    let run = finished(&training, &started.id).await;
    assert_eq!((run.state, run.dataset.as_deref()), (RunState::Succeeded, Some("customers@2")), "{run:#?}");

    let bus = cairn_bus::Bus::connect(
        &platform.config.nats,
        ServiceKind::Monitor,
        cairn_telemetry::Metrics::new("t"),
    )
    .await
    .unwrap();
    let drift = cairn_events::v1::DriftDetected {
        deployment: "churn".into(),
        model: "churn".into(),
        version: 1,
        feature: "tenure".into(),
        statistic: "psi".into(),
        value: 0.4,
        threshold: 0.1,
        window_start_unix_micros: cairn_domain::Timestamp::now().as_micros() - 60_000_000,
        window_end_unix_micros: cairn_domain::Timestamp::now().as_micros(),
        ..Default::default()
    };
    bus.publish(&drift).await.unwrap();
    let started = crate::eventually("a run started by drift", || async {
        runs(training.clone()).await.into_iter().find(|run| run.trigger.starts_with("drift:churn"))
    })
    .await;
    let run = finished(&training, &started.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    bus.publish(&drift).await.unwrap(); // the same report again (another feature, a redelivery)
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = runs(training.clone()).await;
    assert_eq!(
        all.len(),
        2,
        "one run per firing: {:?}",
        all.iter().map(|run| &run.trigger).collect::<Vec<_>>()
    );
    worker.stop().await;
    platform.stop().await;
}

/// Successive halving: many configurations on a small budget, the best half promoted to twice
/// the budget, and so on; the last rung's best is the model.
#[tokio::test]
async fn successive_halving_spends_the_budget_on_the_promising() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    let text = CHURN
        .replace(
            "strategy = \"random\"",
            "strategy = \"halving\"\n    eta = 2\n    max_resource = 40\n    min_resource = 10",
        )
        .replace("trials = 3", "trials = 4")
        .replace(
            "params = { num_iterations = 40, min_data_in_leaf = 10 }",
            "params = { min_data_in_leaf = 10 }",
        )
        .replace("{ kind = \"slice\", metric = \"roc_auc\", column = \"region\", max_gap = 0.3 },", "");
    training.apply_pipeline(&spec(&text)).await.unwrap();
    let run = training.start_pipeline_run("churn", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    let rungs: Vec<(Option<u32>, serde_json::Value)> =
        run.trials.iter().map(|trial| (trial.rung, trial.params["num_iterations"].clone())).collect();
    assert_eq!(
        rungs,
        [(0, 10), (0, 10), (0, 10), (0, 10), (1, 20), (1, 20), (2, 40)]
            .map(|(rung, n)| (Some(rung), json!(n))),
    );
    let score = |number: u32| run.trials[number as usize - 1].score.unwrap();
    let mut first: Vec<u32> = (1..=4).collect();
    first.sort_by(|a, b| score(*b).total_cmp(&score(*a)).then(a.cmp(b)));
    let leaves = |number: u32| run.trials[number as usize - 1].params["num_leaves"].clone();
    assert_eq!((leaves(5), leaves(6)), (leaves(first[0]), leaves(first[1])), "the best half went on");
    assert_eq!(run.best_trial, Some(7));
    worker.stop().await;
    platform.stop().await;
}

/// A run cancelled while its trials are out stops: cancelled, its trials and tracking runs
/// closed, nothing registered; a finished run cannot be cancelled.
#[tokio::test]
async fn a_cancelled_run_stops_and_registers_nothing() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let marker = platform.dir.path().join("never");
    let params = format!("{{ mode = \"wait_for\", marker = \"{}\" }}", marker.display());
    let mut spec = external("stopped", &params, "");
    spec.trainer.timeout_seconds = 60;
    let training = platform.client(ServiceKind::Training);
    training.apply_pipeline(&spec).await.unwrap();
    let id = training.start_pipeline_run("stopped", &NewPipelineRun::default()).await.unwrap().id;
    crate::eventually("the trial to be out", || async {
        let run = training.pipeline_run(&id).await.ok()?;
        run.trials.first().is_some_and(|trial| trial.state == "running").then_some(())
    })
    .await;
    training.cancel_pipeline_run(&id).await.unwrap();
    let run = finished(&training, &id).await;
    assert_eq!((run.state, run.trials[0].state.as_str()), (RunState::Cancelled, "cancelled"));
    let registry = platform.client(ServiceKind::Registry);
    let tracked = registry.runs("pipeline-stopped", &cairn_client::RunQuery::default()).await.unwrap();
    assert!(
        tracked.runs.iter().all(|run| run.status == "KILLED"),
        "{:?}",
        tracked.runs.iter().map(|run| &run.status).collect::<Vec<_>>()
    );
    assert!(registry.model("stopped").await.is_err(), "nothing registered");
    let again = training.cancel_pipeline_run(&id).await.unwrap_err();
    assert!(matches!(again, cairn_client::ClientError::Api { status: 409, .. }), "{again}");
    std::fs::write(&marker, "go").unwrap(); // let the worker's trainer end
    worker.stop().await;
    platform.stop().await;
}

/// The orchestrator's process killed (SIGKILL) while its trials are out: a new process takes the
/// run up at the step it was in and completes it, handing out nothing twice.
#[tokio::test]
async fn an_orchestrator_killed_mid_run_is_taken_up_by_a_new_process() {
    let platform = Platform::start_with(
        crate::Store::Sqlite,
        &[ServiceKind::Ingestion, ServiceKind::FeatureStore, ServiceKind::Registry],
        &[],
    )
    .await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let start = || {
        let port = cairn_testkit::free_port();
        let mut command = cairn_testkit::serve("training");
        command
            .env("CAIRN__NATS__URL", platform.nats.url())
            .env("CAIRN__DATA_DIR", platform.dir.path())
            .env("CAIRN__SERVICES__TRAINING__PORT", port.to_string())
            .env("CAIRN__TELEMETRY__LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null());
        for kind in [ServiceKind::Ingestion, ServiceKind::FeatureStore, ServiceKind::Registry] {
            let key = format!("CAIRN__SERVICES__{}__URL", kind.config_key().to_uppercase());
            command.env(key, platform.service(kind).url());
        }
        (command.spawn().unwrap(), Client::new(format!("http://127.0.0.1:{port}")))
    };
    let ready = |client: Client| async move {
        crate::eventually("the training process to be ready", || async {
            client.readiness().await.ok().filter(|readiness| readiness.ready).map(drop)
        })
        .await;
        client
    };
    let (mut first, training) = start();
    let training = ready(training).await;
    let marker = platform.dir.path().join("go");
    let params = format!("{{ mode = \"wait_for\", marker = \"{}\" }}", marker.display());
    let mut spec = external("killed_orchestrator", &params, "");
    spec.trainer.timeout_seconds = 120;
    training.apply_pipeline(&spec).await.unwrap();
    let id = training.start_pipeline_run("killed_orchestrator", &NewPipelineRun::default()).await.unwrap().id;
    crate::eventually("the trial to be out", || async {
        let run = training.pipeline_run(&id).await.ok()?;
        run.trials.first().is_some_and(|trial| trial.state == "running").then_some(())
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    std::fs::write(&marker, "go").unwrap();
    let (mut second, training) = start();
    let training = ready(training).await;
    let run = finished(&training, &id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    assert_eq!((run.trials.len(), run.trials[0].attempts), (1, 1), "the trial was handed out once");
    let registry = platform.client(ServiceKind::Registry);
    assert_eq!(registry.model("killed_orchestrator").await.unwrap().versions.len(), 1);
    let tracked =
        registry.runs("pipeline-killed_orchestrator", &cairn_client::RunQuery::default()).await.unwrap();
    assert_eq!(tracked.runs.len(), 2, "the run's tracking run and its trial's, once each");
    second.kill().unwrap();
    second.wait().unwrap();
    worker.stop().await;
    platform.stop().await;
}

/// A regression pipeline: the built-in GBDT learns a number, measured with the regression
/// metrics, and its card shows the residuals.
#[tokio::test]
async fn a_regression_pipeline_is_measured_by_its_residuals() {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, &[]).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    let text = r#"
        name = "tenure"
        [data]
        dataset = "customers"
        label = "tenure"
        exclude = ["churned"]
        [trainer]
        task = "regression"
        builtin = "gbdt"
        params = { num_iterations = 30 }
        [evaluation]
        gates = [{ kind = "threshold", metric = "rmse", max = 100.0 }]
        [registration]
        model = "tenure"
    "#;
    training.apply_pipeline(&spec(text)).await.unwrap();
    let run = training.start_pipeline_run("tenure", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    let metrics: Vec<&str> = run.metrics.keys().map(String::as_str).collect();
    assert_eq!(metrics, ["mae", "r2", "rmse"]);
    assert_eq!(
        run.objective.as_ref().map(|objective| (objective.metric.as_str(), objective.higher_is_better)),
        Some(("rmse", false))
    );
    let card = platform.client(ServiceKind::Registry).model_card("tenure", 1, "markdown").await.unwrap();
    assert!(
        card.contains("### Residuals (truth − predicted), quantiles") && card.contains("| rmse |"),
        "{card}"
    );
    worker.stop().await;
    platform.stop().await;
}
