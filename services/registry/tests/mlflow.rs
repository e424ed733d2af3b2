//! The real `mlflow` Python client against the registry, scenario by scenario, on SQLite and on
//! PostgreSQL (tests/python/mlflow_client.py holds the scenarios and their checks).
#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

use cairn_service::RunningService;
use cairn_testkit::{NatsServer, TestDb};
use serde_json::json;

struct Registry {
    service: RunningService,
    /// The password the mlflow client sends with user `alice` (her token when tokens are set).
    password: String,
    config: cairn_config::CairnConfig,
    _db: TestDb,
    _nats: NatsServer,
    _dir: tempfile::TempDir,
}

impl Registry {
    async fn start(db: TestDb) -> Self {
        Self::start_with(db, &[]).await
    }

    async fn start_with(db: TestDb, extra: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config = cairn_testkit::config(&nats.url(), Some(db.url()), dir.path(), extra);
        let service = cairn_registry::run(config.clone()).await.unwrap();
        Self { service, password: "unused".into(), config, _db: db, _nats: nats, _dir: dir }
    }

    fn url(&self) -> String {
        self.service.url()
    }

    fn client(&self) -> cairn_client::Client {
        cairn_client::Client::new(self.url())
    }

    async fn scenario(&self, name: &str, args: &[&str]) -> String {
        scenario(&self.url(), &self.password, name, args).await
    }
}

/// Runs a scenario with the mlflow client against `url`; the last line it printed (the client
/// prints links to runs before it).
async fn scenario(url: &str, password: &str, name: &str, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/python/mlflow_client.py");
    let output = tokio::process::Command::new(cairn_testkit::python())
        .arg(script)
        .arg(name)
        .args(args)
        .env("MLFLOW_TRACKING_URI", url)
        // A 5xx would otherwise be retried for minutes.
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
        // Sent as HTTP basic auth: the audit log's actor.
        .env("MLFLOW_TRACKING_USERNAME", "alice")
        .env("MLFLOW_TRACKING_PASSWORD", password)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "scenario {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

async fn on_each_backend(name: &str, args: &[&str]) {
    for db in TestDb::each() {
        let registry = Registry::start(db).await;
        registry.scenario(name, args).await;
    }
}

#[tokio::test]
async fn experiments_runs_params_metrics_and_tags() {
    on_each_backend("tracking", &[]).await;
}

#[tokio::test]
async fn search_runs_with_filters_ordering_and_pages() {
    on_each_backend("search", &[]).await;
}

#[tokio::test]
async fn errors_carry_mlflow_codes() {
    on_each_backend("errors", &[]).await;
}

#[tokio::test]
async fn eight_concurrent_writers_lose_no_metric_point() {
    on_each_backend("concurrent", &["8", "5"]).await;
}

#[tokio::test]
async fn artifacts_stream_stay_inside_their_run_and_are_verified() {
    for db in TestDb::each() {
        let registry = Registry::start_with(db, &[("CAIRN__REGISTRY__MAX_ARTIFACT_BYTES", "4194304")]).await;
        let store = registry.config.artifacts_root();
        let run_id = &registry.scenario("artifacts", &[store.to_str().unwrap()]).await;
        let root = store.join(format!("0/{run_id}/artifacts"));
        // Files changed behind the registry's back, keeping their length (so only the hash can
        // tell), are not served: a small one is refused before the answer starts, a large one
        // (3 MiB, past the first chunk read) is cut short of its declared length.
        let notes = root.join("notes.txt");
        assert_eq!(std::fs::read(&notes).unwrap(), b"hello artifacts");
        std::fs::write(&notes, b"HELLO ARTIFACTS").unwrap();
        registry.scenario("download_fails", &[run_id, "notes.txt", "refused"]).await;
        let weights = root.join("model/weights.bin");
        let mut bytes = std::fs::read(&weights).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&weights, &bytes).unwrap();
        registry.scenario("download_fails", &[run_id, "model/weights.bin", "cut"]).await;
        // Swapped for a symlink to a file outside: its bytes do not match either.
        std::fs::remove_file(root.join("meta.json")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("meta.json")).unwrap();
        registry.scenario("download_fails", &[run_id, "meta.json", "refused"]).await;
    }
}

/// The same artifact scenarios with the store in S3-compatible storage (`storage.artifacts_url
/// = s3://…`, moto's server): files stream in and out of the bucket under the prefix, and a
/// registered version's files are copied within it.
#[tokio::test]
async fn artifacts_and_registered_versions_in_s3() {
    use cairn_objects::ObjectStoreExt as _;
    let s3 = cairn_testkit::S3Server::start();
    s3.create_bucket("models");
    let endpoint = s3.endpoint();
    let settings = [
        ("CAIRN__REGISTRY__MAX_ARTIFACT_BYTES", "4194304"),
        ("CAIRN__STORAGE__ARTIFACTS_URL", "s3://models/registry"),
        ("CAIRN__STORAGE__S3__ENDPOINT", endpoint.as_str()),
        ("CAIRN__STORAGE__S3__REGION", "us-east-1"),
        ("CAIRN__STORAGE__S3__ACCESS_KEY_ID", "test"),
        ("CAIRN__STORAGE__S3__SECRET_ACCESS_KEY", "test"),
        ("CAIRN__STORAGE__S3__ALLOW_HTTP", "true"),
    ];
    let registry = Registry::start_with(TestDb::sqlite(), &settings).await;
    let run_id = registry.scenario("artifacts", &[]).await;
    registry.scenario("onnx_model", &[]).await;
    let bucket = cairn_objects::s3_bucket("models", &registry.config.storage.s3).unwrap();
    let weights =
        bucket.head(&format!("registry/0/{run_id}/artifacts/model/weights.bin").into()).await.unwrap();
    assert_eq!(weights.size, 3 * 1024 * 1024 + 17);
    assert!(!registry.config.artifacts_root().join("0").exists(), "nothing written locally");
    let version = registry.client().model_version("scorer", 1).await.unwrap();
    let id = version.storage_location.strip_prefix("mlflow-artifacts:/registered/").unwrap().to_owned();
    bucket.head(&format!("registry/registered/{id}/model.onnx").into()).await.unwrap();
    assert_eq!(version.signature.unwrap().inputs[0].name, "features", "the signature read from S3");
}

#[tokio::test]
async fn log_model_creates_uploads_and_finalizes_a_logged_model() {
    on_each_backend("logged_models", &[]).await;
}

#[tokio::test]
async fn registered_models_versions_aliases_and_stages() {
    on_each_backend("registry", &[]).await;
}

/// Cairn's own API over what the mlflow client registered: lineage both ways, alias history,
/// the audit log, model cards, and the events on the bus.
#[tokio::test]
async fn lineage_alias_history_audit_cards_and_events() {
    for db in TestDb::each() {
        let registry = Registry::start(db).await;
        registry.scenario("lineage", &[]).await;
        let client = registry.client();

        let model = client.model("fraud").await.unwrap();
        assert_eq!(model.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(model.aliases.get("champion"), Some(&2));
        let first = client.model_version("fraud", 1).await.unwrap();
        let lineage = &first.lineage;
        assert_eq!(lineage.datasets, [cairn_api::DatasetRef { dataset: "transactions".into(), version: 3 }]);
        assert_eq!(lineage.code_version.as_deref(), Some("abc123"));
        assert_eq!(lineage.feature_service.as_deref(), Some("fraud_features@2"));
        assert_eq!(lineage.experiment.as_deref(), Some("fraud-detection"));
        assert_eq!(lineage.metrics.get("auc"), Some(&0.81));
        assert_eq!(lineage.params.get("depth").map(String::as_str), Some("6"));
        assert_eq!(first.created_by, "alice");
        assert_eq!(first.signature, None, "a Python model has no ONNX signature");

        // The other direction: runs, with the model versions registered from them.
        let query =
            cairn_client::RunQuery { filter: Some("metrics.auc > 0.85".into()), ..Default::default() };
        let page = client.runs("fraud-detection", &query).await.unwrap();
        let [best] = page.runs.as_slice() else { panic!("{page:?}") };
        assert_eq!(best.metrics.get("auc"), Some(&0.86));
        assert_eq!(
            best.models.iter().map(|m| (m.model.as_str(), m.version)).collect::<Vec<_>>(),
            [("fraud", 2)]
        );
        assert_eq!(best.datasets, lineage.datasets);
        assert_eq!(
            (best.code_version.as_deref(), best.experiment.as_str()),
            (Some("abc123"), "fraud-detection")
        );
        let run = client.run(lineage.run_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(run.models.iter().map(|m| m.version).collect::<Vec<_>>(), [1]);
        assert_eq!(run.params.get("depth").map(String::as_str), Some("6"));
        let all = client.runs("fraud-detection", &cairn_client::RunQuery::default()).await.unwrap();
        assert_eq!(all.runs.len(), 2);
        assert!(all.runs[0].started_at >= all.runs[1].started_at, "newest first");
        assert_eq!(client.runs("nope", &query).await.unwrap_err().code(), Some("not_found"));
        let bad = cairn_client::RunQuery { filter: Some("metrics.auc >".into()), ..Default::default() };
        assert_eq!(client.runs("fraud-detection", &bad).await.unwrap_err().code(), Some("invalid_request"));
        assert_eq!(client.run("0123456789abcdef").await.unwrap_err().code(), Some("not_found"));

        let trained = client.trained_on("transactions", 3).await.unwrap();
        assert_eq!(
            trained.iter().map(|t| (t.model.as_str(), t.version)).collect::<Vec<_>>(),
            [("fraud", 1), ("fraud", 2)]
        );
        assert!(client.trained_on("transactions", 4).await.unwrap().is_empty());

        let now = client.alias_at("fraud", "champion", None).await.unwrap();
        assert_eq!(now.version, Some(2));
        assert_eq!(now.history.iter().map(|m| m.version).collect::<Vec<_>>(), [Some(1), Some(2)]);
        assert!(now.history.iter().all(|m| m.changed_by == "alice"));
        let then = client.alias_at("fraud", "champion", Some(now.history[0].changed_at)).await.unwrap();
        assert_eq!(then.version, Some(1), "which version was champion at the first move");
        let error = client.alias_at("fraud", "nope", None).await.unwrap_err();
        assert_eq!(error.code(), Some("not_found"));

        let audit = client.audit(Some("model_version:fraud/1"), 0, 100).await.unwrap();
        assert_eq!(audit[0].action, "create_model_version");
        assert_eq!(audit[0].actor, "alice");
        assert!(audit[0].before.is_none() && audit[0].after.as_ref().is_some_and(|a| a["version"] == 1));
        let moves = client.audit(Some("registered_model_alias:fraud@champion"), 0, 100).await.unwrap();
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[1].before.as_ref().map(|b| b["version"].clone()), Some(serde_json::json!(1)));
        assert_eq!(moves[1].after.as_ref().map(|a| a["version"].clone()), Some(serde_json::json!(2)));

        let card = client.model_card("fraud", 1, "markdown").await.unwrap();
        for expected in
            ["# fraud — version 1", "| dataset transactions | version 3 |", "abc123", "| auc | 0.81 |"]
        {
            assert!(card.contains(expected), "{expected} not in\n{card}");
        }
        let html = client.model_card("fraud", 1, "html").await.unwrap();
        assert!(html.starts_with("<!doctype html>") && html.contains("<h1>fraud — version 1</h1>"), "{html}");
        assert_eq!(client.model_card("fraud", 1, "pdf").await.unwrap_err().code(), Some("invalid_request"));

        // Two versions created and two alias moves, announced through the outbox.
        let events = registry_events(&registry).await;
        let created: Vec<_> =
            events.iter().filter(|(subject, _)| subject.ends_with("model_version_created")).collect();
        assert_eq!(created.len(), 2, "{events:?}");
        let moved: Vec<cairn_events::v1::ModelAliasChanged> = events
            .iter()
            .filter(|(subject, _)| subject.ends_with("model_alias_changed"))
            .map(|(_, payload)| prost::Message::decode(payload.as_slice()).unwrap())
            .collect();
        assert_eq!(
            moved.iter().map(|m| (m.previous_version, m.version)).collect::<Vec<_>>(),
            [(0, 1), (1, 2)]
        );
        assert!(moved.iter().all(|m| m.model == "fraud" && m.alias == "champion" && m.changed_by == "alice"));

        // The listing reads every model at once: with a second model beside `fraud`, each entry
        // is what asking for that model alone answers, its versions, aliases and tags its own;
        // MLflow's search keeps each model's latest versions its own too.
        let http = reqwest::Client::new();
        let mlflow = |path: &str| format!("{}/api/2.0/mlflow/{path}", registry.url());
        for (path, body) in [
            (
                "registered-models/create",
                json!({"name": "other", "tags": [{"key": "team", "value": "risk"}]}),
            ),
            ("model-versions/create", json!({"name": "other", "source": "s3://bucket/other"})),
            ("model-versions/create", json!({"name": "other", "source": "s3://bucket/other-2"})),
            ("registered-models/alias", json!({"name": "other", "alias": "challenger", "version": "1"})),
            ("model-versions/transition-stage", json!({"name": "other", "version": "2", "stage": "Staging"})),
        ] {
            let answer = http.post(mlflow(path)).json(&body).send().await.unwrap();
            assert!(answer.status().is_success(), "{path}: {}", answer.text().await.unwrap());
        }
        let listed = client.models().await.unwrap();
        let each = [client.model("fraud").await.unwrap(), client.model("other").await.unwrap()];
        assert_eq!(listed, each);
        let other = &each[1];
        assert_eq!(other.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(other.versions[1].aliases, ["challenger"]);
        assert_eq!(other.versions[0].stage, "Staging");
        assert_eq!(other.aliases.get("challenger"), Some(&1));
        assert_eq!(other.tags.get("team").map(String::as_str), Some("risk"));
        assert!(each[0].tags.is_empty() && each[0].versions.iter().all(|v| v.stage == "None"));
        let found: serde_json::Value =
            http.get(mlflow("registered-models/search")).send().await.unwrap().json().await.unwrap();
        let latest = |model: &serde_json::Value| {
            let versions = model["latest_versions"].as_array().unwrap();
            let of = |v: &serde_json::Value| {
                (v["name"].as_str().unwrap().to_owned(), v["version"].as_str().unwrap().to_owned())
            };
            versions.iter().map(of).collect::<Vec<_>>()
        };
        let models = found["registered_models"].as_array().unwrap();
        assert_eq!(latest(&models[0]), [("fraud".to_owned(), "2".to_owned())], "{found}");
        assert_eq!(
            latest(&models[1]),
            [("other".to_owned(), "1".to_owned()), ("other".to_owned(), "2".to_owned())],
            "{found}"
        );
    }
}

/// A version holding an ONNX model (written by the `onnx` package, logged with MLflow's ONNX
/// flavour) carries the signature read from the file — what ONNX Runtime sees in it, the
/// scenario checks — with its weights left out of the inputs and symbolic dimensions named; the
/// model card shows it.
#[tokio::test]
async fn onnx_signature_is_read_from_the_model_file() {
    use cairn_api::{OnnxDim, OnnxTensor};
    for db in TestDb::each() {
        let registry = Registry::start(db).await;
        registry.scenario("onnx_model", &[]).await;
        let version = registry.client().model_version("scorer", 1).await.unwrap();
        let signature = version.signature.expect("the version's signature");
        let tensor = |name: &str, second: OnnxDim| OnnxTensor {
            name: name.into(),
            r#type: "tensor(float)".into(),
            shape: Some(vec![OnnxDim::Named("batch".into()), second]),
        };
        assert_eq!(signature.inputs, [tensor("features", OnnxDim::Fixed(4))]);
        assert_eq!(signature.outputs, [tensor("score", OnnxDim::Fixed(1))]);
        assert_eq!(signature.opset, Some(17));
        assert_eq!(signature.producer.as_deref(), Some("cairn-tests 1.0"));
        let card = registry.client().model_card("scorer", 1, "markdown").await.unwrap();
        assert!(card.contains("| features | tensor(float) [batch, 4] |"), "{card}");
        assert!(card.contains("| score | tensor(float) [batch, 1] |"), "{card}");
    }
}

/// The subjects and payloads stored in the registry's stream, waiting for the outbox relay.
async fn registry_events(registry: &Registry) -> Vec<(String, Vec<u8>)> {
    let client = async_nats::connect(registry.config.nats.url.as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut stream = jetstream.get_stream("CAIRN_REGISTRY").await.unwrap();
        let count = stream.info().await.unwrap().state.messages;
        if count >= 4 || std::time::Instant::now() > deadline {
            let mut events = Vec::new();
            for sequence in 1..=count {
                let message = stream.get_raw_message(sequence).await.unwrap();
                events.push((message.subject.to_string(), message.payload.to_vec()));
            }
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// With tokens configured, everyone authenticates; a protected alias moves only when an approver
/// other than the requester approves, and the MLflow API cannot move it at all.
#[tokio::test]
async fn protected_aliases_move_only_when_another_approver_approves() {
    for db in TestDb::each() {
        let mut registry = Registry::start_with(
            db,
            &[
                ("CAIRN__REGISTRY__TOKENS__ALICE", "alice-token"),
                ("CAIRN__REGISTRY__TOKENS__BOB", "bob-token"),
                ("CAIRN__REGISTRY__TOKENS__CAROL", "carol-token"),
                ("CAIRN__REGISTRY__APPROVERS", "bob,carol"),
            ],
        )
        .await;
        registry.password = "alice-token".into();
        let url = registry.url();
        let as_user = |user: &str| {
            cairn_client::Client::new(url.clone()).with_credentials(user, format!("{user}-token"))
        };
        // Nobody gets in without a valid token; health stays open.
        let anonymous = registry.client();
        assert_eq!(anonymous.models().await.unwrap_err().code(), Some("unauthorized"));
        let wrong = registry.client().with_credentials("alice", "bob-token");
        assert_eq!(wrong.models().await.unwrap_err().code(), Some("unauthorized"));
        let raw = reqwest::get(format!("{}/api/2.0/mlflow/experiments/get?experiment_id=0", registry.url()))
            .await
            .unwrap();
        assert_eq!(raw.status(), 401);
        assert_eq!(raw.json::<serde_json::Value>().await.unwrap()["error_code"], "UNAUTHENTICATED");
        let bearer = reqwest::Client::new()
            .get(format!("{}/api/2.0/mlflow/experiments/get?experiment_id=0", registry.url()))
            .bearer_auth("carol-token")
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), 200);
        assert!(reqwest::get(format!("{}/healthz", registry.url())).await.unwrap().status().is_success());

        registry.scenario("protected_setup", &[]).await;
        let forbidden = as_user("alice").protect_alias("pricing", "champion", true).await.unwrap_err();
        assert_eq!(forbidden.code(), Some("forbidden"), "alice is no approver");
        as_user("carol").protect_alias("pricing", "champion", true).await.unwrap();
        registry.scenario("protected_denied", &[]).await;

        let asked = as_user("bob")
            .request_alias_move(
                "pricing",
                "champion",
                &cairn_api::NewAliasRequest { version: 2, reason: "better AUC".into() },
            )
            .await
            .unwrap();
        assert_eq!((asked.state.as_str(), asked.requested_by.as_str()), ("pending", "bob"));
        let decision = cairn_api::Decision::default();
        assert_eq!(
            as_user("bob").decide(&asked.id, true, &decision).await.unwrap_err().code(),
            Some("forbidden"),
            "not one's own"
        );
        assert_eq!(
            as_user("alice").decide(&asked.id, true, &decision).await.unwrap_err().code(),
            Some("forbidden"),
            "approvers only"
        );
        assert_eq!(as_user("carol").alias_at("pricing", "champion", None).await.unwrap().version, Some(1));
        let approved = as_user("carol")
            .decide(&asked.id, true, &cairn_api::Decision { reason: "ok".into() })
            .await
            .unwrap();
        assert_eq!((approved.state.as_str(), approved.decided_by.as_deref()), ("approved", Some("carol")));
        let now = as_user("alice").alias_at("pricing", "champion", None).await.unwrap();
        assert_eq!(now.version, Some(2));
        assert_eq!(now.history.last().map(|m| m.changed_by.as_str()), Some("carol"));
        assert_eq!(
            as_user("carol").decide(&asked.id, false, &decision).await.unwrap_err().code(),
            Some("conflict")
        );
        assert!(as_user("alice").approvals(Some("pending")).await.unwrap().is_empty());

        let trail =
            as_user("alice").audit(Some(&format!("alias_request:{}", asked.id)), 0, 10).await.unwrap();
        assert_eq!(
            trail.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect::<Vec<_>>(),
            [("request_alias_move", "bob"), ("approve_alias_move", "carol")]
        );
        let events = registry_events(&registry).await;
        assert!(events.iter().any(|(subject, _)| subject.ends_with("approval_requested")), "{events:?}");
        assert!(events.iter().any(|(subject, _)| subject.ends_with("approval_decided")), "{events:?}");
    }
}

/// The registry binary killed with SIGKILL right after acknowledging, then restarted on the same
/// database and files: everything acknowledged is there.
#[tokio::test]
async fn kill_9_loses_nothing_acknowledged() {
    for db in TestDb::each() {
        let nats = NatsServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let spawn = || {
            cairn_testkit::serve("registry")
                .env("CAIRN__NATS__URL", nats.url())
                .env("CAIRN__DATABASE__URL", db.url())
                .env("CAIRN__SERVICES__REGISTRY__PORT", port.to_string())
                .env("CAIRN__DATA_DIR", dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let ready = |url: String| async move {
            let started = std::time::Instant::now();
            while !reqwest::get(format!("{url}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
                assert!(started.elapsed() < std::time::Duration::from_secs(30), "not ready");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        let mut child = spawn();
        ready(url.clone()).await;
        let run_id = scenario(&url, "unused", "create_run", &[]).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let mut child = spawn();
        ready(url.clone()).await;
        scenario(&url, "unused", "check_run", &[&run_id]).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
