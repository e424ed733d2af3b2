//! Logging to a run: parameters (write-once), tags (overwritable) and metric points (kept in
//! full, with the latest point per key maintained beside them).

use std::collections::HashMap;

use cairn_db::{AnyConnection, Backend, Database, Sql, write_transaction};
use diesel::QueryableByName;
use diesel::sql_types::{Binary, Text};

use super::runs::{self, MetricRow, RUN_NAME_TAG};
use super::validate::{self, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH};
use super::{KeyValue, Metric, Page, RunInfo, TrackingError, page_offset, page_size, split_page};
use super::{chunks, key_values};

pub const MAX_METRICS: usize = 1000;
pub const MAX_PARAMS: usize = 100;
pub const MAX_TAGS: usize = 100;
pub const MAX_ENTRIES: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

impl LogBatch {
    fn validate(&self) -> Result<(), TrackingError> {
        let (metrics, params, tags) = (self.metrics.len(), self.params.len(), self.tags.len());
        if metrics > MAX_METRICS
            || params > MAX_PARAMS
            || tags > MAX_TAGS
            || metrics + params + tags > MAX_ENTRIES
        {
            return Err(TrackingError::Invalid(format!(
                "a batch holds at most {MAX_METRICS} metrics, {MAX_PARAMS} params, {MAX_TAGS} tags and \
                 {MAX_ENTRIES} entries in all; this one has {metrics} metrics, {params} params and {tags} tags"
            )));
        }
        for metric in &self.metrics {
            validate::key("metric", &metric.key)?;
        }
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for param in &self.params {
            validate::key("param", &param.key)?;
            validate::value("param", &param.key, &param.value, MAX_PARAM_VALUE_LENGTH)?;
            if let Some(before) = seen.insert(&param.key, &param.value)
                && before != param.value
            {
                return Err(TrackingError::Invalid(format!(
                    "param `{}` is given twice with different values (`{before}` and `{}`)",
                    param.key, param.value
                )));
            }
        }
        for tag in &self.tags {
            validate::key("tag", &tag.key)?;
            validate::value("tag", &tag.key, &tag.value, MAX_TAG_VALUE_LENGTH)?;
        }
        Ok(())
    }
}

/// Logs a batch atomically: all of it or, on any error, nothing.
pub async fn log_batch(db: &Database, run_id: String, batch: LogBatch) -> Result<(), TrackingError> {
    batch.validate()?;
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            let run = runs::existing(conn, backend, &run_id, true)?;
            insert_params(conn, backend, &run_id, &batch.params)?;
            upsert_tags(conn, backend, &run_id, &batch.tags)?;
            insert_metrics(conn, backend, &run, &batch.metrics)
        })
    })
    .await
}

/// Parameters are written once: the same value again is fine, another value is an error.
fn insert_params(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    params: &[KeyValue],
) -> Result<(), TrackingError> {
    if params.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO params (run_uuid, key, value) VALUES ");
    for (i, param) in params.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(run_id).push(", ").bind(param.key.clone()).push(", ").bind(param.value.clone()).push(")");
    }
    sql.push(" ON CONFLICT (run_uuid, key) DO NOTHING");
    if sql.execute(conn)? == params.len() {
        return Ok(());
    }
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = Text)]
        key: String,
        #[diesel(sql_type = Text)]
        value: String,
    }
    let mut stored = Sql::new(backend);
    stored
        .push("SELECT key, value FROM params WHERE run_uuid = ")
        .bind(run_id)
        .push(" AND key IN ")
        .bind_list(params.iter().map(|param| param.key.clone()));
    for row in stored.load::<Stored>(conn)? {
        if let Some(param) = params.iter().find(|param| param.key == row.key && param.value != row.value) {
            return Err(TrackingError::Invalid(format!(
                "param `{}` of run {run_id} was logged as `{}`; changing it to `{}` is not allowed",
                row.key, row.value, param.value
            )));
        }
    }
    Ok(())
}

pub(crate) fn upsert_tags(
    conn: &mut AnyConnection,
    backend: Backend,
    run_id: &str,
    tags: &[KeyValue],
) -> Result<(), TrackingError> {
    key_values::upsert(conn, backend, "tags", "run_uuid", run_id, tags)?;
    if let Some(name) = tags.iter().rev().find(|tag| tag.key == RUN_NAME_TAG) {
        let mut rename = Sql::new(backend);
        rename
            .push("UPDATE runs SET name = ")
            .bind(name.value.clone())
            .push(" WHERE run_uuid = ")
            .bind(run_id);
        rename.execute(conn)?;
    }
    Ok(())
}

fn insert_metrics(
    conn: &mut AnyConnection,
    backend: Backend,
    run: &RunInfo,
    metrics: &[Metric],
) -> Result<(), TrackingError> {
    if metrics.is_empty() {
        return Ok(());
    }
    let run_id = run.run_id.as_str();
    let mut chunks = chunks::pack(metrics);
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO metric_chunks (run_uuid, key, digest, points, data) VALUES ");
    for (i, chunk) in chunks.iter_mut().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(run_id)
            .push(", ")
            .bind(chunk.key)
            .push(", ")
            .bind(std::mem::take(&mut chunk.digest))
            .push(", ")
            .bind(chunk.points as i64)
            .push(", ")
            .bind(std::mem::take(&mut chunk.data))
            .push(")");
    }
    sql.push(" ON CONFLICT DO NOTHING");
    sql.execute(conn)?;

    // The batch's own latest point per key, then one upsert that replaces a stored latest point
    // only with a later one (higher step, then timestamp, then value) — concurrent writers
    // converge on the same answer. The run's experiment and start time ride along, for searches
    // (see the migration `metrics_in_run_order`).
    let mut sql = Sql::new(backend);
    sql.push(
        "INSERT INTO latest_metrics (run_uuid, key, step, timestamp_ms, value, is_nan, experiment_id, start_time) VALUES ",
    );
    for (i, metric) in chunks.iter().map(|chunk| chunk.latest).enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(run_id)
            .push(", ")
            .bind(metric.key.clone())
            .push(", ")
            .bind(metric.step)
            .push(", ")
            .bind(metric.timestamp)
            .push(", ")
            .bind(chunks::stored_value(metric.value))
            .push(", ")
            .bind(metric.value.is_nan())
            .push(", ")
            .bind(run.experiment_id)
            .push(", ")
            .bind(run.start_time)
            .push(")");
    }
    sql.push(
        " ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp_ms = excluded.timestamp_ms, \
         value = excluded.value, is_nan = excluded.is_nan \
         WHERE (excluded.step, excluded.timestamp_ms, excluded.value) > \
         (latest_metrics.step, latest_metrics.timestamp_ms, latest_metrics.value)",
    );
    sql.execute(conn)?;
    Ok(())
}

pub async fn delete_tag(db: &Database, run_id: String, key: String) -> Result<(), TrackingError> {
    let backend = db.backend();
    db.call(move |conn| {
        write_transaction(conn, |conn| {
            runs::existing(conn, backend, &run_id, true)?;
            let mut sql = Sql::new(backend);
            sql.push("DELETE FROM tags WHERE run_uuid = ")
                .bind(run_id.clone())
                .push(" AND key = ")
                .bind(key.clone());
            if sql.execute(conn)? == 0 {
                return Err(TrackingError::NotFound(format!("run {run_id} has no tag `{key}`")));
            }
            Ok(())
        })
    })
    .await
}

/// Every point of one metric of a run, by step, then timestamp, then value.
pub async fn metric_history(
    db: &Database,
    run_id: String,
    key: String,
    max_results: Option<i64>,
    page_token: Option<String>,
) -> Result<Page<Metric>, TrackingError> {
    let offset = page_offset(page_token.as_deref())?;
    let limit = page_size(max_results, super::MAX_RESULTS)?;
    let backend = db.backend();
    db.call(move |conn| {
        runs::existing(conn, backend, &run_id, false)?;
        #[derive(QueryableByName)]
        struct Stored {
            #[diesel(sql_type = Binary)]
            data: Vec<u8>,
        }
        let mut sql = Sql::new(backend);
        sql.push("SELECT data FROM metric_chunks WHERE run_uuid = ")
            .bind(run_id.clone())
            .push(" AND key = ")
            .bind(key.clone());
        let mut points = Vec::new();
        for chunk in sql.load::<Stored>(conn)? {
            chunks::unpack(&key, &chunk.data, &mut points)?;
        }
        let mut legacy = Sql::new(backend);
        legacy
            .push("SELECT run_uuid, key, value, timestamp_ms, step, is_nan FROM metrics WHERE run_uuid = ")
            .bind(run_id)
            .push(" AND key = ")
            .bind(key);
        points.extend(legacy.load::<MetricRow>(conn)?.iter().map(MetricRow::metric));
        chunks::normalize(&mut points);
        let start = (offset as usize).min(points.len());
        let end = start.saturating_add(limit as usize + 1).min(points.len());
        let (items, next_page_token) = split_page(points.drain(start..end).collect(), offset, limit);
        Ok(Page { items, next_page_token })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_db::SqlValue;

    use crate::tracking::{NewRun, create_run};

    /// Points stored one per row before chunked storage are still part of the history, merged
    /// with the chunks and with a repeated point kept once.
    #[tokio::test]
    async fn history_reads_points_stored_before_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("registry.db").display());
        let db = Database::connect(&url, 2, "registry", &[crate::MIGRATIONS]).await.unwrap();
        let new = NewRun { experiment_id: "0".into(), ..NewRun::default() };
        let run_id = create_run(&db, new).await.unwrap().info.run_id;
        let legacy = run_id.clone();
        db.call(move |conn| {
            let mut sql = Sql::new(Backend::Sqlite);
            sql.push("INSERT INTO metrics (run_uuid, key, step, timestamp_ms, value, is_nan) VALUES ")
                .bind_list([
                    SqlValue::from(legacy.clone()),
                    "loss".into(),
                    0i64.into(),
                    5i64.into(),
                    1.0.into(),
                    false.into(),
                ])
                .push(", ")
                .bind_list([
                    SqlValue::from(legacy),
                    "loss".into(),
                    1i64.into(),
                    5i64.into(),
                    0.0.into(),
                    true.into(),
                ]);
            sql.execute(conn).map_err(TrackingError::from)
        })
        .await
        .unwrap();
        let point = |step: i64, value: f64| Metric { key: "loss".into(), value, timestamp: 5, step };
        let batch = LogBatch { metrics: vec![point(2, 0.5), point(0, 1.0)], ..LogBatch::default() };
        log_batch(&db, run_id.clone(), batch).await.unwrap();

        let page = metric_history(&db, run_id, "loss".into(), None, None).await.unwrap();
        let seen: Vec<_> = page.items.iter().map(|m| (m.step, m.value.to_bits())).collect();
        assert_eq!(seen, [(0, 1.0f64.to_bits()), (1, f64::NAN.to_bits()), (2, 0.5f64.to_bits())]);
    }
}
