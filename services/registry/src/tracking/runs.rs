//! Runs: one execution of training code inside an experiment, with its status and times.

use std::collections::HashMap;

use cairn_db::{AnyConnection, Backend, Database, Sql, SqlValue, write_transaction};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};

use super::experiments::{self, parse_id};
use super::key_values;
use super::names::random_run_name;
use super::validate::{self, MAX_TAG_VALUE_LENGTH};
use super::{KeyValue, LifecycleStage, Metric, Run, RunInfo, RunStatus, TrackingError, now_millis};

/// The tag MLflow keeps a run's name in, beside the run itself.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
pub const USER_TAG: &str = "mlflow.user";

#[derive(QueryableByName)]
pub(crate) struct RunRow {
    #[diesel(sql_type = Text)]
    run_uuid: String,
    #[diesel(sql_type = BigInt)]
    experiment_id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    start_time: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    end_time: Option<i64>,
    #[diesel(sql_type = Text)]
    lifecycle_stage: String,
    #[diesel(sql_type = Text)]
    artifact_uri: String,
}

impl RunRow {
    fn info(self) -> Result<RunInfo, TrackingError> {
        Ok(RunInfo {
            status: RunStatus::parse(&self.status)
                .ok_or_else(|| cairn_db::DbError::Corrupt(format!("run status `{}`", self.status)))?,
            lifecycle_stage: LifecycleStage::parse(&self.lifecycle_stage)?,
            run_id: self.run_uuid,
            experiment_id: self.experiment_id,
            name: self.name,
            user_id: self.user_id,
            start_time: self.start_time,
            end_time: self.end_time,
            artifact_uri: self.artifact_uri,
        })
    }
}

#[derive(QueryableByName)]
pub(crate) struct MetricRow {
    #[diesel(sql_type = Text)]
    pub(crate) run_uuid: String,
    #[diesel(sql_type = Text)]
    pub(crate) key: String,
    #[diesel(sql_type = Double)]
    pub(crate) value: f64,
    #[diesel(sql_type = BigInt)]
    pub(crate) timestamp_ms: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) step: i64,
    #[diesel(sql_type = Bool)]
    pub(crate) is_nan: bool,
}

impl MetricRow {
    pub(crate) fn metric(&self) -> Metric {
        Metric {
            key: self.key.clone(),
            value: if self.is_nan { f64::NAN } else { self.value },
            timestamp: self.timestamp_ms,
            step: self.step,
        }
    }
}

const COLUMNS: &str =
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

/// The run's row; with `active`, the run must not be deleted.
pub(crate) fn existing(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    active: bool,
) -> Result<RunInfo, TrackingError> {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM runs WHERE run_uuid = ")).bind(run_id);
    let row = sql
        .load::<RunRow>(conn)?
        .pop()
        .ok_or_else(|| TrackingError::NotFound(format!("no run with id {run_id}")))?;
    let info = row.info()?;
    if active && info.lifecycle_stage != LifecycleStage::Active {
        return Err(TrackingError::Invalid(format!(
            "run {run_id} must be in the active state; it is deleted"
        )));
    }
    Ok(info)
}

/// The run table's columns as `r.…`, for statements that select runs under that alias.
pub(crate) fn aliased_columns() -> String {
    COLUMNS.split(", ").map(|column| format!("r.{column}")).collect::<Vec<_>>().join(", ")
}

/// Runs with their latest metrics, parameters and tags, in the order of `ids`.
pub(crate) fn load(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
) -> Result<Vec<Run>, TrackingError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {COLUMNS} FROM runs WHERE ")).in_text_set("run_uuid", ids.iter().cloned());
    let mut rows: HashMap<String, RunRow> =
        sql.load::<RunRow>(conn)?.into_iter().map(|row| (row.run_uuid.clone(), row)).collect();
    with_details(conn, backend, ids.iter().filter_map(|id| rows.remove(id)).collect())
}

/// Run rows, in their order, with their latest metrics, parameters, tags and model outputs.
pub(crate) fn with_details(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: Vec<RunRow>,
) -> Result<Vec<Run>, TrackingError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = ids_of(&rows);
    let params = key_values::load(conn, backend, "params", "run_uuid", owners(&ids))?;
    let tags = key_values::load(conn, backend, "tags", "run_uuid", owners(&ids))?;
    let (metrics, outputs) = metrics_and_outputs(conn, backend, &ids)?;
    assemble(rows, params, tags, metrics, outputs)
}

/// As [`with_details`], with the parameters, tags and metrics read at the same time on three
/// connections: a page of a thousand runs waits for the slowest read, not for all three.
pub(crate) async fn with_details_concurrently(
    db: &Database,
    rows: Vec<RunRow>,
) -> Result<Vec<Run>, TrackingError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.backend();
    let ids = std::sync::Arc::new(ids_of(&rows));
    let (params_of, tags_of, metrics_of) = (ids.clone(), ids.clone(), ids);
    let (params, tags, (metrics, outputs)) = futures::try_join!(
        db.call(move |conn| key_values::load(conn, backend, "params", "run_uuid", owners(&params_of))),
        db.call(move |conn| key_values::load(conn, backend, "tags", "run_uuid", owners(&tags_of))),
        db.call(move |conn| metrics_and_outputs(conn, backend, &metrics_of)),
    )?;
    assemble(rows, params, tags, metrics, outputs)
}

fn ids_of(rows: &[RunRow]) -> Vec<String> {
    rows.iter().map(|row| row.run_uuid.clone()).collect()
}

fn owners(ids: &[String]) -> Vec<SqlValue> {
    ids.iter().map(|id| id.as_str().into()).collect()
}

#[derive(QueryableByName)]
struct Output {
    #[diesel(sql_type = Text)]
    run_uuid: String,
    #[diesel(sql_type = Text)]
    model_id: String,
    #[diesel(sql_type = BigInt)]
    step: i64,
}

/// The latest metric points and the model outputs of the runs `ids`.
fn metrics_and_outputs(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
) -> Result<(Vec<MetricRow>, Vec<Output>), TrackingError> {
    let select = |what: &str, table: &str| {
        let mut sql = Sql::new(backend);
        sql.push(&format!("SELECT {what} FROM {table} WHERE ")).in_text_set("run_uuid", ids.iter().cloned());
        sql
    };
    let metrics = select("run_uuid, key, value, timestamp_ms, step, is_nan", "latest_metrics")
        .push(" ORDER BY key")
        .load::<MetricRow>(conn)?;
    let outputs = select("run_uuid, model_id, step", "run_outputs")
        .push(" ORDER BY step, model_id")
        .load::<Output>(conn)?;
    Ok((metrics, outputs))
}

fn assemble(
    rows: Vec<RunRow>,
    params: key_values::Owned,
    tags: key_values::Owned,
    metrics: Vec<MetricRow>,
    outputs: Vec<Output>,
) -> Result<Vec<Run>, TrackingError> {
    let mut metrics_of: HashMap<String, Vec<Metric>> = HashMap::new();
    for row in &metrics {
        metrics_of.entry(row.run_uuid.clone()).or_default().push(row.metric());
    }
    let mut outputs_of: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for output in outputs {
        outputs_of.entry(output.run_uuid).or_default().push((output.model_id, output.step));
    }
    rows.into_iter()
        .map(|row| {
            let info = row.info()?;
            Ok(Run {
                params: params.of(&info.run_id),
                tags: tags.of(&info.run_id),
                metrics: metrics_of.remove(&info.run_id).unwrap_or_default(),
                outputs: outputs_of.remove(&info.run_id).unwrap_or_default(),
                info,
            })
        })
        .collect()
}

fn load_one(conn: &mut AnyConnection, backend: Backend, run_id: &str) -> Result<Run, TrackingError> {
    load(conn, backend, &[run_id.to_owned()])?
        .pop()
        .ok_or_else(|| TrackingError::NotFound(format!("no run with id {run_id}")))
}

pub async fn run(db: &Database, run_id: String) -> Result<Run, TrackingError> {
    let backend = db.backend();
    db.call(move |conn| load_one(conn, backend, &run_id)).await
}

#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub experiment_id: String,
    pub user_id: Option<String>,
    pub run_name: Option<String>,
    /// Milliseconds since the epoch; now when absent.
    pub start_time: Option<i64>,
    pub tags: Vec<KeyValue>,
}

pub async fn create_run(db: &Database, new: NewRun) -> Result<Run, TrackingError> {
    let experiment_id = parse_id(&new.experiment_id)?;
    let mut tags = new.tags;
    for tag in &tags {
        validate::key("tag", &tag.key)?;
        validate::value("tag", &tag.key, &tag.value, MAX_TAG_VALUE_LENGTH)?;
    }
    let tagged_name = tags.iter().find(|tag| tag.key == RUN_NAME_TAG).map(|tag| tag.value.clone());
    let name = match (new.run_name.filter(|name| !name.is_empty()), tagged_name) {
        (Some(given), Some(tagged)) if given != tagged => {
            return Err(TrackingError::Invalid(format!(
                "run_name `{given}` and the {RUN_NAME_TAG} tag `{tagged}` differ"
            )));
        }
        (Some(name), _) | (None, Some(name)) => name,
        (None, None) => random_run_name(),
    };
    tags.retain(|tag| tag.key != RUN_NAME_TAG);
    tags.push(KeyValue { key: RUN_NAME_TAG.into(), value: name.clone() });
    let user_id = new
        .user_id
        .filter(|user| !user.is_empty())
        .or_else(|| tags.iter().find(|tag| tag.key == USER_TAG).map(|tag| tag.value.clone()))
        .unwrap_or_default();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let start_time = new.start_time.unwrap_or_else(now_millis);
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let experiment = experiments::existing(conn, backend, experiment_id, true)?;
            let artifact_uri =
                format!("{}/{run_id}/artifacts", experiment.artifact_location.trim_end_matches('/'));
            let mut sql = Sql::new(backend);
            sql.push(&format!("INSERT INTO runs ({COLUMNS}) VALUES ("))
                .bind(run_id.clone())
                .push(", ")
                .bind(experiment_id)
                .push(", ")
                .bind(name.clone())
                .push(", ")
                .bind(user_id.clone())
                .push(", 'RUNNING', ")
                .bind(start_time)
                .push(", NULL, 'active', ")
                .bind(artifact_uri)
                .push(")");
            sql.execute(conn)?;
            super::log::upsert_tags(conn, backend, &run_id, &tags)?;
            load_one(conn, backend, &run_id)
        })
    })
    .await
}

#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

pub async fn update_run(db: &Database, run_id: String, update: RunUpdate) -> Result<RunInfo, TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            existing(conn, backend, &run_id, true)?;
            let mut sql = Sql::new(backend);
            sql.push("UPDATE runs SET run_uuid = run_uuid");
            if let Some(status) = update.status {
                sql.push(", status = ").bind(status.as_str());
            }
            if let Some(end_time) = update.end_time {
                sql.push(", end_time = ").bind(end_time);
            }
            if let Some(name) = update.run_name.clone().filter(|name| !name.is_empty()) {
                sql.push(", name = ").bind(name.clone());
                let tag = KeyValue { key: RUN_NAME_TAG.into(), value: name };
                super::log::upsert_tags(conn, backend, &run_id, std::slice::from_ref(&tag))?;
            }
            sql.push(" WHERE run_uuid = ").bind(run_id.clone());
            sql.execute(conn)?;
            existing(conn, backend, &run_id, false)
        })
    })
    .await
}

/// Deletes (softly) or restores a run.
pub async fn set_run_stage(
    db: &Database,
    run_id: String,
    stage: LifecycleStage,
) -> Result<(), TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            existing(conn, backend, &run_id, false)?;
            let mut sql = Sql::new(backend);
            sql.push("UPDATE runs SET lifecycle_stage = ").bind(stage.as_str()).push(", deleted_time = ");
            match stage {
                LifecycleStage::Deleted => sql.bind(now_millis()),
                LifecycleStage::Active => sql.push("NULL"),
            };
            sql.push(" WHERE run_uuid = ").bind(run_id.clone());
            sql.execute(conn)?;
            Ok(())
        })
    })
    .await
}
