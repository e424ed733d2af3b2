//! The registration step: the chosen model uploaded to the run's tracking run with everything
//! behind it (dataset version, feature service, trainer, parameters, split seed, holdout
//! metrics), registered as a version of the spec's model — the version already registered from
//! that run, when a restart brings the run here again — and the spec's alias moved to it.

use std::collections::BTreeMap;

use cairn_api::RunState;

use super::{Orchestrator, StepError, judge};
use crate::tracking::{self, Metric, TrackingRun};

pub async fn run(orchestrator: &Orchestrator, id: &str) -> Result<(), StepError> {
    let services = &orchestrator.services;
    let registry = &services.registry;
    let record = orchestrator.runs.get(id).await?;
    let (data, model) = judge::candidate(services, &record).await?;
    let (Some(run_id), Some(root)) = (record.run.tracking_run_id.clone(), record.artifact_root.clone())
    else {
        return Err(StepError::Failed("the run has no tracking run".into()));
    };
    let spec = &record.spec;
    registry.upload_artifact(&format!("{root}/model/model.onnx"), model.to_vec()).await?;
    if let Some(report) = &record.report {
        let report = serde_json::to_vec_pretty(report).unwrap_or_default();
        registry.upload_artifact(&format!("{root}/evaluation/holdout.json"), report).await?;
    }
    let best = record.run.trials.iter().find(|trial| Some(trial.number) == record.run.best_trial);
    let params: BTreeMap<String, String> = best
        .map(|trial| {
            trial.params.iter().map(|(key, value)| (key.clone(), crate::frame::text(value))).collect()
        })
        .unwrap_or_default();
    let metrics: Vec<Metric> =
        record.run.metrics.iter().map(|(key, &value)| Metric { key: key.clone(), value, step: 0 }).collect();
    let mut tags = BTreeMap::from([
        (format!("cairn.dataset.{}", data.dataset), data.version.to_string()),
        ("cairn.trainer".to_owned(), spec.trainer.describe()),
        (
            "cairn.split".to_owned(),
            format!("{:?} holdout {} seed {}", spec.split.kind, spec.split.holdout, spec.split.seed)
                .to_lowercase(),
        ),
        ("cairn.label".to_owned(), data.label.clone()),
    ]);
    if spec.trainer.builtin.is_some() {
        tags.insert("cairn.trainer_version".into(), crate::trainers::VERSION.to_owned());
    }
    if let Some(code) = &spec.trainer.code_version {
        tags.insert("mlflow.source.git.commit".into(), code.clone());
    }
    if let Some(service) = &data.feature_service {
        tags.insert("cairn.feature_service".into(), service.clone());
    }
    tracking::log(registry, &run_id, &params, &metrics, &tags).await?;
    let mut version_tags = spec.registration.tags.clone();
    version_tags.insert("cairn.pipeline_run".into(), record.run.id.clone());
    if let Some(report) = &record.report {
        version_tags.insert("cairn.evaluation".into(), card(report, &record.run.id));
    }
    if let Some(service) = &data.feature_service {
        version_tags.insert("cairn.feature_service".into(), service.clone());
    }
    let runtime = services.runtime.clone();
    let bytes = model.clone();
    let matrix = tokio::task::spawn_blocking(move || {
        cairn_runtime::Model::load(&runtime, &bytes, &crate::evaluate::session_options())
            .map(|model| crate::evaluate::takes_matrix(&model))
    })
    .await
    .map_err(|error| StepError::Failed(error.to_string()))?
    .map_err(|error| StepError::Failed(error.to_string()))?;
    if matrix {
        let names = serde_json::to_string(&data.features).unwrap_or_default();
        version_tags.insert("cairn.feature_names".into(), names);
    }
    let model_name = &spec.registration.model;
    let tracking_run = TrackingRun { run_id: run_id.clone(), artifact_root: root };
    let version = tracking::register(registry, model_name, &tracking_run, &version_tags).await?;
    if let Some(alias) = &spec.registration.alias {
        registry.set_alias(model_name, alias, version).await?;
    }
    tracking::finish(registry, &run_id, "FINISHED").await?;
    orchestrator
        .runs
        .update(id, |record| {
            let alias = spec
                .registration
                .alias
                .as_deref()
                .map(|alias| format!(", alias `{alias}` moved"))
                .unwrap_or_default();
            record.log(format!("registered {model_name} v{version}{alias}"));
            record.run.model_version = Some(format!("{model_name}@{version}"));
            record.enter(RunState::Succeeded);
        })
        .await?;
    Ok(())
}

/// The most a tag value holds (the registry's limit, MLflow's).
const MAX_TAG: usize = 8000;

/// The evaluation as the model card shows it, compact enough for a tag: the holdout metrics,
/// confusion counts and the calibration curve (classification) or the residuals' quantiles and
/// means by predicted value (regression), the twenty most important features and each slice's
/// metric per group — the larger parts left out, in that order, until it fits.
fn card(report: &serde_json::Value, run: &str) -> String {
    let mut card = serde_json::json!({"run": run, "rows": report["rows"], "metrics": report["metrics"]});
    let importance: Vec<&serde_json::Value> =
        report["importance"].as_array().map(|all| all.iter().take(20).collect()).unwrap_or_default();
    card["importance"] = serde_json::json!(importance);
    if let Some(slices) = report["slices"].as_array() {
        let slices: Vec<serde_json::Value> = slices
            .iter()
            .map(|slice| {
                let metric = slice["gap"]["metric"].as_str().unwrap_or_default();
                let groups: serde_json::Map<String, serde_json::Value> = slice["groups"]["groups"]
                    .as_object()
                    .map(|groups| {
                        groups.iter().map(|(group, found)| (group.clone(), found["metrics"][metric].clone())).collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({"column": slice["column"], "metric": metric, "gap": slice["gap"]["gap"], "groups": groups})
            })
            .collect();
        card["slices"] = serde_json::json!(slices);
    }
    card["confusion"] = report["confusion"].clone();
    card["calibration"] = report["calibration"]["bins"].clone();
    // Regression: the residuals' quantiles and their means by predicted value.
    card["residuals"] = report["quantiles"].clone();
    card["by_prediction"] = report["by_prediction"].clone();
    for part in ["by_prediction", "calibration", "confusion", "residuals", "slices", "importance"] {
        if card.to_string().len() <= MAX_TAG {
            break;
        }
        if let Some(object) = card.as_object_mut() {
            object.remove(part);
        }
    }
    card.to_string()
}
