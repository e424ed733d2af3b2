//! The prediction log watched: each endpoint's model version cut into windows and judged against
//! its training data, drift found, announced and answered by retraining, and a restart of the
//! monitor mid-window counting no prediction twice and missing none.

use cairn_api::{EndpointMonitor, EndpointSpec, NewPipelineRun, RunState};
use cairn_client::Client;
use cairn_domain::ServiceKind;
use serde_json::{Value, json};

use crate::Platform;
use crate::training::{CHURN, customers_csv, finished, spec, with_customers};

const SERVICES: [ServiceKind; 6] = [
    ServiceKind::Ingestion,
    ServiceKind::FeatureStore,
    ServiceKind::Registry,
    ServiceKind::Training,
    ServiceKind::Serving,
    ServiceKind::Monitor,
];

/// Customers as records the model takes, drawn as the training data was; `shift` moves tenure
/// and spend (a month later, a new market).
fn records(rows: u64, shift: f64) -> Vec<Value> {
    customers_csv(rows)
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let number = |text: &str| text.parse::<f64>().ok();
            json!({
                "tenure": number(fields[2]).map(|tenure| tenure + shift),
                "spend": number(fields[3]).map(|spend| spend + 3.0 * shift),
                "visits": fields[4].parse::<i64>().unwrap(),
            })
        })
        .collect()
}

/// Sends `records` twenty to a request.
async fn predict(serving: &Client, records: &[Value]) {
    for chunk in records.chunks(20) {
        let _: Value =
            serving.post("/v1/endpoints/churn/predict", &json!({ "records": chunk })).await.unwrap();
    }
}

async fn seen(monitor: &Client, what: &str, check: impl Fn(&EndpointMonitor) -> bool) -> EndpointMonitor {
    crate::eventually(what, || async {
        monitor.endpoint_monitor("churn", 100).await.ok().filter(|seen| check(seen))
    })
    .await
}

/// The pipeline the tests' champion comes from: CHURN with one trial.
fn champion_spec() -> String {
    CHURN.replace("trials = 3", "trials = 1")
}

/// The platform with `settings`, a training worker, the customers, `churn@1` trained by the
/// pipeline `pipeline` (its `champion`), and endpoint `churn` following `champion`.
async fn served(
    settings: &[(&str, &str)],
    pipeline: &str,
) -> (Platform, cairn_training::RunningWorker, cairn_api::PipelineRun) {
    let platform = Platform::start_with(crate::Store::Sqlite, &SERVICES, settings).await;
    let worker = cairn_training::work(platform.config.clone()).await.unwrap();
    with_customers(&platform).await;
    let training = platform.client(ServiceKind::Training);
    training.apply_pipeline(&spec(pipeline)).await.unwrap();
    let run = training.start_pipeline_run("churn", &NewPipelineRun::default()).await.unwrap();
    let run = finished(&training, &run.id).await;
    assert_eq!(run.state, RunState::Succeeded, "{run:#?}");
    let serving = platform.client(ServiceKind::Serving);
    serving.put_endpoint("churn", &EndpointSpec::alias("churn", "champion")).await.unwrap();
    crate::eventually("the endpoint to serve", || async {
        serving.endpoint("churn").await.ok().filter(|endpoint| endpoint.serving == Some(1)).map(drop)
    })
    .await;
    (platform, worker, run)
}

#[tokio::test]
async fn drift_on_the_prediction_log_is_found_announced_and_retrained_on() {
    let settings = [
        ("CAIRN__MONITOR__WINDOW_PREDICTIONS", "400"),
        // These customers' visits sit 0.12 from the training data's by Wasserstein (scipy
        // agrees) in every window: this endpoint holds visits to a looser threshold.
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEATURES__VISITS__THRESHOLD", "0.2"),
    ];
    let pipeline = champion_spec() + "\n    [[triggers]]\n    kind = \"drift\"\n";
    let (mut platform, worker, _) = served(&settings, &pipeline).await;
    let (training, serving) = (platform.client(ServiceKind::Training), platform.client(ServiceKind::Serving));
    predict(&serving, &records(1, 0.0)).await;

    // Traffic like the training data: a window of 400 rows (the one above and 399 more), judged
    // against customers@1, no drift.
    let monitor = platform.client(ServiceKind::Monitor);
    predict(&serving, &records(399, 0.0)).await;
    let first = seen(&monitor, "the first window", |seen| !seen.windows.is_empty()).await;
    let window = &first.windows[0];
    assert_eq!((window.number, window.predictions, window.requests), (1, 400, 21), "{window:#?}");
    assert_eq!(window.reference.as_deref(), Some("customers@1"));
    let judged: Vec<&str> = window.features.iter().map(|feature| feature.column.as_str()).collect();
    assert_eq!(judged, ["tenure", "spend", "visits"], "{window:#?}");
    assert!(window.features.iter().all(|feature| feature.reference_rows > 1000), "{window:#?}");
    // Prediction drift: the champion's scores here against its scores on its 1 500 training rows.
    let prediction = window.prediction.as_ref().unwrap_or_else(|| panic!("no prediction drift: {window:#?}"));
    assert_eq!(
        (prediction.kind.as_str(), prediction.reference_rows, prediction.current_rows),
        ("numeric", 1500, 400)
    );
    assert!(!window.dataset_drift, "the same distribution does not drift: {window:#?}");
    assert!(window.features.iter().all(|feature| !feature.drifted), "{window:#?}");
    let visits = &window.features[2];
    assert_eq!((visits.method.as_str(), visits.threshold), ("wasserstein", 0.2));
    // scipy.stats.wasserstein_distance(reference, window) / numpy.std(reference) on the same rows.
    assert!((visits.value - 0.123_734_508_949_944).abs() < 1e-9, "{visits:#?}");
    assert_eq!(first.open[0].number, 2);

    // The monitor restarted mid-window: the 300 rows it had counted are neither lost nor
    // counted again; the window closes at exactly 400.
    predict(&serving, &records(300, 0.0)).await;
    seen(&monitor, "300 rows in the open window", |seen| {
        seen.open.first().is_some_and(|open| open.predictions == 300)
    })
    .await;
    platform.restart(ServiceKind::Monitor).await;
    let monitor = platform.client(ServiceKind::Monitor);
    predict(&serving, &records(100, 0.0)).await;
    let second = seen(&monitor, "the second window", |seen| seen.windows.len() == 2).await;
    assert_eq!((second.windows[0].number, second.windows[0].predictions), (2, 400), "{second:#?}");
    assert_eq!(second.open[0].predictions, 0);

    // Shifted traffic: tenure and spend drift, the window drifts, the event names them, and
    // the pipeline's drift trigger retrains.
    predict(&serving, &records(400, 40.0)).await;
    let third = seen(&monitor, "the drifted window", |seen| seen.windows.len() == 3).await;
    let window = &third.windows[0];
    assert!(window.dataset_drift, "{window:#?}");
    let drifted: Vec<&str> = window
        .features
        .iter()
        .filter(|feature| feature.drifted)
        .map(|feature| feature.column.as_str())
        .collect();
    assert_eq!(drifted, ["tenure", "spend"], "{window:#?}");
    let event =
        crate::last_event(&platform, |event: &cairn_events::v1::DriftDetected| event.window_id == window.id)
            .await;
    assert_eq!((event.deployment.as_str(), event.model.as_str(), event.version), ("churn", "churn", 1));
    assert_eq!(event.drifted_features, ["tenure", "spend"]);
    assert_eq!(event.predictions, 400);
    let retrain = crate::eventually("a run started by the drift", || async {
        let runs = training.pipeline_runs(Some("churn"), 10).await.unwrap();
        runs.into_iter().find(|run| run.trigger.starts_with("drift:churn"))
    })
    .await;
    assert_eq!(finished(&training, &retrain.id).await.state, RunState::Succeeded);

    // Alerting scrapes the same verdicts.
    let metrics = reqwest::get(format!("{}/metrics", platform.service(ServiceKind::Monitor).url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|line| {
            line.starts_with("cairn_monitor_feature_drifted{") && line.contains("feature=\"tenure\"")
        })
        .unwrap_or_else(|| panic!("no tenure drift metric in:\n{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    assert!(
        // Since the restart: the second window's last 100 rows and the third's 400.
        metrics.contains(
            "cairn_monitor_predictions_total{endpoint=\"churn\",model=\"churn\",version=\"1\",service=\"monitor\"} 500"
        ),
        "{}",
        metrics.lines().filter(|line| line.contains("monitor_")).collect::<Vec<_>>().join("\n")
    );
    worker.stop().await;
    platform.stop().await;
}

/// Ground truth arrives late as a dataset keyed by request id: each window's live metrics and
/// KPIs come from the labels it holds, a window that falls behind the holdout is announced once,
/// and labels naming no logged request are counted, not fatal.
#[tokio::test]
async fn late_labels_measure_each_window_and_report_degradation() {
    let settings = [
        ("CAIRN__MONITOR__WINDOW_PREDICTIONS", "200"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__DATASET", "churn_labels"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__LABEL", "churned"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__KPIS", "spend"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__SLICES", "region"),
    ];
    let (platform, worker, run) = served(&settings, &champion_spec()).await;
    let serving = platform.client(ServiceKind::Serving);

    // 300 customers, one request each, with our own request ids.
    let csv = customers_csv(300);
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|line| line.split(',').collect()).collect();
    for (i, (record, fields)) in records(300, 0.0).iter().zip(&rows).enumerate() {
        let body = json!({"id": format!("r{i}"), "records": [record]});
        crate::eventually("an answer", || async {
            serving.post::<_, Value>("/v1/endpoints/churn/predict", &body).await.ok()
        })
        .await;
        assert_eq!(fields[0], i.to_string());
    }
    let monitor = platform.client(ServiceKind::Monitor);
    seen(&monitor, "the first window and 100 rows of the second", |seen| {
        seen.windows.len() == 1 && seen.open.first().is_some_and(|open| open.predictions == 100)
    })
    .await;

    // The labels: true for the first window's customers, inverted for the second's (the world
    // changed), and ten for requests never made.
    let ingestion = platform.client(ServiceKind::Ingestion);
    let labels: cairn_api::NewDataset = serde_json::from_value(json!({
        "name": "churn_labels",
        "schema": {
            "columns": [
                {"name": "request_id", "type": "string", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "churned", "type": "int64", "nullable": false},
                {"name": "spend", "type": "float64"},
                {"name": "region", "type": "string"}
            ],
            "event_timestamp": "ts"
        }
    }))
    .unwrap();
    ingestion.create_dataset(&labels).await.unwrap();
    let mut body = String::from("request_id,ts,churned,spend,region\n");
    let now = cairn_domain::Timestamp::now();
    let (mut spend_first, mut positives_first) = (0.0, 0);
    for (i, fields) in rows.iter().enumerate() {
        let churned: i64 = fields[6].parse().unwrap();
        let label = if i < 200 { churned } else { 1 - churned };
        if i < 200 {
            spend_first += fields[3].parse::<f64>().unwrap_or(0.0);
            positives_first += churned;
        }
        body.push_str(&format!("r{i},{now},{label},{},{}\n", fields[3], fields[5]));
    }
    for ghost in 0..10 {
        body.push_str(&format!("ghost-{ghost},{now},1,5.0,north\n"));
    }
    ingestion.ingest("churn_labels", "text/csv", body).await.unwrap();

    let measured = seen(&monitor, "both windows measured", |seen| seen.performance.len() == 2).await;
    assert_eq!(
        (measured.feedback.rows, measured.feedback.matched, measured.feedback.unknown),
        (310, 300, 10),
        "{:#?}",
        measured.feedback
    );
    let window = |number: i64| measured.performance.iter().find(|window| window.number == number).unwrap();
    let (first, second) = (window(1), window(2));
    assert_eq!((first.labelled, second.labelled), (200, 100));
    assert_eq!((first.metric.as_str(), first.holdout), ("roc_auc", run.metrics.get("roc_auc").copied()));
    assert!(!first.degraded && first.live.unwrap() > 0.75, "{first:#?}");
    assert!(second.degraded && second.live.unwrap() < 0.5, "{second:#?}");
    assert!((first.kpis["spend"] - spend_first).abs() < 1e-6, "{first:#?}");
    assert!(first.kpis["spend_caught"] > 0.0 && first.kpis["spend_caught"] <= first.kpis["spend_positive"]);
    assert!(first.kpis["spend_positive"] < first.kpis["spend"]);
    // Each region's customers of the first window, measured apart.
    let regions: Vec<(&str, u64)> =
        first.slices.iter().map(|slice| (slice.value.as_str(), slice.labelled)).collect();
    assert_eq!(regions.len(), 2, "{:#?}", first.slices);
    assert_eq!(regions.iter().map(|(_, labelled)| labelled).sum::<u64>(), 200);
    assert!(first.slices.iter().all(|slice| slice.column == "region" && slice.live.is_some()));
    assert!(positives_first > 0);
    let event = crate::last_event(&platform, |event: &cairn_events::v1::PerformanceDegraded| {
        event.window_id == second.window_id
    })
    .await;
    assert_eq!((event.metric.as_str(), event.labelled), ("roc_auc", 100));
    assert!(event.live < event.holdout * 0.95);
    worker.stop().await;
    platform.stop().await;
}

/// Customers of a changed world, ids from `first`, a few days after the training data: tenure
/// 30 longer, spend 50 higher, and churn now follows spend (above 170, with 10 % noise) rather
/// than the old rule.
fn changed_world(rows: u64, first: u64, seed: u64) -> Vec<(u64, Value, i64)> {
    let mut state = seed;
    let mut unit = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (first..first + rows)
        .map(|id| {
            let tenure = 30.0 + unit() * 60.0;
            let spend = 50.0 + unit() * 200.0;
            let visits = (unit() * 20.0) as i64;
            let churned = i64::from((spend > 170.0) != (unit() < 0.1));
            let region = if unit() < 0.5 { "north" } else { "south" };
            (id, json!({"tenure": tenure, "spend": spend, "visits": visits, "region": region}), churned)
        })
        .collect()
}

fn customers_of(rows: &[(u64, Value, i64)]) -> String {
    let start = cairn_domain::Timestamp::now().as_micros() - 5 * 86_400_000_000;
    let mut body = String::from("id,ts,tenure,spend,visits,region,churned\n");
    for (id, record, churned) in rows {
        let ts = cairn_domain::Timestamp::from_micros(start + (*id as i64) * 60_000_000).unwrap();
        body.push_str(&format!(
            "{id},{ts},{:.3},{:.3},{},{},{churned}\n",
            record["tenure"].as_f64().unwrap(),
            record["spend"].as_f64().unwrap(),
            record["visits"],
            record["region"].as_str().unwrap()
        ));
    }
    body
}

fn features(record: &Value) -> Value {
    json!({"tenure": record["tenure"], "spend": record["spend"], "visits": record["visits"]})
}

async fn history(monitor: &Client, until: &str) -> Vec<cairn_api::LoopEvent> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        let events = monitor.loop_history("churn", 1000).await.unwrap_or_default();
        if events.iter().any(|event| event.step == until) {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "no `{until}` in the loop's history: {events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn loop_phase(monitor: &Client, phase: &str) -> cairn_api::LoopStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Ok(status) = monitor.loop_status("churn").await {
            if status.phase == phase {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let events = monitor.loop_history("churn", 1000).await.unwrap_or_default();
                panic!("the loop is not `{phase}`: {status:#?}\n{events:#?}");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The whole loop: the world changes, the monitor sees the drift, the loop retrains on the new
/// data, the challenger beats the champion at the gate, goes out as a canary, holds on live
/// labels against the champion's, and is promoted — through a restart of the monitor mid-cycle.
#[tokio::test]
async fn drift_retrains_and_a_better_challenger_is_promoted_through_a_canary() {
    let settings = [
        ("CAIRN__MONITOR__WINDOW_PREDICTIONS", "200"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__DATASET", "churn_labels"),
        ("CAIRN__MONITOR__ENDPOINTS__CHURN__FEEDBACK__LABEL", "churned"),
        ("CAIRN__REGISTRY__APPROVERS", "carol"),
    ];
    let champion = champion_spec();
    let (mut platform, worker, _) = served(&settings, &champion).await;
    // Starting a canary (moving `canary`) and promoting (moving `champion`) take an approver.
    let carol = platform.client(ServiceKind::Registry).with_credentials("carol", "-");
    carol.protect_alias("churn", "champion", true).await.unwrap();
    carol.protect_alias("churn", "canary", true).await.unwrap();
    let (training, serving) = (platform.client(ServiceKind::Training), platform.client(ServiceKind::Serving));
    // From now on the pipeline proposes challengers: it must beat the champion on fresh data.
    let challenger = champion.replace(r#"alias = "champion""#, r#"alias = "challenger""#).replace(
        r#"max_bytes = 10000000 }]"#,
        r#"max_bytes = 10000000 }, { kind = "beat", metric = "roc_auc", alias = "champion" }]"#,
    );
    training.apply_pipeline(&spec(&challenger)).await.unwrap();
    let ingestion = platform.client(ServiceKind::Ingestion);
    ingestion.ingest("customers", "text/csv", customers_of(&changed_world(1500, 1500, 7))).await.unwrap();
    let monitor = platform.client(ServiceKind::Monitor);
    let policy = json!({"pipeline": "churn", "on": ["drift"], "canary_weight": 0.5,
                        "canary_predictions": 100, "canary_labels": 30, "cooldown_secs": 3600});
    let set = monitor.put_loop("churn", &serde_json::from_value(policy).unwrap()).await.unwrap();
    assert_eq!(set.phase, "idle");

    // The changed world's traffic drifts; the loop retrains.
    for (_, record, _) in changed_world(200, 10_000, 11) {
        crate::eventually("an answer", || async {
            serving
                .post::<_, Value>("/v1/endpoints/churn/predict", &json!({"records": [features(&record)]}))
                .await
                .ok()
        })
        .await;
    }
    loop_phase(&monitor, "training").await;
    platform.restart(ServiceKind::Monitor).await;
    let monitor = platform.client(ServiceKind::Monitor);
    loop_phase(&monitor, "awaiting_approval").await;
    assert!(serving.endpoint("churn").await.unwrap().spec.canary.is_none(), "no canary before the approval");
    let request = carol.approvals(Some("pending")).await.unwrap().into_iter().next().unwrap();
    assert_eq!((request.alias.as_str(), request.version), ("canary", 2));
    carol.decide(&request.id, true, &cairn_api::Decision { reason: "go".into() }).await.unwrap();
    let status = loop_phase(&monitor, "canary").await;
    assert_eq!((status.champion, status.challenger), (Some(1), Some(2)), "{status:#?}");
    let endpoint = serving.endpoint("churn").await.unwrap();
    assert_eq!(endpoint.spec.canary.as_ref().map(|canary| canary.version), Some(2));

    // Canary traffic, then its labels: both versions answered, both judged on the same period.
    let traffic = changed_world(300, 20_000, 13);
    for (id, record, _) in &traffic {
        let body = json!({"id": format!("c{id}"), "records": [features(record)]});
        crate::eventually("an answer", || async {
            serving.post::<_, Value>("/v1/endpoints/churn/predict", &body).await.ok()
        })
        .await;
    }
    let labels: cairn_api::NewDataset = serde_json::from_value(json!({
        "name": "churn_labels",
        "schema": {"columns": [{"name": "request_id", "type": "string", "nullable": false},
                               {"name": "ts", "type": "timestamp", "nullable": false},
                               {"name": "churned", "type": "int64", "nullable": false}],
                   "event_timestamp": "ts"}
    }))
    .unwrap();
    ingestion.create_dataset(&labels).await.unwrap();
    let now = cairn_domain::Timestamp::now();
    let mut body = String::from("request_id,ts,churned\n");
    for (id, _, churned) in &traffic {
        body.push_str(&format!("c{id},{now},{churned}\n"));
    }
    ingestion.ingest("churn_labels", "text/csv", body).await.unwrap();

    // The canary holds; the protected alias waits for carol, the canary serving meanwhile.
    let waiting = loop_phase(&monitor, "awaiting_approval").await;
    assert_eq!(serving.endpoint("churn").await.unwrap().spec.canary.map(|canary| canary.version), Some(2));
    let request = carol.approvals(Some("pending")).await.unwrap().into_iter().next().unwrap();
    assert_eq!((request.alias.as_str(), request.version, waiting.challenger), ("champion", 2, Some(2)));
    carol
        .decide(&request.id, true, &cairn_api::Decision { reason: "the canary holds".into() })
        .await
        .unwrap();
    let events = history(&monitor, "promoted").await;
    let steps: Vec<&str> =
        events.iter().map(|event| event.step.as_str()).filter(|step| *step != "skipped").collect();
    assert_eq!(steps, ["signal", "retrain", "approval", "canary", "approval", "promoted"], "{events:#?}");
    assert!(events.last().unwrap().detail.contains("approved by carol"), "{events:#?}");
    // The judgement's numbers are on the step that asked for the promotion's approval.
    let promoted = events.iter().rev().find(|event| event.step == "approval").unwrap();
    assert!(
        promoted.numbers["canary_roc_auc"] > promoted.numbers["champion_roc_auc"],
        "the challenger is better on the changed world's labels: {promoted:#?}"
    );
    assert!(events[0].detail.starts_with("drift: window churn:churn@1#"), "{:#?}", events[0]);
    let registry = platform.client(ServiceKind::Registry);
    assert_eq!(registry.model("churn").await.unwrap().aliases.get("champion"), Some(&2));
    let endpoint = crate::eventually("the endpoint to serve the new champion alone", || async {
        let endpoint = serving.endpoint("churn").await.ok()?;
        (endpoint.serving == Some(2) && endpoint.spec.canary.is_none()).then_some(endpoint)
    })
    .await;
    assert_eq!(endpoint.serving_canary, None);
    let status = monitor.loop_status("churn").await.unwrap();
    assert!(status.phase == "idle" && status.cooldown_until.is_some(), "{status:#?}");

    // The report shows it all, and renders in a browser without a script error.
    let html = monitor.endpoint_report("churn").await.unwrap();
    let (dom, console) = in_chromium(&html, platform.dir.path()).await;
    assert!(!console.contains("Uncaught"), "script errors:\n{console}");
    let charts = dom.split("data-charts=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("0");
    // Three features of v1's latest judged window (v2's canary share filled no window of 200),
    // drift over time, live metrics over time, the loop's decisions.
    assert!(charts.parse::<usize>().unwrap() >= 6, "the script counted {charts} charts");
    let distributions = dom.matches("class=\"chart distribution\"").count();
    assert!(distributions >= 3, "tenure, spend and visits: {distributions}");
    if let Ok(keep) = std::env::var("CAIRN_TEST_KEEP_REPORT") {
        std::fs::write(keep, &html).unwrap();
    }
    for chart in ["chart drift-timeline", "chart metrics-timeline", "chart loop-timeline"] {
        assert!(dom.contains(chart), "{chart} missing");
    }
    assert!(dom.contains("data-feature=\"tenure\"") && dom.contains("promoted"), "{dom}");
    worker.stop().await;
    platform.stop().await;
}

/// `html` opened in headless Chromium: the DOM after its script ran, and the browser's console.
async fn in_chromium(html: &str, dir: &std::path::Path) -> (String, String) {
    let file = dir.join("report.html");
    std::fs::write(&file, html).unwrap();
    let chromium = std::env::var("CAIRN_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let output = tokio::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", dir.join("chromium").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .await
        .unwrap_or_else(|error| panic!("{chromium} (infra/local/setup --test installs it): {error}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A webhook receiver: every POST's headers and body; the first is answered 503 (the monitor
/// must try again), the rest 200.
async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&received);
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            let (head, body) = loop {
                let Ok(read) = socket.read(&mut buffer).await else { break (String::new(), Vec::new()) };
                if read == 0 {
                    break (String::new(), Vec::new());
                }
                request.extend_from_slice(&buffer[..read]);
                let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    break (head, request[end + 4..end + 4 + length].to_vec());
                }
            };
            let status = if first { "503 Service Unavailable" } else { "200 OK" };
            let _ = socket
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
                )
                .await;
            if !first {
                seen.lock().unwrap().push((head, body));
            }
            first = false;
        }
    });
    (url, received)
}

/// A challenger that cannot beat the champion is rejected at the gate, and the champion keeps
/// answering every request throughout. Each step reaches a webhook, signed, retried after a
/// failure.
#[tokio::test]
async fn a_worse_challenger_is_rejected_and_the_champion_never_stops_serving() {
    let (hook, received) = receiver().await;
    let settings = [
        ("CAIRN__MONITOR__WINDOW_PREDICTIONS", "200"),
        ("CAIRN__MONITOR__WEBHOOKS", hook.as_str()),
        ("CAIRN__MONITOR__WEBHOOK_SECRET", "s3cret"),
    ];
    let champion = champion_spec();
    let (platform, worker, _) = served(&settings, &champion).await;
    let (training, serving) = (platform.client(ServiceKind::Training), platform.client(ServiceKind::Serving));
    // A stump: one shallow tree cannot beat the champion.
    let weak = champion
        .replace(r#"alias = "champion""#, r#"alias = "challenger""#)
        .replace("num_iterations = 40", "num_iterations = 1")
        .replace(
            r#"max_bytes = 10000000 }]"#,
            r#"max_bytes = 10000000 }, { kind = "beat", metric = "roc_auc", alias = "champion" }]"#,
        )
        .replace(
            "space = { num_leaves = { int = [4, 16] }, learning_rate = { log_uniform = [0.05, 0.3] } }",
            "space = { num_leaves = { int = [2, 2] } }",
        );
    training.apply_pipeline(&spec(&weak)).await.unwrap();
    let monitor = platform.client(ServiceKind::Monitor);
    monitor.put_loop("churn", &serde_json::from_value(json!({"pipeline": "churn"})).unwrap()).await.unwrap();

    // Drifted traffic, sent until the cycle is over: not one request fails, all answered by v1.
    let mut answered = 0;
    let mut shifted = records(400, 40.0).into_iter().cycle();
    let events = loop {
        let record = shifted.next().unwrap();
        let answer: Value =
            serving.post("/v1/endpoints/churn/predict", &json!({"records": [record]})).await.unwrap();
        assert_eq!(answer["version"], 1, "{answer}");
        answered += 1;
        let events = monitor.loop_history("churn", 1000).await.unwrap_or_default();
        if events.iter().any(|event| event.step == "rejected") {
            break events;
        }
        assert!(answered < 20_000, "no decision: {events:#?}");
    };
    let steps: Vec<&str> =
        events.iter().map(|event| event.step.as_str()).filter(|step| *step != "skipped").collect();
    assert_eq!(steps, ["signal", "retrain", "rejected"], "{events:#?}");
    let rejected = &events.iter().find(|event| event.step == "rejected").unwrap().detail;
    assert!(rejected.contains("gates failed") && rejected.contains("champion"), "{rejected}");
    let registry = platform.client(ServiceKind::Registry);
    assert_eq!(registry.model("churn").await.unwrap().aliases.get("champion"), Some(&1));
    assert!(serving.endpoint("churn").await.unwrap().spec.canary.is_none());

    // The webhook got the drift and each decision (after its first answer, a 503), signed as
    // Python's hmac signs.
    let hooks = crate::eventually("the rejection's webhook", || async {
        let hooks = received.lock().unwrap().clone();
        hooks
            .iter()
            .any(|(_, body)| String::from_utf8_lossy(body).contains("\"step\":\"rejected\""))
            .then_some(hooks)
    })
    .await;
    let kinds: Vec<String> = hooks
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"drift_detected".to_owned()) && kinds.contains(&"loop_decided".to_owned()),
        "{kinds:?}"
    );
    for (head, body) in &hooks {
        let signature = head.lines().find_map(|line| line.strip_prefix("cairn-signature: sha256=")).unwrap();
        let script =
            "import hmac, sys; print(hmac.new(b's3cret', sys.stdin.buffer.read(), 'sha256').hexdigest())";
        let output = std::process::Command::new(cairn_testkit::python())
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(body)?;
                child.wait_with_output()
            })
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), signature.trim());
        assert!(head.contains("cairn-event-id: "), "{head}");
    }
    worker.stop().await;
    platform.stop().await;
}

/// A loop also starts on new data and on a schedule; one cycle at a time (a signal during a
/// cycle is recorded as skipped, with why); a policy that cannot work is refused naming the field.
#[tokio::test]
async fn new_data_and_schedules_start_cycles_one_at_a_time() {
    let (platform, worker, _) = served(&[], &champion_spec()).await;
    let (training, monitor) = (platform.client(ServiceKind::Training), platform.client(ServiceKind::Monitor));
    let challenger = champion_spec().replace(r#"alias = "champion""#, r#"alias = "challenger""#);
    training.apply_pipeline(&spec(&challenger)).await.unwrap();
    let policy = |value: Value| -> cairn_api::LoopPolicy { serde_json::from_value(value).unwrap() };

    for (wrong, field) in [
        (json!({"pipeline": "churn", "on": ["new_data"]}), "data"),
        (json!({"pipeline": "churn", "on": ["schedule"]}), "every_secs"),
        (json!({"pipeline": "churn", "canary_weight": 1.5}), "canary_weight"),
        (json!({"pipeline": "nope"}), "pipeline"),
        (json!({"pipeline": "churn", "on": ["sunrise"]}), "on"),
    ] {
        let refused = monitor.put_loop("churn", &policy(wrong)).await.unwrap_err();
        assert_eq!(refused.status(), Some(422), "{refused}");
        assert!(refused.to_string().contains(field), "{field}: {refused}");
    }

    let on_data = policy(json!({"pipeline": "churn", "on": ["new_data"], "data": "customers"}));
    monitor.put_loop("churn", &on_data).await.unwrap();
    let ingestion = platform.client(ServiceKind::Ingestion);
    ingestion.ingest("customers", "text/csv", customers_csv(300)).await.unwrap();
    let events = history(&monitor, "retrain").await;
    assert_eq!(events[0].detail, "new data: customers@2", "{events:#?}");
    // Another version while that cycle runs: recorded, not acted on.
    ingestion.ingest("customers", "text/csv", customers_csv(200)).await.unwrap();
    let events = history(&monitor, "skipped").await;
    let skipped = events.iter().find(|event| event.step == "skipped").unwrap();
    assert!(skipped.detail.starts_with("new data: customers@3 — not acted on: cycle 1 is"), "{skipped:#?}");

    let scheduled = policy(json!({"pipeline": "churn", "on": ["schedule"], "every_secs": 1}));
    monitor.put_loop("nightly", &scheduled).await.unwrap();
    let started = crate::eventually("the schedule's cycle", || async {
        let events = monitor.loop_history("nightly", 100).await.ok()?;
        events.iter().any(|event| event.step == "retrain").then_some(events)
    })
    .await;
    assert_eq!(started[0].detail, "schedule: every 1 s");
    let loops = monitor.loops().await.unwrap();
    assert_eq!(loops.iter().map(|status| status.endpoint.as_str()).collect::<Vec<_>>(), ["churn", "nightly"]);
    worker.stop().await;
    platform.stop().await;
}

/// A quiet endpoint's window closes by time (`window_secs` after its first prediction) once it
/// holds `min_window_predictions`, and fewer wait for more.
#[tokio::test]
async fn a_window_closes_by_time_once_it_holds_enough() {
    let settings = [("CAIRN__MONITOR__WINDOW_SECS", "1"), ("CAIRN__MONITOR__MIN_WINDOW_PREDICTIONS", "30")];
    let (platform, worker, _) = served(&settings, &champion_spec()).await;
    let (serving, monitor) = (platform.client(ServiceKind::Serving), platform.client(ServiceKind::Monitor));
    predict(&serving, &records(20, 0.0)).await;
    seen(&monitor, "20 rows in the open window", |seen| {
        seen.open.first().is_some_and(|open| open.predictions == 20)
    })
    .await;
    // Past its period with 20 of the 30 it needs: still open (and the next request, of 15 rows,
    // joins it: a window closes between requests, by the clock's look every few seconds).
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let waiting = monitor.endpoint_monitor("churn", 10).await.unwrap();
    assert!(waiting.windows.is_empty(), "{waiting:#?}");
    predict(&serving, &records(15, 0.0)).await;
    let closed = seen(&monitor, "the window closed by time", |seen| !seen.windows.is_empty()).await;
    assert_eq!(closed.windows[0].predictions, 35, "{closed:#?}");
    worker.stop().await;
    platform.stop().await;
}
