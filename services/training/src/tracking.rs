//! The registry, as training uses it: every pipeline run and every trial is a tracking run
//! (MLflow's REST API), so MLflow users see them in their own tools; a candidate that passes its
//! gates becomes a model version registered from its run, and the spec's alias moves to it.

use std::collections::BTreeMap;

use cairn_client::{Client, ClientError};
use cairn_domain::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

const API: &str = "/api/2.0/mlflow";
/// MLflow's limits for one `log-batch`.
const MAX_METRICS: usize = 1000;
const MAX_PARAMS: usize = 100;

/// The experiment named `name`, created when missing.
pub async fn experiment(registry: &Client, name: &str) -> Result<String, ClientError> {
    #[derive(Deserialize)]
    struct Found {
        experiment: Experiment,
    }
    #[derive(Deserialize)]
    struct Experiment {
        experiment_id: String,
    }
    #[derive(Deserialize)]
    struct Created {
        experiment_id: String,
    }
    let path = format!("{API}/experiments/get-by-name?experiment_name={}", encode(name));
    match registry.get::<Found>(&path).await {
        Ok(found) => return Ok(found.experiment.experiment_id),
        Err(error) if status(&error) != Some(404) => return Err(error),
        Err(_) => {}
    }
    match registry.post::<_, Created>(&format!("{API}/experiments/create"), &json!({"name": name})).await {
        Ok(created) => Ok(created.experiment_id),
        // Created by someone else meanwhile.
        Err(error) if status(&error) == Some(400) || status(&error) == Some(409) => {
            Ok(registry.get::<Found>(&path).await?.experiment.experiment_id)
        }
        Err(error) => Err(error),
    }
}

/// A tracking run: its id and where its artifacts go in the registry's store.
#[derive(Debug, Clone)]
pub struct TrackingRun {
    pub run_id: String,
    pub artifact_root: String,
}

pub async fn create_run(
    registry: &Client,
    experiment_id: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<TrackingRun, ClientError> {
    #[derive(Deserialize)]
    struct Created {
        run: Run,
    }
    #[derive(Deserialize)]
    struct Run {
        info: Info,
    }
    #[derive(Deserialize)]
    struct Info {
        run_id: String,
        artifact_uri: String,
    }
    let body = json!({
        "experiment_id": experiment_id,
        "run_name": name,
        "start_time": Timestamp::now().as_micros() / 1000,
        "tags": key_values(tags),
    });
    let created: Created = registry.post(&format!("{API}/runs/create"), &body).await?;
    let root = created.run.info.artifact_uri;
    let root = root.strip_prefix("mlflow-artifacts:").unwrap_or(&root).trim_matches('/').to_owned();
    Ok(TrackingRun { run_id: created.run.info.run_id, artifact_root: root })
}

/// One metric value at a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub step: i64,
}

/// Logs parameters, metrics and tags to a run, in batches MLflow accepts.
pub async fn log(
    registry: &Client,
    run_id: &str,
    params: &BTreeMap<String, String>,
    metrics: &[Metric],
    tags: &BTreeMap<String, String>,
) -> Result<(), ClientError> {
    let now = Timestamp::now().as_micros() / 1000;
    let params: Vec<Value> = params.iter().map(|(key, value)| json!({"key": key, "value": value})).collect();
    let metrics: Vec<Value> = metrics
        .iter()
        .filter(|metric| metric.value.is_finite())
        .map(
            |metric| json!({"key": metric.key, "value": metric.value, "timestamp": now, "step": metric.step}),
        )
        .collect();
    let params: Vec<&[Value]> = params.chunks(MAX_PARAMS).collect();
    let metrics: Vec<&[Value]> = metrics.chunks(MAX_METRICS).collect();
    for index in 0..params.len().max(metrics.len()).max(1) {
        let tags = if index == 0 { key_values(tags) } else { Vec::new() };
        let (params, metrics) =
            (params.get(index).copied().unwrap_or_default(), metrics.get(index).copied().unwrap_or_default());
        if !params.is_empty() || !metrics.is_empty() || !tags.is_empty() {
            post_batch(registry, run_id, params, metrics, tags).await?;
        }
    }
    Ok(())
}

async fn post_batch(
    registry: &Client,
    run_id: &str,
    params: &[Value],
    metrics: &[Value],
    tags: Vec<Value>,
) -> Result<(), ClientError> {
    let body = json!({"run_id": run_id, "params": params, "metrics": metrics, "tags": tags});
    registry.post::<_, Value>(&format!("{API}/runs/log-batch"), &body).await.map(drop)
}

/// Ends a run: `FINISHED`, `FAILED` or `KILLED`.
pub async fn finish(registry: &Client, run_id: &str, status: &str) -> Result<(), ClientError> {
    let body = json!({"run_id": run_id, "status": status, "end_time": Timestamp::now().as_micros() / 1000});
    registry.post::<_, Value>(&format!("{API}/runs/update"), &body).await.map(drop)
}

/// Registers the model under `run`'s `model/` artifacts as a version of `model` (the version
/// already registered from that run, when a restarted run gets here again) and returns it.
pub async fn register(
    registry: &Client,
    model: &str,
    run: &TrackingRun,
    tags: &BTreeMap<String, String>,
) -> Result<i64, ClientError> {
    #[derive(Deserialize)]
    struct Versions {
        #[serde(default)]
        model_versions: Vec<Version>,
    }
    #[derive(Deserialize)]
    struct Created {
        model_version: Version,
    }
    #[derive(Deserialize)]
    struct Version {
        name: String,
        version: String,
    }
    let parse = |version: &Version| {
        version.version.parse::<i64>().map_err(|_| ClientError::Unexpected {
            status: 200,
            text: format!("model version `{}`", version.version),
        })
    };
    match registry.post::<_, Value>(&format!("{API}/registered-models/create"), &json!({"name": model})).await
    {
        Ok(_) => {}
        Err(error) if status(&error) == Some(400) || status(&error) == Some(409) => {}
        Err(error) => return Err(error),
    }
    let filter = format!("run_id = '{}'", run.run_id);
    let found: Versions =
        registry.get(&format!("{API}/model-versions/search?filter={}", encode(&filter))).await?;
    if let Some(version) = found.model_versions.iter().find(|version| version.name == model) {
        return parse(version);
    }
    let body = json!({
        "name": model,
        "source": format!("runs:/{}/model", run.run_id),
        "run_id": run.run_id,
        "tags": key_values(tags),
    });
    let created: Created = registry.post(&format!("{API}/model-versions/create"), &body).await?;
    parse(&created.model_version)
}

fn key_values(map: &BTreeMap<String, String>) -> Vec<Value> {
    map.iter().map(|(key, value)| json!({"key": key, "value": value})).collect()
}

fn status(error: &ClientError) -> Option<u16> {
    match error {
        ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => Some(*status),
        ClientError::Transport { .. } => None,
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
