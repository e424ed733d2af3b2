//! The prediction log, watched: serving's `PredictionLogBatch`es read in order from
//! `CAIRN_PREDICTIONS`, each logged request counted into its endpoint's model version's window,
//! full or expired windows judged against the version's reference, and drifted ones announced
//! (`DriftDetected`). Everything a batch of the log changed — windows, judgements, events, the
//! reader's position — is written in one transaction, so a restart resumes exactly where the
//! last commit stood: no prediction counted twice, none missed. Transport-neutral: the reader
//! hands it payloads, the handlers ask it questions.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cairn_api::{EndpointMonitor, MonitorWindow, OpenWindow};
use cairn_client::Client;
use cairn_db::Database;
use cairn_domain::Timestamp;
use cairn_events::v1::{DriftDetected, PredictionLogBatch};
use cairn_service::Outbox;
use prost::Message as _;
use tokio::sync::Mutex;

use crate::columns::Columns;
use crate::error::MonitorError;
use crate::feedback::Kept;
use crate::metrics::MonitorMetrics;
use crate::policy::Policy;
use crate::reference::ModelReference;
use crate::store::{self, Change};
use crate::window::{Key, Open};

pub struct Watch {
    db: Database,
    outbox: Outbox,
    registry: Client,
    columns: Arc<Columns>,
    policy: Arc<Policy>,
    metrics: MonitorMetrics,
    /// Runs versions over their training data for prediction references; absent when ONNX
    /// Runtime did not load.
    runtime: Option<cairn_runtime::Runtime>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    references: HashMap<(String, i64), Arc<ModelReference>>,
    open: BTreeMap<Key, Open>,
}

impl Watch {
    /// The watch as the last commit left it, and the stream sequence to read from.
    pub async fn load(
        db: Database,
        outbox: Outbox,
        registry: Client,
        columns: Arc<Columns>,
        policy: Arc<Policy>,
        metrics: MonitorMetrics,
        runtime: Option<cairn_runtime::Runtime>,
    ) -> Result<(Self, u64), MonitorError> {
        let open = store::open_windows(&db).await?.into_iter().map(|open| (open.key.clone(), open)).collect();
        let next = store::position(&db).await?;
        let state = Mutex::new(State { references: HashMap::new(), open });
        Ok((Self { db, outbox, registry, columns, policy, metrics, runtime, state }, next))
    }

    /// Reads payloads of the log, the last at stream sequence `last`. A payload that does not
    /// decode is skipped (counted); a reference that cannot be built yet (a service away) fails
    /// the whole batch, unchanged, to be read again.
    pub async fn read(&self, payloads: Vec<bytes::Bytes>, last: u64) -> Result<(), MonitorError> {
        let mut batches = Vec::with_capacity(payloads.len());
        for payload in payloads {
            match PredictionLogBatch::decode(payload) {
                Ok(batch) => batches.push(batch),
                Err(error) => {
                    tracing::warn!(%error, "a prediction-log message does not decode; skipped");
                    self.metrics.unreadable.inc();
                }
            }
        }
        let mut state = self.state.lock().await;
        for batch in &batches {
            for logged in &batch.predictions {
                self.reference(&mut state, &logged.model, logged.version).await?;
            }
        }
        let now = Timestamp::now().as_micros();
        let mut touched: BTreeMap<Key, Open> = BTreeMap::new();
        let mut change = Change { next_sequence: Some(last + 1), ..Change::default() };
        let mut counted: BTreeMap<Key, u64> = BTreeMap::new();
        let mut latest = None;
        for logged in batches.iter().flat_map(|batch| &batch.predictions) {
            let key = Key {
                endpoint: logged.deployment.clone(),
                model: logged.model.clone(),
                version: logged.version,
            };
            let reference = Arc::clone(&state.references[&(key.model.clone(), key.version)]);
            let policy = self.policy.endpoint(&key.endpoint);
            let open = touched.entry(key.clone()).or_insert_with(|| {
                state.open.get(&key).cloned().unwrap_or_else(|| Open::new(key.clone(), 1, &reference))
            });
            let at = if logged.answered_at_unix_micros > 0 { logged.answered_at_unix_micros } else { now };
            if open.expired(at, policy) {
                self.close(open, &reference, &mut change);
            }
            let before = open.predictions;
            // The outputs are read once, for the prediction window and for ground truth.
            let wanted = open.prediction.is_some() || policy.feedback.is_some();
            let scores = if wanted { crate::window::scores(&logged.outputs_json) } else { None };
            if let Err(reason) =
                open.add(&reference, logged, scores.as_ref().map(|(_, scores)| scores.as_slice()), at)
            {
                tracing::warn!(%reason, endpoint = %key.endpoint, "a logged prediction's inputs were not read");
                self.metrics.unreadable.inc();
            }
            if let (Some(_), Some((kind, scores))) = (&policy.feedback, scores) {
                keep(&mut change.kept, &key, open.number, at, logged, kind, scores);
            }
            *counted.entry(key).or_default() += open.predictions - before;
            if open.full(policy) {
                self.close(open, &reference, &mut change);
            }
            latest = Some(latest.unwrap_or(at).max(at));
        }
        change.open = touched.values().cloned().collect();
        store::commit(&self.db, &change).await?;
        state.open.extend(touched);
        drop(state);
        for (key, rows) in counted {
            self.metrics.predicted(&key.endpoint, &key.model, key.version, rows);
        }
        if let Some(latest) = latest {
            self.metrics.lag.set((now - latest).max(0) as f64 / 1e6);
        }
        self.announce(&change);
        Ok(())
    }

    /// Judges the windows open for their endpoint's whole period (µs `now`) that hold enough
    /// predictions.
    pub async fn expire(&self, now: i64) -> Result<(), MonitorError> {
        let mut state = self.state.lock().await;
        let due: Vec<Key> = state
            .open
            .iter()
            .filter(|(key, open)| open.expired(now, self.policy.endpoint(&key.endpoint)))
            .map(|(key, _)| key.clone())
            .collect();
        let mut change = Change::default();
        let mut expired = Vec::with_capacity(due.len());
        for key in due {
            self.reference(&mut state, &key.model, key.version).await?;
            let reference = Arc::clone(&state.references[&(key.model.clone(), key.version)]);
            let mut open = state.open[&key].clone();
            self.close(&mut open, &reference, &mut change);
            expired.push(open);
        }
        if expired.is_empty() {
            return Ok(());
        }
        change.open.clone_from(&expired);
        store::commit(&self.db, &change).await?;
        state.open.extend(expired.into_iter().map(|open| (open.key.clone(), open)));
        drop(state);
        self.announce(&change);
        Ok(())
    }

    /// Judges `open`, records it in `change`, and starts the next window in its place.
    fn close(&self, open: &mut Open, reference: &ModelReference, change: &mut Change) {
        let policy = self.policy.endpoint(&open.key.endpoint);
        let window = open.judge(reference, policy);
        if window.dataset_drift {
            change.events.push(drift_event(&window));
        }
        let next = open.next(reference);
        change.closed.push((window, std::mem::replace(open, next)));
    }

    fn announce(&self, change: &Change) {
        for (window, _) in &change.closed {
            self.metrics.judged(window);
            tracing::info!(
                window = %window.id,
                predictions = window.predictions,
                drifted = window.drifted_features,
                share = window.share,
                dataset_drift = window.dataset_drift,
                "window judged"
            );
        }
        if !change.events.is_empty() {
            self.outbox.wake();
        }
    }

    /// The reference of `model@version`: held, stored, or built now (and stored).
    async fn reference(&self, state: &mut State, model: &str, version: i64) -> Result<(), MonitorError> {
        let id = (model.to_owned(), version);
        if state.references.contains_key(&id) {
            return Ok(());
        }
        let reference = match store::reference(&self.db, model.to_owned(), version).await? {
            Some(reference) => reference,
            None => {
                let built = ModelReference::build(
                    self.runtime.as_ref(),
                    &self.registry,
                    &self.columns,
                    model,
                    version,
                )
                .await?;
                store::save_reference(&self.db, &built).await?;
                tracing::info!(
                    model, version, dataset = ?built.dataset, note = ?built.note, "reference built"
                );
                built
            }
        };
        state.references.insert(id, Arc::new(reference));
        Ok(())
    }

    /// What the monitor sees of `endpoint`: its open windows and the latest `limit` closed ones.
    pub async fn endpoint(&self, endpoint: &str, limit: i64) -> Result<EndpointMonitor, MonitorError> {
        let windows = store::windows(&self.db, endpoint.to_owned(), limit.clamp(1, 1000)).await?;
        let state = self.state.lock().await;
        let open: Vec<OpenWindow> = state
            .open
            .values()
            .filter(|open| open.key.endpoint == endpoint)
            .map(|open| {
                let reference = state.references.get(&(open.key.model.clone(), open.key.version));
                OpenWindow {
                    endpoint: open.key.endpoint.clone(),
                    model: open.key.model.clone(),
                    version: open.key.version,
                    number: open.number,
                    started_at: open.started_at.and_then(Timestamp::from_micros),
                    predictions: open.predictions,
                    reference: reference.and_then(|reference| reference.dataset.clone()),
                    note: reference.and_then(|reference| reference.note.clone()),
                    features: reference
                        .map(|reference| {
                            reference.features.iter().map(|feature| feature.name.clone()).collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        drop(state);
        if open.is_empty() && windows.is_empty() {
            return Err(MonitorError::NotFound(format!(
                "no prediction of endpoint `{endpoint}` has been logged"
            )));
        }
        let (performance, feedback) =
            crate::feedback::summary(&self.db, endpoint.to_owned(), limit.clamp(1, 1000)).await?;
        Ok(EndpointMonitor { endpoint: endpoint.to_owned(), open, windows, performance, feedback })
    }
}

/// Keeps a logged request's rows to join ground truth to: row `i` of a request of several is
/// `<request id>:<i>`.
fn keep(
    kept: &mut Vec<Kept>,
    key: &Key,
    window_number: i64,
    at: i64,
    logged: &cairn_events::v1::PredictionLogged,
    kind: crate::window::ScoreKind,
    scores: Vec<Option<f64>>,
) {
    let single = scores.len() == 1;
    for (row, score) in scores.into_iter().enumerate() {
        kept.push(Kept {
            endpoint: key.endpoint.clone(),
            request_id: if single {
                logged.request_id.clone()
            } else {
                format!("{}:{row}", logged.request_id)
            },
            model: key.model.clone(),
            version: key.version,
            window_number,
            answered_at: at,
            kind,
            score,
        });
    }
}

/// The event of a drifted window: the feature that drifted most (by value over threshold; for
/// p-values, threshold over value) in the scalar fields, every drifted feature in the list.
fn drift_event(window: &MonitorWindow) -> DriftDetected {
    let drifted: Vec<&cairn_api::ColumnDrift> =
        window.features.iter().filter(|feature| feature.drifted).collect();
    let severity = |feature: &cairn_api::ColumnDrift| {
        if matches!(feature.method.as_str(), "ks" | "chi_square" | "z") {
            feature.threshold / feature.value.max(f64::MIN_POSITIVE)
        } else {
            feature.value / feature.threshold.max(f64::MIN_POSITIVE)
        }
    };
    let worst = drifted.iter().copied().max_by(|a, b| severity(a).total_cmp(&severity(b)));
    DriftDetected {
        deployment: window.endpoint.clone(),
        model: window.model.clone(),
        version: window.version,
        feature: worst.map(|feature| feature.column.clone()).unwrap_or_default(),
        statistic: worst.map(|feature| feature.method.clone()).unwrap_or_default(),
        value: worst.map_or(0.0, |feature| feature.value),
        threshold: worst.map_or(0.0, |feature| feature.threshold),
        window_start_unix_micros: window.started_at.as_micros(),
        window_end_unix_micros: window.ended_at.as_micros(),
        drifted_share: window.share,
        share_threshold: window.share_threshold,
        drifted_features: drifted.iter().map(|feature| feature.column.clone()).collect(),
        predictions: i64::try_from(window.predictions).unwrap_or(i64::MAX),
        window_id: window.id.clone(),
    }
}
