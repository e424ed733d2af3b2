//! Lineage in both directions: what is behind a model version (run, parameters, metrics, code,
//! datasets, feature service), which model versions were trained on a dataset version, and
//! which were registered from a run.
//! Runs name their data with tags: `cairn.dataset.<name>` = version number and
//! `cairn.feature_service` = `name@version`; the code version is MLflow's
//! `mlflow.source.git.commit`.

use cairn_api::{DatasetRef, Lineage, TrainedModel};
use cairn_db::{Database, Sql};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};

use super::{ModelError, ModelVersion};
use crate::tracking::{self, KeyValue, TrackingError};

pub const DATASET_TAG_PREFIX: &str = "cairn.dataset.";
pub const FEATURE_SERVICE_TAG: &str = "cairn.feature_service";
pub const GIT_COMMIT_TAG: &str = "mlflow.source.git.commit";

/// What is behind `version`: empty when it names no run (or its run is gone).
pub async fn lineage(db: &Database, version: &ModelVersion) -> Result<Lineage, ModelError> {
    let Some(run_id) = version.run_id.clone() else {
        return Ok(Lineage::default());
    };
    let run = match tracking::run(db, run_id.clone()).await {
        Ok(run) => run,
        Err(TrackingError::NotFound(_)) => return Ok(Lineage { run_id: Some(run_id), ..Lineage::default() }),
        Err(error) => return Err(error.into()),
    };
    let experiment = match tracking::experiment(db, &run.info.experiment_id.to_string()).await {
        Ok(experiment) => Some(experiment.name),
        Err(TrackingError::NotFound(_)) => None,
        Err(error) => return Err(error.into()),
    };
    Ok(lineage_of(&run, experiment))
}

/// What a run names and measured: its parameters, latest metrics, code version, datasets and
/// feature service.
pub fn lineage_of(run: &tracking::Run, experiment: Option<String>) -> Lineage {
    let tag = |key: &str| run.tags.iter().find(|t| t.key == key).map(|t| t.value.clone());
    Lineage {
        code_version: tag(GIT_COMMIT_TAG),
        feature_service: tag(FEATURE_SERVICE_TAG),
        datasets: datasets_of(&run.tags),
        params: run.params.iter().map(|p| (p.key.clone(), p.value.clone())).collect(),
        metrics: run.metrics.iter().map(|m| (m.key.clone(), m.value)).collect(),
        run_name: Some(run.info.name.clone()),
        experiment,
        run_id: Some(run.info.run_id.clone()),
    }
}

/// The dataset versions a run's tags name.
fn datasets_of(tags: &[KeyValue]) -> Vec<DatasetRef> {
    tags.iter()
        .filter_map(|t| {
            let dataset = t.key.strip_prefix(DATASET_TAG_PREFIX)?;
            Some(DatasetRef { dataset: dataset.to_owned(), version: t.value.trim().parse().ok()? })
        })
        .collect()
}

/// Model versions registered from the runs `run_ids`, by model and version.
pub async fn registered_from(db: &Database, run_ids: Vec<String>) -> Result<Vec<TrainedModel>, ModelError> {
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT name, version, run_id AS run_uuid FROM model_versions WHERE ")
            .in_text_set("run_id", run_ids)
            .push(" ORDER BY name, version");
        Ok(sql.load::<VersionOfRun>(conn)?.into_iter().map(VersionOfRun::trained_model).collect())
    })
    .await
}

#[derive(QueryableByName)]
struct VersionOfRun {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    run_uuid: String,
}

impl VersionOfRun {
    fn trained_model(self) -> TrainedModel {
        TrainedModel { model: self.name, version: self.version, run_id: self.run_uuid }
    }
}

/// Model versions whose training run tagged `dataset` at `version`.
pub async fn trained_on(
    db: &Database,
    dataset: String,
    version: i64,
) -> Result<Vec<TrainedModel>, ModelError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT v.name, v.version, t.run_uuid FROM model_versions v JOIN tags t ON t.run_uuid = v.run_id WHERE t.key = ")
            .bind(format!("{DATASET_TAG_PREFIX}{dataset}"))
            .push(" AND TRIM(t.value) = ")
            .bind(version.to_string())
            .push(" ORDER BY v.name, v.version");
        Ok(sql.load::<VersionOfRun>(conn)?.into_iter().map(VersionOfRun::trained_model).collect())
    })
    .await
}
