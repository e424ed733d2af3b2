//! Live performance: ground truth arrives late, as versions of a feedback dataset (ingested by
//! any path), each row naming the request it labels. Its rows are joined to the predictions the
//! monitor kept for the endpoint; each window that got labels has its live metrics (the ones
//! training reports, through cairn-metrics) and KPIs recomputed on every label it holds, and is
//! held to the version's holdout metric: a window that falls behind by more than the tolerance
//! is announced once (`PerformanceDegraded`). Rows naming no logged prediction are counted and
//! reported, never an error. One transaction per feedback version, recorded in the inbox so a
//! redelivered event joins nothing twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cairn_api::{LivePerformance, SlicePerformance};
use cairn_config::FeedbackConfig;
use cairn_db::{AnyConnection, Database, DbError, Sql};
use cairn_domain::Timestamp;
use cairn_events::v1::{DatasetVersionCreated, PerformanceDegraded};
use cairn_metrics::Direction;
use cairn_service::Outbox;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Nullable, Text};

use crate::columns::Columns;
use crate::error::MonitorError;
use crate::metrics::MonitorMetrics;
use crate::policy::Policy;
use crate::reference::ModelReference;
use crate::window::ScoreKind;

const INBOX: &str = "monitor_feedback";

pub struct Feedback {
    db: Database,
    outbox: Outbox,
    columns: Arc<Columns>,
    policy: Arc<Policy>,
    metrics: MonitorMetrics,
}

/// A feedback row: the request it labels, the truth, the KPI values.
struct Label {
    id: String,
    truth: f64,
    kpis: BTreeMap<String, f64>,
    slices: BTreeMap<String, String>,
}

/// A window of an endpoint's model version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
struct WindowOf {
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    window_number: i64,
}

#[derive(QueryableByName)]
struct Labelled {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Double>)]
    score: Option<f64>,
    #[diesel(sql_type = Double)]
    label: f64,
    #[diesel(sql_type = Nullable<Text>)]
    kpis: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    slices: Option<String>,
}

/// The truth of a label cell: a number, or `true`/`false`.
fn truth(text: &str) -> Option<f64> {
    match text.trim() {
        "true" | "True" | "TRUE" => Some(1.0),
        "false" | "False" | "FALSE" => Some(0.0),
        other => other.parse().ok().filter(|value: &f64| value.is_finite()),
    }
}

impl Feedback {
    pub fn new(
        db: Database,
        outbox: Outbox,
        columns: Arc<Columns>,
        policy: Arc<Policy>,
        metrics: MonitorMetrics,
    ) -> Self {
        Self { db, outbox, columns, policy, metrics }
    }

    /// Joins a new version of a dataset, when it is an endpoint's feedback.
    pub async fn version_created(
        &self,
        event: &DatasetVersionCreated,
        event_id: &str,
    ) -> Result<(), MonitorError> {
        for (endpoint, feedback) in self.policy.feedback_of(&event.dataset) {
            let labels = self.labels(event, &feedback).await?;
            let references = references(&self.db).await?;
            let (db, key) = (self.db.clone(), format!("{event_id}:{endpoint}"));
            let (dataset, version) = (event.dataset.clone(), event.version);
            let joined_endpoint = endpoint.clone();
            let outcome = db
                .call(move |conn| {
                    cairn_db::inbox::apply_once(conn, INBOX, &key, |conn| {
                        join(conn, &joined_endpoint, &feedback, &labels, &references, (&dataset, version))
                    })
                })
                .await?;
            if let Some((unknown, announced)) = outcome {
                self.metrics.feedback_unknown(&endpoint, unknown);
                if announced {
                    self.outbox.wake();
                }
            }
        }
        Ok(())
    }

    async fn labels(
        &self,
        event: &DatasetVersionCreated,
        feedback: &FeedbackConfig,
    ) -> Result<Vec<Label>, MonitorError> {
        let paths: Vec<&str> = event.files.iter().map(String::as_str).collect();
        let ids = self.columns.file_texts(&paths, &feedback.key).await?;
        let truths = self.columns.file_texts(&paths, &feedback.label).await?;
        let mut kpis = Vec::with_capacity(feedback.kpis.len());
        for kpi in &feedback.kpis {
            kpis.push((kpi.clone(), self.columns.file_texts(&paths, kpi).await?));
        }
        let mut slices = Vec::with_capacity(feedback.slices.len());
        for slice in &feedback.slices {
            slices.push((slice.clone(), self.columns.file_texts(&paths, slice).await?));
        }
        Ok(ids
            .into_iter()
            .zip(truths)
            .enumerate()
            .filter_map(|(row, (id, label))| {
                let truth = truth(label.as_deref()?)?;
                let kpis = kpis
                    .iter()
                    .filter_map(|(name, values)| {
                        Some((
                            name.clone(),
                            values[row].as_deref().and_then(|value| value.trim().parse().ok())?,
                        ))
                    })
                    .collect();
                let slices = slices
                    .iter()
                    .filter_map(|(name, values)| Some((name.clone(), values[row].clone()?)))
                    .collect();
                Some(Label { id: id?, truth, kpis, slices })
            })
            .collect())
    }
}

/// Every stored reference by model version (a small table: one row per version served).
async fn references(db: &Database) -> Result<HashMap<(String, i64), ModelReference>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            reference: String,
        }
        let sql = {
            let mut sql = Sql::new(backend);
            sql.push("SELECT reference FROM monitor_references");
            sql
        };
        sql.load::<Row>(conn)?
            .into_iter()
            .map(|row| {
                let reference: ModelReference = serde_json::from_str(&row.reference)
                    .map_err(|error| DbError::Corrupt(format!("a stored reference: {error}")))?;
                Ok(((reference.model.clone(), reference.version), reference))
            })
            .collect()
    })
    .await
}

/// The labels applied to `endpoint`'s kept predictions, the feedback version recorded, the
/// windows that got labels re-measured. Returns the unknown ids and whether an event was staged.
fn join(
    conn: &mut AnyConnection,
    endpoint: &str,
    feedback: &FeedbackConfig,
    labels: &[Label],
    references: &HashMap<(String, i64), ModelReference>,
    (dataset, version): (&str, i64),
) -> Result<(u64, bool), DbError> {
    let backend = conn.backend();
    let now = Timestamp::now().as_micros();
    let mut touched = BTreeSet::new();
    let mut unknown = 0u64;
    for label in labels {
        let mut find = Sql::new(backend);
        find.push("SELECT model, version, window_number FROM monitor_predictions WHERE endpoint = ")
            .bind(endpoint)
            .push(" AND request_id = ")
            .bind(label.id.clone());
        let Some(window) = find.load::<WindowOf>(conn)?.into_iter().next() else {
            unknown += 1;
            continue;
        };
        let kpis = serde_json::to_string(&label.kpis).unwrap_or_default();
        let mut update = Sql::new(backend);
        update
            .push("UPDATE monitor_predictions SET label = ")
            .bind(label.truth)
            .push(", kpis = ")
            .bind(kpis)
            .push(", slices = ")
            .bind(serde_json::to_string(&label.slices).unwrap_or_default())
            .push(", labelled_at = ")
            .bind(now)
            .push(" WHERE endpoint = ")
            .bind(endpoint)
            .push(" AND request_id = ")
            .bind(label.id.clone());
        update.execute(conn)?;
        touched.insert(window);
    }
    let rows = labels.len() as u64;
    let mut record = Sql::new(backend);
    record
        .push("INSERT INTO monitor_feedback (dataset, version, endpoint, rows_read, matched, unknown, joined_at) VALUES (")
        .bind(dataset)
        .push(", ")
        .bind(version)
        .push(", ")
        .bind(endpoint)
        .push(", ")
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .push(", ")
        .bind(i64::try_from(rows - unknown).unwrap_or(i64::MAX))
        .push(", ")
        .bind(i64::try_from(unknown).unwrap_or(i64::MAX))
        .push(", ")
        .bind(now)
        .push(") ON CONFLICT (dataset, version, endpoint) DO NOTHING");
    record.execute(conn)?;
    let mut announced = false;
    for window in touched {
        let reference = references.get(&(window.model.clone(), window.version));
        announced |= measure(conn, endpoint, feedback, &window, reference, now)?;
    }
    Ok((unknown, announced))
}

/// Re-measures one window on every label it holds; stages `PerformanceDegraded` the first time
/// it falls behind. Returns whether it staged one.
fn measure(
    conn: &mut AnyConnection,
    endpoint: &str,
    feedback: &FeedbackConfig,
    window: &WindowOf,
    reference: Option<&ModelReference>,
    now: i64,
) -> Result<bool, DbError> {
    let backend = conn.backend();
    // Both tables are keyed by the window: (endpoint, model, version, window_number).
    let of_window = |select: &str| {
        let mut sql = Sql::new(backend);
        sql.push(select)
            .push(" WHERE endpoint = ")
            .bind(endpoint)
            .push(" AND model = ")
            .bind(window.model.clone())
            .push(" AND version = ")
            .bind(window.version)
            .push(" AND window_number = ")
            .bind(window.window_number);
        sql
    };
    let mut select = of_window("SELECT kind, score, label, kpis, slices FROM monitor_predictions");
    select.push(" AND label IS NOT NULL");
    let rows = select.load::<Labelled>(conn)?;
    let id = format!("{endpoint}:{}@{}#{}", window.model, window.version, window.window_number);
    let performance = performance(id, window, feedback, &rows, reference);
    let previous = of_window("SELECT degraded_announced AS value FROM monitor_performance");
    #[derive(QueryableByName)]
    struct Flag {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }
    let announced_before =
        previous.load::<Flag>(conn)?.into_iter().next().is_some_and(|flag| flag.value == 1);
    let announce = performance.degraded && !announced_before;
    let report = serde_json::to_string(&performance).map_err(|error| DbError::Corrupt(error.to_string()))?;
    let mut upsert = Sql::new(backend);
    upsert
        .push(
            "INSERT INTO monitor_performance (endpoint, model, version, window_number, labelled, report, \
             degraded_announced, updated_at) VALUES (",
        )
        .bind(endpoint)
        .push(", ")
        .bind(window.model.clone())
        .push(", ")
        .bind(window.version)
        .push(", ")
        .bind(window.window_number)
        .push(", ")
        .bind(i64::try_from(performance.labelled).unwrap_or(i64::MAX))
        .push(", ")
        .bind(report)
        .push(", ")
        .bind(i64::from(announce || announced_before))
        .push(", ")
        .bind(now)
        .push(
            ") ON CONFLICT (endpoint, model, version, window_number) DO UPDATE SET labelled = excluded.labelled, \
             report = excluded.report, degraded_announced = excluded.degraded_announced, updated_at = excluded.updated_at",
        );
    upsert.execute(conn)?;
    if announce {
        Outbox::stage(
            conn,
            &PerformanceDegraded {
                deployment: endpoint.to_owned(),
                model: window.model.clone(),
                version: window.version,
                window_id: performance.window_id.clone(),
                metric: performance.metric.clone(),
                live: performance.live.unwrap_or(f64::NAN),
                holdout: performance.holdout.unwrap_or(f64::NAN),
                tolerance: feedback.tolerance,
                labelled: i64::try_from(performance.labelled).unwrap_or(i64::MAX),
            },
        )?;
    }
    Ok(announce)
}

/// Metrics (as training reports them) and KPIs of labelled rows: what they score, and how.
fn measured(rows: &[Labelled]) -> (ScoreKind, BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let kind = if rows.iter().any(|row| row.kind == ScoreKind::Regression.as_str()) {
        ScoreKind::Regression
    } else {
        ScoreKind::Binary
    };
    let scored: Vec<(f64, f64)> = rows.iter().filter_map(|row| Some((row.score?, row.label))).collect();
    let (scores, truths): (Vec<f64>, Vec<f64>) = scored.iter().copied().unzip();
    let metrics: BTreeMap<String, f64> = match kind {
        ScoreKind::Binary => {
            let labels: Vec<bool> = truths.iter().map(|truth| *truth >= 0.5).collect();
            let probabilities: Vec<f64> = scores.iter().map(|score| score.clamp(0.0, 1.0)).collect();
            cairn_metrics::evaluate_binary(&labels, &probabilities)
                .ok()
                .and_then(|evaluation| serde_json::to_value(evaluation.metrics).ok())
                .and_then(|value| serde_json::from_value(value).ok())
                .unwrap_or_default()
        }
        ScoreKind::Regression => cairn_metrics::regression_metrics(&truths, &scores)
            .ok()
            .and_then(|metrics| serde_json::to_value(metrics).ok())
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default(),
    };
    let mut kpis: BTreeMap<String, f64> = BTreeMap::new();
    for row in rows {
        let values: BTreeMap<String, f64> =
            row.kpis.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
        let caught =
            kind == ScoreKind::Binary && row.label >= 0.5 && row.score.is_some_and(|score| score >= 0.5);
        for (name, value) in values {
            *kpis.entry(name.clone()).or_default() += value;
            if kind == ScoreKind::Binary {
                *kpis.entry(format!("{name}_positive")).or_default() +=
                    if row.label >= 0.5 { value } else { 0.0 };
                *kpis.entry(format!("{name}_caught")).or_default() += if caught { value } else { 0.0 };
            }
        }
    }
    (kind, metrics, kpis)
}

/// The metric an endpoint's live performance is held to.
pub fn metric_of(feedback: &FeedbackConfig, kind: ScoreKind) -> String {
    if feedback.metric.is_empty() {
        match kind {
            ScoreKind::Binary => "roc_auc",
            ScoreKind::Regression => "rmse",
        }
        .to_owned()
    } else {
        feedback.metric.clone()
    }
}

/// A version's live metrics on the labelled predictions it answered on `endpoint` since `since`
/// (µs): how many, what they score, and the metrics.
pub async fn live_since(
    db: &Database,
    endpoint: String,
    model: String,
    version: i64,
    since: i64,
) -> Result<(u64, ScoreKind, BTreeMap<String, f64>), DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut select = Sql::new(backend);
        select
            .push("SELECT kind, score, label, kpis, slices FROM monitor_predictions WHERE endpoint = ")
            .bind(endpoint)
            .push(" AND model = ")
            .bind(model)
            .push(" AND version = ")
            .bind(version)
            .push(" AND answered_at >= ")
            .bind(since)
            .push(" AND label IS NOT NULL");
        let rows = select.load::<Labelled>(conn)?;
        let (kind, metrics, _) = measured(&rows);
        Ok((rows.len() as u64, kind, metrics))
    })
    .await
}

/// A window's metrics and KPIs on its labelled rows, and whether its metric fell behind the
/// holdout's.
fn performance(
    window_id: String,
    window: &WindowOf,
    feedback: &FeedbackConfig,
    rows: &[Labelled],
    reference: Option<&ModelReference>,
) -> LivePerformance {
    let (kind, metrics, kpis) = measured(rows);
    let metric = metric_of(feedback, kind);
    let slices = sliced(rows, &metric);
    let live = metrics.get(&metric).copied();
    let holdout = reference.and_then(|reference| reference.holdout.get(&metric).copied());
    let labelled = rows.len() as u64;
    let degraded = labelled >= feedback.min_labels
        && match (live, holdout, cairn_metrics::direction(&metric)) {
            (Some(live), Some(holdout), Some(Direction::Higher)) => {
                live < holdout * (1.0 - feedback.tolerance)
            }
            (Some(live), Some(holdout), Some(Direction::Lower)) => {
                live > holdout * (1.0 + feedback.tolerance)
            }
            _ => false,
        };
    LivePerformance {
        window_id,
        model: window.model.clone(),
        version: window.version,
        number: window.window_number,
        labelled,
        metrics,
        kpis,
        metric,
        live,
        holdout,
        degraded,
        slices,
    }
}

/// Labelled rows of one slice value at least, for its metric to be shown.
const MIN_SLICE_ROWS: usize = 10;

/// `metric` per value of each slice column of the rows, worst first.
fn sliced(rows: &[Labelled], metric: &str) -> Vec<SlicePerformance> {
    let mut groups: BTreeMap<(String, String), Vec<&Labelled>> = BTreeMap::new();
    for row in rows {
        let values: BTreeMap<String, String> =
            row.slices.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
        for (column, value) in values {
            groups.entry((column, value)).or_default().push(row);
        }
    }
    let mut slices: Vec<SlicePerformance> = groups
        .into_iter()
        .filter(|(_, rows)| rows.len() >= MIN_SLICE_ROWS)
        .map(|((column, value), rows)| {
            let owned: Vec<Labelled> = rows
                .iter()
                .map(|row| Labelled {
                    kind: row.kind.clone(),
                    score: row.score,
                    label: row.label,
                    kpis: None,
                    slices: None,
                })
                .collect();
            let (_, metrics, _) = measured(&owned);
            SlicePerformance {
                column,
                value,
                labelled: owned.len() as u64,
                live: metrics.get(metric).copied(),
            }
        })
        .collect();
    let higher = cairn_metrics::direction(metric) != Some(Direction::Lower);
    slices.sort_by(|a, b| {
        let (a, b) = (a.live.unwrap_or(f64::NAN), b.live.unwrap_or(f64::NAN));
        if higher { a.total_cmp(&b) } else { b.total_cmp(&a) }
    });
    slices
}

/// An endpoint's live performance, newest windows first, and its feedback joined so far.
pub async fn summary(
    db: &Database,
    endpoint: String,
    limit: i64,
) -> Result<(Vec<LivePerformance>, cairn_api::FeedbackSummary), DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        #[derive(QueryableByName)]
        struct Report {
            #[diesel(sql_type = Text)]
            report: String,
        }
        #[derive(QueryableByName)]
        struct Totals {
            #[diesel(sql_type = BigInt)]
            versions: i64,
            #[diesel(sql_type = Nullable<BigInt>)]
            rows: Option<i64>,
            #[diesel(sql_type = Nullable<BigInt>)]
            matched: Option<i64>,
            #[diesel(sql_type = Nullable<BigInt>)]
            unknown: Option<i64>,
        }
        let mut reports = Sql::new(backend);
        reports
            .push("SELECT report FROM monitor_performance WHERE endpoint = ")
            .bind(endpoint.clone())
            .push(" ORDER BY updated_at DESC, window_number DESC LIMIT ")
            .bind(limit);
        let performance = reports
            .load::<Report>(conn)?
            .into_iter()
            .map(|row| {
                serde_json::from_str(&row.report).map_err(|error| DbError::Corrupt(format!("a performance report: {error}")))
            })
            .collect::<Result<Vec<LivePerformance>, DbError>>()?;
        let mut totals = Sql::new(backend);
        totals
            .push(
                "SELECT COUNT(*) AS versions, SUM(rows_read) AS rows, SUM(matched) AS matched, SUM(unknown) AS unknown \
                 FROM monitor_feedback WHERE endpoint = ",
            )
            .bind(endpoint);
        let totals = totals.load::<Totals>(conn)?.into_iter().next();
        let count = |value: Option<i64>| u64::try_from(value.unwrap_or(0)).unwrap_or(0);
        let summary = totals.map_or_else(cairn_api::FeedbackSummary::default, |totals| cairn_api::FeedbackSummary {
            versions: count(Some(totals.versions)),
            rows: count(totals.rows),
            matched: count(totals.matched),
            unknown: count(totals.unknown),
        });
        Ok((performance, summary))
    })
    .await
}

/// Kept predictions are written with their window (`store::commit`); this is one of them.
#[derive(Debug, Clone)]
pub struct Kept {
    pub endpoint: String,
    pub request_id: String,
    pub model: String,
    pub version: i64,
    pub window_number: i64,
    pub answered_at: i64,
    pub kind: ScoreKind,
    pub score: Option<f64>,
}

/// Inserts kept predictions on `conn` (inside the caller's transaction).
pub fn keep(conn: &mut AnyConnection, kept: &[Kept]) -> Result<(), DbError> {
    let backend = conn.backend();
    for chunk in kept.chunks(200) {
        let mut sql = Sql::new(backend);
        sql.push(
            "INSERT INTO monitor_predictions (endpoint, request_id, model, version, window_number, answered_at, kind, score) VALUES ",
        );
        for (i, row) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(row.endpoint.clone())
                .push(", ")
                .bind(row.request_id.clone())
                .push(", ")
                .bind(row.model.clone())
                .push(", ")
                .bind(row.version)
                .push(", ")
                .bind(row.window_number)
                .push(", ")
                .bind(row.answered_at)
                .push(", ")
                .bind(row.kind.as_str())
                .push(", ")
                .bind(row.score)
                .push(")");
        }
        sql.push(" ON CONFLICT (endpoint, request_id) DO NOTHING");
        sql.execute(conn)?;
    }
    Ok(())
}
