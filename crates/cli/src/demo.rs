//! `cairn demo`: the whole platform on realistic data in a few minutes — card transactions with a
//! fraud label, customers as entities, six weeks of event times — streamed in, features defined
//! and served online, a model trained with tuning, registered and deployed as the champion, live
//! traffic and late labels, then a fraud ring changes the data: the monitor finds the drift, the
//! loop retrains, the challenger beats the champion at the gate, goes out as a canary, holds on
//! live labels and is promoted. Each step prints what happened, with its numbers; the demo exits
//! 0 only if every step did what it said.

mod data;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_api::{
    Definitions, EndpointSpec, LoopEvent, LoopPolicy, MaterializationState, MaterializeRequest, NewDataset,
    NewPipelineRun, OnlineRequest, PipelineRun, PipelineSpec,
};
use cairn_client::Client;
use cairn_config::CairnConfig;
use cairn_domain::ServiceKind;
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::status::service_url;
use crate::up::Local;
use data::{Transaction, World};

/// How the demo's loop and monitor are set: windows of 500 predictions, labels from
/// `fraud_labels` joined by request id, the amount as a KPI.
const MONITOR_ENV: [(&str, &str); 5] = [
    ("CAIRN__MONITOR__WINDOW_PREDICTIONS", "500"),
    ("CAIRN__MONITOR__ENDPOINTS__FRAUD__FEEDBACK__DATASET", "fraud_labels"),
    ("CAIRN__MONITOR__ENDPOINTS__FRAUD__FEEDBACK__LABEL", "is_fraud"),
    ("CAIRN__MONITOR__ENDPOINTS__FRAUD__FEEDBACK__KPIS", "amount"),
    ("CAIRN__MONITOR__ENDPOINTS__FRAUD__FEEDBACK__MIN_LABELS", "100"),
];

struct Clients {
    ingestion: Client,
    features: Client,
    training: Client,
    registry: Client,
    serving: Client,
    monitor: Client,
    /// Predictions the demo has had answered.
    sent: AtomicU64,
}

impl Clients {
    fn new(config: &CairnConfig) -> Self {
        let client = |kind| Client::new(service_url(config, kind));
        Self {
            ingestion: client(ServiceKind::Ingestion),
            features: client(ServiceKind::FeatureStore),
            training: client(ServiceKind::Training),
            registry: client(ServiceKind::Registry),
            serving: client(ServiceKind::Serving),
            monitor: client(ServiceKind::Monitor),
            sent: AtomicU64::new(0),
        }
    }
}

fn step(number: usize, title: &str) {
    println!("\n\x1b[1m[{number}/9] {title}\x1b[0m");
}

fn say(line: impl AsRef<str>) {
    println!("      {}", line.as_ref());
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("      {spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Polls `check` every 250 ms until it answers, or fails naming `what` after `limit`.
async fn until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let bar = spinner(what);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await? {
            bar.finish_and_clear();
            return Ok(value);
        }
        if Instant::now() > deadline {
            bar.finish_and_clear();
            bail!("{what}: nothing after {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn run(
    config: CairnConfig,
    config_file: Option<&Path>,
    keep: bool,
    small: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    step(1, "The platform");
    let probe = Clients::new(&config);
    let running = futures::future::join_all(
        [&probe.ingestion, &probe.features, &probe.training, &probe.registry, &probe.serving, &probe.monitor]
            .map(|client| client.readiness()),
    )
    .await
    .iter()
    .all(|answer| answer.as_ref().is_ok_and(|report| report.ready));
    let mut local = None;
    if running {
        say(
            "using the platform already running (its monitor needs the demo's feedback settings for live labels:",
        );
        say(format!("{})", MONITOR_ENV.map(|(key, value)| format!("{key}={value}")).join(" ")));
    } else {
        let dir = config.data_dir.join("demo");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("services.log"))?;
        let mut env: Vec<(String, String)> =
            MONITOR_ENV.map(|(key, value)| (key.to_owned(), value.to_owned())).to_vec();
        env.push(("CAIRN__DATA_DIR".into(), dir.display().to_string()));
        let bar = spinner("starting nats-server, six services and a training worker");
        let mut own = config.clone();
        own.data_dir.clone_from(&dir);
        let platform = Local::start(own, config_file, None, Some(log), &env).await;
        bar.finish_and_clear();
        let platform = platform?;
        say(format!(
            "started nats-server, six services and a training worker in {:.1} s (data and logs in {})",
            started.elapsed().as_secs_f64(),
            dir.display()
        ));
        local = Some((platform, dir));
    }
    let clients = Clients::new(&config);
    let outcome = demo(&clients, running, if small { 0.3 } else { 1.0 }).await;
    let report = match &local {
        Some((_, dir)) => dir.join("report.html"),
        None => config.data_dir.join("demo-report.html"),
    };
    let written = match clients.monitor.endpoint_report("fraud").await {
        Ok(html) => std::fs::write(&report, html).is_ok(),
        Err(_) => false,
    };
    match &outcome {
        Ok(()) => {
            step(9, "Where to look");
            if written {
                say(format!("the report (drift, live metrics, the loop's decisions): {}", report.display()));
            }
            for (command, what) in [
                ("cairn monitor fraud", "each version's windows, drift per feature, live metrics"),
                ("cairn loop history fraud", "every decision of the loop, explained"),
                ("cairn runs list --pipeline fraud", "the two training runs, their trials and gates"),
                ("cairn models version fraud 2", "the new champion's lineage: data, parameters, metrics"),
                ("cairn endpoints show fraud", "what serving serves now"),
            ] {
                say(format!("{command:<36} {what}"));
            }
            println!(
                "\n\x1b[1mThe loop closed by itself in {:.0} s.\x1b[0m",
                started.elapsed().as_secs_f64()
            );
        }
        Err(error) => println!("\n\x1b[1;31mThe demo failed: {error:#}\x1b[0m"),
    }
    if let Some((mut platform, dir)) = local {
        if keep && outcome.is_ok() {
            println!(
                "\nThe platform keeps running for exploring (logs in {}). Press Ctrl-C to stop.",
                dir.join("services.log").display()
            );
            tokio::select! {
                () = cairn_service::shutdown_signal() => {}
                died = platform.exited() => println!("{died}"),
            }
        }
        let bar = spinner("stopping the platform");
        platform.stop().await;
        bar.finish_and_clear();
    }
    outcome.map(|()| ExitCode::SUCCESS)
}

/// The demo's steps on `scale` times its data (1: 20 000 transactions of history).
async fn demo(clients: &Clients, running: bool, scale: f64) -> anyhow::Result<()> {
    let rows = |full: u64| ((full as f64 * scale) as u64).max(1);
    step(2, "Five weeks of card transactions, streamed in");
    let mut world = World::new(2026);
    let history = world.history(rows(20_000));
    declare(clients).await?;
    stream(clients, &history).await?;
    let frauds = history.iter().filter(|tx| tx.is_fraud).count();
    say(format!(
        "transactions@1: {} transactions of {} customers over five weeks, {frauds} frauds ({:.1} %)",
        history.len(),
        data::CUSTOMERS,
        frauds as f64 * 100.0 / history.len() as f64
    ));

    step(3, "Features: each customer's latest spend, online");
    features(clients).await?;

    step(4, "Training with tuning: the champion");
    let champion = pipeline("champion", false);
    clients.training.apply_pipeline(&champion).await?;
    let run = train(clients, "manual").await?;
    let auc = run.metrics.get("roc_auc").copied().unwrap_or(f64::NAN);
    say(format!(
        "{} trials on {} rows; the best ({}) scores roc_auc {auc:.4} on the newest 20 % held out; gates {}",
        run.trials.len(),
        run.rows.as_ref().map_or(0, |rows| rows.train + rows.validation + rows.holdout),
        best_params(&run),
        if run.gates.iter().all(|gate| gate.passed) { "passed" } else { "FAILED" }
    ));
    let Some(version) = run.model_version.clone() else {
        bail!("the run registered nothing: {:?}", run.error)
    };
    say(format!("registered {version} with its lineage, alias `champion` moved to it"));

    step(5, "Deployed, watched, retrained by itself");
    clients.serving.put_endpoint("fraud", &EndpointSpec::alias("fraud", "champion")).await?;
    until("the endpoint to serve", Duration::from_secs(60), || async {
        Ok(clients
            .serving
            .endpoint("fraud")
            .await
            .ok()
            .filter(|endpoint| endpoint.serving.is_some())
            .map(drop))
    })
    .await?;
    clients.training.apply_pipeline(&pipeline("challenger", true)).await?;
    let policy: LoopPolicy = serde_json::from_value(json!({
        "pipeline": "fraud", "on": ["drift"], "canary_weight": 0.3,
        "canary_predictions": 300, "canary_labels": if running { 0 } else { 100 },
        "canary_max_secs": 600, "cooldown_secs": 3600
    }))?;
    clients.monitor.put_loop("fraud", &policy).await?;
    say("endpoint `fraud` follows `fraud@champion`; the pipeline now proposes challengers that must beat it");
    say(
        "the loop: on drift retrain on the last ten days, canary at 30 %, promote if it holds against the champion on 100 labels a side",
    );

    step(6, "Live traffic, and its labels a day later");
    let traffic = world.live(rows(1_500));
    let timing = predict(clients, &traffic, "n").await?;
    say(format!(
        "{} requests answered, latency p50 {:.1} ms, p99 {:.1} ms (over HTTP, this client)",
        traffic.len(),
        timing.0,
        timing.1
    ));
    label(clients, &traffic, "n").await?;
    if !running {
        let seen = until("the labels to be joined", Duration::from_secs(60), || async {
            let seen = clients.monitor.endpoint_monitor("fraud", 10).await.ok();
            Ok(seen
                .filter(|seen| seen.feedback.matched >= traffic.len() as u64 && !seen.performance.is_empty()))
        })
        .await?;
        for window in seen.performance.iter().rev() {
            say(format!(
                "window {}: live {} {:.4} on {} labels (holdout {:.4}); fraud amount caught {:.0} of {:.0}",
                window.window_id,
                window.metric,
                window.live.unwrap_or(f64::NAN),
                window.labelled,
                window.holdout.unwrap_or(f64::NAN),
                window.kpis.get("amount_caught").copied().unwrap_or(0.0),
                window.kpis.get("amount_positive").copied().unwrap_or(0.0)
            ));
        }
    }

    step(7, "A fraud ring moves in: the data shifts");
    world.shift();
    let fresh = world.recent(rows(8_000), 7);
    let body = data::csv(&fresh);
    let batch = clients.ingestion.ingest("transactions", "text/csv", body).await?;
    say(format!(
        "transactions@2: {} labelled rows of the last week (batch {}) — larger amounts, farther away, mostly card-not-present, and a new fraud pattern",
        fresh.len(),
        batch.id
    ));
    let drifted = world.live(rows(2_000).max(600));
    predict(clients, &drifted, "d").await?;
    let window =
        until("the monitor to judge a window of the shifted traffic", Duration::from_secs(90), || async {
            let seen = clients.monitor.endpoint_monitor("fraud", 20).await.ok();
            Ok(seen.and_then(|seen| seen.windows.into_iter().rev().find(|window| window.dataset_drift)))
        })
        .await?;
    say(format!(
        "window {}: {} of {} features drifted (share {:.2} ≥ {:.2}) — {}",
        window.id,
        window.drifted_features,
        window.features.len(),
        window.share,
        window.share_threshold,
        window
            .features
            .iter()
            .filter(|feature| feature.drifted)
            .map(|feature| format!("{} {} {:.3}", feature.column, feature.method, feature.value))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    step(8, "The loop: retrain, gate, canary, promote");
    let events =
        loop_until(clients, "canary", &["rejected", "rolled_back"], Duration::from_secs(240)).await?;
    for event in &events {
        say(format!("{:<8} {}", event.step, event.detail));
    }
    let canary_traffic = world.live(rows(3_000).max(1_200));
    predict(clients, &canary_traffic, "c").await?;
    label(clients, &canary_traffic, "c").await?;
    let events =
        loop_until(clients, "promoted", &["rejected", "rolled_back"], Duration::from_secs(240)).await?;
    let decided = events.iter().rev().find(|event| event.step == "promoted").context("no promotion")?;
    say(format!("{:<8} {}", decided.step, decided.detail));
    let champion = clients.registry.model("fraud").await?.aliases.get("champion").copied();
    let serving = until("serving to swap to the new champion", Duration::from_secs(60), || async {
        let endpoint = clients.serving.endpoint("fraud").await.ok();
        Ok(endpoint
            .filter(|endpoint| endpoint.serving == champion && endpoint.spec.canary.is_none())
            .map(|e| e.serving))
    })
    .await?;
    say(format!(
        "`fraud@champion` is version {}; serving answers with it alone (canary removed, no request failed)",
        serving.unwrap_or_default()
    ));
    Ok(())
}

fn best_params(run: &PipelineRun) -> String {
    run.trials
        .iter()
        .find(|trial| Some(trial.number) == run.best_trial)
        .map(|trial| {
            trial
                .params
                .iter()
                .map(|(key, value)| match value.as_f64() {
                    Some(number) if number.fract() != 0.0 => format!("{key} {number:.3}"),
                    _ => format!("{key} {value}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn declare(clients: &Clients) -> anyhow::Result<()> {
    let transactions: NewDataset = serde_json::from_value(json!({
        "name": "transactions",
        "schema": {
            "columns": [
                {"name": "transaction_id", "type": "string", "nullable": false},
                {"name": "customer_id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float64"},
                {"name": "hour", "type": "int64"},
                {"name": "distance_km", "type": "float64"},
                {"name": "card_present", "type": "int64"},
                {"name": "merchant_code", "type": "int64"},
                {"name": "account_age_days", "type": "float64"},
                {"name": "is_fraud", "type": "int64", "nullable": false}
            ],
            "event_timestamp": "ts",
            "entity_keys": ["customer_id"]
        }
    }))?;
    let labels: NewDataset = serde_json::from_value(json!({
        "name": "fraud_labels",
        "schema": {
            "columns": [
                {"name": "request_id", "type": "string", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "is_fraud", "type": "int64", "nullable": false},
                {"name": "amount", "type": "float64"}
            ],
            "event_timestamp": "ts"
        }
    }))?;
    for dataset in [transactions, labels] {
        if let Err(error) = clients.ingestion.create_dataset(&dataset).await {
            bail!(
                "declaring {}: {error} (the demo needs a platform without it: run `cairn demo` with none running)",
                dataset.name
            );
        }
    }
    Ok(())
}

/// Streams the transactions onto the dataset's stream, then snapshots them as version 1.
async fn stream(clients: &Clients, history: &[Transaction]) -> anyhow::Result<()> {
    let bar = ProgressBar::new(history.len() as u64).with_style(
        ProgressStyle::with_template("      streaming {bar:30} {pos}/{len} records [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for chunk in history.chunks(2_000) {
        let records: Vec<Value> = chunk.iter().map(Transaction::record).collect();
        clients.ingestion.publish_records("transactions", &records).await?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let total = history.len() as u64;
    until("the streamed records to become transactions@1", Duration::from_secs(60), || async {
        clients.ingestion.snapshot("transactions").await?;
        let latest = clients.ingestion.latest_version("transactions").await.ok();
        Ok(latest.filter(|version| version.rows >= total).map(drop))
    })
    .await
}

async fn features(clients: &Clients) -> anyhow::Result<()> {
    let definitions: Definitions = toml::from_str(
        r#"
        [[entity]]
        name = "customer"
        join_keys = ["customer_id"]

        [[feature_view]]
        name = "customer_spend"
        source = "transactions"
        entities = ["customer"]
        features = [{ name = "amount", type = "float64" }, { name = "distance_km", type = "float64" }]
        ttl_seconds = 7776000

        [[feature_service]]
        name = "customer_profile"
        features = ["customer_spend"]
        "#,
    )?;
    let plan = clients.features.apply_features(&definitions, None).await?;
    say(format!(
        "applied: {} changes (entity `customer`, view `customer_spend`, service `customer_profile`)",
        plan.changes.len()
    ));
    let started = clients.features.materialize("customer_spend", &MaterializeRequest::default()).await?;
    let done = until("materializing to the online store", Duration::from_secs(60), || async {
        let run = clients.features.materialization(&started.id).await?;
        Ok((run.state != MaterializationState::Running).then_some(run))
    })
    .await?;
    if done.state != MaterializationState::Succeeded {
        bail!("materialization failed: {}", done.error.unwrap_or_default());
    }
    say(format!(
        "materialized {} customers' latest values from {} rows into the NATS KV online store",
        done.entities, done.rows_read
    ));
    let mut entities = serde_json::Map::new();
    entities.insert("customer_id".into(), json!([7]));
    let request = OnlineRequest {
        features: None,
        feature_service: Some("customer_profile".into()),
        entities,
        full_feature_names: false,
    };
    let answer = clients.features.online_features(&request).await?;
    let values: Vec<String> = answer
        .metadata
        .feature_names
        .iter()
        .zip(&answer.results)
        .map(|(name, vector)| format!("{name} = {}", vector.values.first().cloned().unwrap_or(Value::Null)))
        .collect();
    say(format!("online, Feast's API: customer 7 → {}", values.join(", ")));
    Ok(())
}

/// The demo's pipeline: the champion's (all the data), or the loop's: the last ten days (the
/// fresh window), registered as `challenger` with a gate that it beats the champion on that
/// window's holdout.
fn pipeline(alias: &str, fresh: bool) -> PipelineSpec {
    let (window, beat) = if fresh {
        ("last_days = 10", r#", { kind = "beat", metric = "roc_auc", alias = "champion", by = 0.01 }"#)
    } else {
        ("", "")
    };
    let text = format!(
        r#"
        name = "fraud"
        [data]
        dataset = "transactions"
        label = "is_fraud"
        {window}
        [split]
        kind = "time"
        holdout = 0.2
        validation = 0.1
        [trainer]
        task = "binary"
        builtin = "gbdt"
        params = {{ num_iterations = 80, min_data_in_leaf = 20 }}
        [search]
        strategy = "random"
        trials = 4
        parallelism = 2
        seed = 7
        space = {{ num_leaves = {{ int = [8, 48] }}, learning_rate = {{ log_uniform = [0.05, 0.3] }} }}
        [evaluation]
        gates = [{{ kind = "threshold", metric = "roc_auc", min = 0.75 }}{beat}]
        [registration]
        model = "fraud"
        alias = "{alias}"
        tags = {{ team = "payments" }}
        "#
    );
    toml::from_str(&text).unwrap_or_else(|error| unreachable!("the demo's pipeline parses: {error}"))
}

async fn train(clients: &Clients, trigger: &str) -> anyhow::Result<PipelineRun> {
    let request = NewPipelineRun { version: None, trigger: Some(trigger.into()) };
    let run = clients.training.start_pipeline_run("fraud", &request).await?;
    let bar = spinner("training");
    loop {
        let run = clients.training.pipeline_run(&run.id).await?;
        let done = run.trials.iter().filter(|trial| trial.state == "succeeded").count();
        bar.set_message(format!("run {}: {:?}, {done}/{} trials", &run.id[..8], run.state, run.trials.len()));
        if run.state.finished() {
            bar.finish_and_clear();
            if run.state != cairn_api::RunState::Succeeded {
                bail!("the run ended {:?}: {}", run.state, run.error.clone().unwrap_or_default());
            }
            return Ok(run);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sends each transaction as one request (eight at a time), its id `<prefix><n>`; returns the
/// client-side p50 and p99 latency in ms.
async fn predict(clients: &Clients, traffic: &[Transaction], prefix: &str) -> anyhow::Result<(f64, f64)> {
    let bar = ProgressBar::new(traffic.len() as u64).with_style(
        ProgressStyle::with_template("      predicting {bar:30} {pos}/{len} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut latencies: Vec<f64> = futures::stream::iter(traffic.iter().map(|tx| {
        let body = json!({"id": format!("{prefix}{}", tx.id), "records": [tx.features()]});
        let bar = bar.clone();
        async move {
            let started = Instant::now();
            let answer: anyhow::Result<Value> =
                clients.serving.post("/v1/endpoints/fraud/predict", &body).await.map_err(anyhow::Error::from);
            bar.inc(1);
            answer.map(|_| started.elapsed().as_secs_f64() * 1000.0)
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();
    clients.sent.fetch_add(latencies.len() as u64, Ordering::Relaxed);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
    Ok((at(0.5), at(0.99)))
}

/// The labels of `traffic` arrive as a batch of `fraud_labels`, keyed by request id — once the
/// monitor has read those predictions from the log (labels come days later in life; here a
/// label the monitor cannot place yet would be counted as naming an unknown request).
async fn label(clients: &Clients, traffic: &[Transaction], prefix: &str) -> anyhow::Result<()> {
    let total = |seen: &cairn_api::EndpointMonitor| {
        seen.open.iter().map(|open| open.predictions).sum::<u64>()
            + seen.windows.iter().map(|window| window.predictions).sum::<u64>()
    };
    let sent = clients.sent.load(Ordering::Relaxed);
    until("the monitor to read the predictions", Duration::from_secs(60), || async {
        let seen = clients.monitor.endpoint_monitor("fraud", 1000).await.ok();
        Ok(seen.filter(|seen| total(seen) >= sent).map(drop))
    })
    .await?;
    let now = cairn_domain::Timestamp::now();
    let mut body = String::from("request_id,ts,is_fraud,amount\n");
    for tx in traffic {
        body.push_str(&format!("{prefix}{},{now},{},{:.2}\n", tx.id, i64::from(tx.is_fraud), tx.amount));
    }
    clients.ingestion.ingest("fraud_labels", "text/csv", body).await?;
    say(format!(
        "{} labels ingested into fraud_labels (chargebacks and confirmations), joined by request id",
        traffic.len()
    ));
    Ok(())
}

/// The loop's history once it holds `wanted`; an error when it holds one of `failed` first.
async fn loop_until(
    clients: &Clients,
    wanted: &str,
    failed: &[&str],
    limit: Duration,
) -> anyhow::Result<Vec<LoopEvent>> {
    let events = until(&format!("the loop to reach `{wanted}`"), limit, || async {
        let events = clients.monitor.loop_history("fraud", 100).await.unwrap_or_default();
        if let Some(event) = events.iter().find(|event| failed.contains(&event.step.as_str())) {
            bail!("the loop {}: {}", event.step, event.detail);
        }
        Ok(events.iter().any(|event| event.step == wanted).then_some(events))
    })
    .await?;
    Ok(events.into_iter().filter(|event| event.step != "skipped").collect())
}
