//! What makes a pipeline spec valid, checked at apply (and plan) so that a run never starts on a
//! spec that could not work: the spec on its own first, then what it names — the dataset or
//! feature service and the label column — through the services that hold them. Every refusal
//! names the field.

use std::collections::BTreeMap;

use cairn_api::{DataSpec, Gate, ParamRange, PipelineSpec, SearchSpec, Task, TrainerSpec};
use cairn_client::{Client, ClientError};
use cairn_domain::{ColumnType, Schema};
use serde_json::Value;

use super::PipelineError;

fn invalid(field: &str, message: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(format!("{field}: {message}"))
}

/// The spec on its own.
pub fn spec(spec: &PipelineSpec) -> Result<(), PipelineError> {
    data(&spec.data)?;
    let split = &spec.split;
    if !(split.holdout > 0.0 && split.holdout < 1.0) {
        return Err(invalid("split.holdout", format!("must lie between 0 and 1, got {}", split.holdout)));
    }
    if !(split.validation >= 0.0 && split.holdout + split.validation < 1.0) {
        return Err(invalid(
            "split.validation",
            format!(
                "must be at least 0 and leave rows to train on beside the holdout, got {}",
                split.validation
            ),
        ));
    }
    trainer(&spec.trainer)?;
    if let Some(search) = &spec.search {
        self::search(&spec.trainer, search)?;
    }
    let task = spec.trainer.task;
    for (index, metric) in spec.evaluation.metrics.iter().enumerate() {
        known_metric(&format!("evaluation.metrics[{index}]"), task, metric)?;
    }
    for (index, gate) in spec.evaluation.gates.iter().enumerate() {
        let field = format!("evaluation.gates[{index}]");
        if let Some(metric) = gate.metric() {
            known_metric(&format!("{field}.metric"), task, metric)?;
        }
        match gate {
            Gate::Threshold { min: None, max: None, .. } => {
                return Err(invalid(&field, "a threshold gate needs `min` or `max`"));
            }
            Gate::Threshold { min, max, .. } => {
                if [min, max].into_iter().flatten().any(|value| !value.is_finite()) {
                    return Err(invalid(&field, "thresholds must be finite numbers"));
                }
            }
            Gate::Beat { alias, by, .. } => {
                if alias.trim().is_empty() {
                    return Err(invalid(&format!("{field}.alias"), "must not be empty"));
                }
                if !(by.is_finite() && *by >= 0.0) {
                    return Err(invalid(&format!("{field}.by"), format!("must be 0 or more, got {by}")));
                }
            }
            Gate::Slice { column, max_gap, min_rows, .. } => {
                if column.trim().is_empty() {
                    return Err(invalid(&format!("{field}.column"), "must name a column"));
                }
                if !(max_gap.is_finite() && *max_gap >= 0.0) {
                    return Err(invalid(
                        &format!("{field}.max_gap"),
                        format!("must be 0 or more, got {max_gap}"),
                    ));
                }
                if *min_rows == 0 {
                    return Err(invalid(&format!("{field}.min_rows"), "must be at least 1"));
                }
            }
            Gate::Serving { p99_ms, max_bytes } => {
                if p99_ms.is_none() && max_bytes.is_none() {
                    return Err(invalid(&field, "a serving gate needs `p99_ms` or `max_bytes`"));
                }
                if p99_ms.is_some_and(|limit| !(limit.is_finite() && limit > 0.0)) {
                    return Err(invalid(&format!("{field}.p99_ms"), "must be above 0"));
                }
            }
        }
    }
    for (index, trigger) in spec.triggers.iter().enumerate() {
        if let cairn_api::Trigger::Schedule { cron } = trigger {
            crate::triggers::Cron::parse(cron)
                .map_err(|error| invalid(&format!("triggers[{index}].cron"), error))?;
        }
    }
    let registration = &spec.registration;
    if registration.model.trim().is_empty() {
        return Err(invalid("registration.model", "must not be empty"));
    }
    if registration.alias.as_deref().is_some_and(|alias| alias.trim().is_empty() || alias.contains('/')) {
        return Err(invalid("registration.alias", "must be a name"));
    }
    Ok(())
}

fn data(data: &DataSpec) -> Result<(), PipelineError> {
    match (&data.dataset, &data.feature_service) {
        (Some(_), Some(_)) => {
            return Err(invalid("data", "name either a `dataset` or a `feature_service`, not both"));
        }
        (None, None) => return Err(invalid("data", "name a `dataset` or a `feature_service`")),
        (Some(_), None) if data.entity_dataset.is_some() => {
            return Err(invalid("data.entity_dataset", "goes with a `feature_service`, not a `dataset`"));
        }
        (None, Some(_)) if data.entity_dataset.is_none() => {
            return Err(invalid(
                "data.entity_dataset",
                "a feature service needs the dataset of entity rows (keys, time and the label) to join onto",
            ));
        }
        (None, Some(_)) if data.version.is_some() => {
            return Err(invalid("data.version", "goes with a `dataset`"));
        }
        _ => {}
    }
    if data.label.trim().is_empty() {
        return Err(invalid("data.label", "must name a column"));
    }
    if data.features.contains(&data.label) || data.exclude.contains(&data.label) {
        return Err(invalid("data.features", format!("the label `{}` cannot be a feature", data.label)));
    }
    if data.last_days == Some(0) {
        return Err(invalid("data.last_days", "must be at least 1"));
    }
    if data.last_days.is_some() && (data.start.is_some() || data.end.is_some()) {
        return Err(invalid("data.last_days", "give either the last days or a start and end, not both"));
    }
    if let (Some(start), Some(end)) = (data.start, data.end)
        && start >= end
    {
        return Err(invalid("data.end", format!("the window ends ({end}) before it starts ({start})")));
    }
    Ok(())
}

fn trainer(trainer: &TrainerSpec) -> Result<(), PipelineError> {
    match (&trainer.builtin, trainer.command.is_empty()) {
        (Some(_), false) => return Err(invalid("trainer", "give either `builtin` or `command`, not both")),
        (None, true) => return Err(invalid("trainer", "give a `builtin` trainer or a `command`")),
        (None, false) if trainer.command[0].trim().is_empty() => {
            return Err(invalid("trainer.command", "the program must not be empty"));
        }
        _ => {}
    }
    if trainer.timeout_seconds == 0 {
        return Err(invalid("trainer.timeout_seconds", "must be at least 1"));
    }
    if let Some(builtin) = trainer.builtin {
        crate::trainers::check(builtin, &trainer.params).map_err(|error| invalid("trainer.params", error))?;
    }
    Ok(())
}

fn search(trainer: &TrainerSpec, search: &SearchSpec) -> Result<(), PipelineError> {
    if search.trials == 0 || search.trials > 10_000 {
        return Err(invalid("search.trials", format!("must lie between 1 and 10000, got {}", search.trials)));
    }
    if search.parallelism == 0 {
        return Err(invalid("search.parallelism", "must be at least 1"));
    }
    if search.space.is_empty() {
        return Err(invalid("search.space", "names no parameter to search"));
    }
    if let Some(metric) = &search.metric {
        known_metric("search.metric", trainer.task, metric)?;
    }
    let plan = crate::search::halving(trainer, search).map_err(|error| invalid("search", error))?;
    if let (Some(plan), Some(builtin)) = (&plan, trainer.builtin) {
        for value in [plan.rungs[0], *plan.rungs.last().unwrap_or(&plan.rungs[0])] {
            let mut params = trainer.params.clone();
            params.insert(plan.resource.clone(), serde_json::Value::from(value));
            crate::trainers::check(builtin, &params).map_err(|error| invalid("search.resource", error))?;
        }
    }
    for (name, range) in &search.space {
        let field = format!("search.space.{name}");
        let corners: Vec<Value> = match range {
            ParamRange::Choice(values) if values.is_empty() => {
                return Err(invalid(&field, "a choice needs at least one value"));
            }
            ParamRange::Choice(values) => values.clone(),
            ParamRange::Int([low, high]) if low > high => {
                return Err(invalid(&field, format!("the range [{low}, {high}] is empty")));
            }
            ParamRange::Int([low, high]) => vec![Value::from(*low), Value::from(*high)],
            ParamRange::Uniform([low, high]) | ParamRange::LogUniform([low, high])
                if !(low.is_finite() && high.is_finite() && low < high) =>
            {
                return Err(invalid(&field, format!("the range [{low}, {high}] is empty")));
            }
            ParamRange::LogUniform([low, _]) if *low <= 0.0 => {
                return Err(invalid(&field, "a log-uniform range must lie above 0"));
            }
            ParamRange::Uniform([low, high]) | ParamRange::LogUniform([low, high]) => {
                vec![Value::from(*low), Value::from(*high)]
            }
        };
        // Every end of the range must be a value the built-in trainer takes.
        if let Some(builtin) = trainer.builtin {
            for corner in corners {
                let mut params: BTreeMap<String, Value> = trainer.params.clone();
                params.insert(name.clone(), corner);
                crate::trainers::check(builtin, &params).map_err(|error| invalid(&field, error))?;
            }
        }
    }
    Ok(())
}

fn known_metric(field: &str, task: Task, metric: &str) -> Result<(), PipelineError> {
    let names = crate::evaluate::metric_names(task);
    if names.contains(&metric) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("`{metric}` is not a {} metric (known: {})", task.as_str(), names.join(", ")),
        ))
    }
}

/// What the spec names, as the services that hold it see it now.
pub async fn sources(
    spec: &PipelineSpec,
    ingestion: &Client,
    features: &Client,
) -> Result<(), PipelineError> {
    let data = &spec.data;
    let (field, dataset) = match (&data.dataset, &data.entity_dataset) {
        (Some(dataset), _) => ("data.dataset", dataset),
        (None, Some(entities)) => ("data.entity_dataset", entities),
        (None, None) => return Ok(()),
    };
    let found = ingestion.dataset(dataset.as_str()).await.map_err(|error| missing(field, error))?;
    let schema = &found.schema;
    column(schema, "data.label", &data.label)?;
    if let Some(version) = data.version {
        ingestion.version(dataset.as_str(), version).await.map_err(|error| missing("data.version", error))?;
    }
    if let Some(time) = &data.time_column {
        column(schema, "data.time_column", time)?;
    }
    for (index, gate) in spec.evaluation.gates.iter().enumerate() {
        if let cairn_api::Gate::Slice { column: name, .. } = gate {
            column(schema, &format!("evaluation.gates[{index}].column"), name)?;
        }
    }
    let label = schema.columns.iter().find(|column| column.name.as_str() == data.label);
    if let Some(label) = label {
        let numeric = matches!(label.column_type, ColumnType::Float32 | ColumnType::Float64)
            || is_integer(&label.column_type);
        if spec.trainer.task == Task::Regression && !numeric {
            return Err(invalid(
                "data.label",
                format!("`{}` is not numeric, so a regression cannot learn it", data.label),
            ));
        }
    }
    if let Some(service) = &data.feature_service {
        let services =
            features.feature_services().await.map_err(|error| missing("data.feature_service", error))?;
        if !services.iter().any(|known| known.name == *service && !known.deleted) {
            return Err(invalid(
                "data.feature_service",
                format!("the feature store has no feature service `{service}`"),
            ));
        }
    } else {
        for (index, feature) in data.features.iter().enumerate() {
            column(schema, &format!("data.features[{index}]"), feature)?;
        }
    }
    for (index, trigger) in spec.triggers.iter().enumerate() {
        if let cairn_api::Trigger::Dataset { dataset: Some(watched) } = trigger {
            ingestion
                .dataset(watched.as_str())
                .await
                .map_err(|error| missing(&format!("triggers[{index}].dataset"), error))?;
        }
    }
    Ok(())
}

fn is_integer(column_type: &ColumnType) -> bool {
    matches!(column_type, ColumnType::Int32 | ColumnType::Int64 | ColumnType::Bool)
}

fn column(schema: &Schema, field: &str, name: &str) -> Result<(), PipelineError> {
    if schema.columns.iter().any(|column| column.name.as_str() == name) {
        Ok(())
    } else {
        Err(invalid(field, format!("the dataset has no column `{name}`")))
    }
}

fn missing(field: &str, error: ClientError) -> PipelineError {
    match &error {
        ClientError::Api { status: 404, .. } => invalid(field, error),
        _ => PipelineError::Unavailable(format!("{field}: {error}")),
    }
}
