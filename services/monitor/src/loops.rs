//! The continuous-training loop, one per endpoint that has a policy: a signal (a drifted
//! window, a degraded one, new data, a schedule) starts a cycle — the endpoint's training
//! pipeline runs on fresh data, and its gates (a `beat` gate proves the candidate better than
//! the champion on that fresh holdout) decide whether there is a challenger; the challenger goes
//! out as a canary at the policy's weight; once it has answered enough (and, with feedback,
//! both sides have enough labels from the same period) it is judged on its error rate and its
//! live metric against the champion's, and promoted (the alias moves, or an approver is asked)
//! or rolled back. Every decision is recorded with what it saw. One cycle at a time per
//! endpoint, a cool-down between cycles, and the state stored after every step: a restarted
//! monitor — or any other service restarted mid-cycle — finds the cycle where it was.

mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_api::{Canary, LoopEvent, LoopPolicy, LoopStatus, NewAliasRequest, NewPipelineRun, RunState};
use cairn_client::{Client, ClientError};
use cairn_db::Database;
use cairn_domain::Timestamp;
use cairn_events::v1::{DriftDetected, PerformanceDegraded};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::error::MonitorError;
use crate::policy::Policy;

const SIGNALS: [&str; 4] = ["drift", "degradation", "new_data", "schedule"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Idle,
    Training,
    Canary,
    AwaitingApproval,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Training => "training",
            Phase::Canary => "canary",
            Phase::AwaitingApproval => "awaiting_approval",
        }
    }
}

/// Where a loop's cycle stands (stored as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    pub cycle: i64,
    pub signal: Option<String>,
    pub run_id: Option<String>,
    pub model: Option<String>,
    pub champion: Option<i64>,
    pub challenger: Option<i64>,
    /// When the phase began (µs).
    pub since: i64,
    pub cooldown_until: Option<i64>,
    pub approval: Option<String>,
    /// What the approval is for.
    #[serde(default)]
    pub awaiting: Option<Step>,
    /// Serving's failed and total requests of the challenger when its canary began.
    pub errors_before: Option<(u64, u64)>,
}

impl State {
    fn new(now: i64) -> Self {
        Self {
            phase: Phase::Idle,
            cycle: 0,
            signal: None,
            run_id: None,
            model: None,
            champion: None,
            challenger: None,
            since: now,
            cooldown_until: None,
            approval: None,
            awaiting: None,
            errors_before: None,
        }
    }
}

impl State {
    /// The challenger of the cycle, once the run registered one: its model and version.
    fn candidate(&self) -> Option<(String, i64)> {
        Some((self.model.clone()?, self.challenger?))
    }
}

/// A step that may wait for an approver: the registry's request to move an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Moving the `canary` alias: the challenger starts answering a share.
    Canary,
    /// Moving the policy's alias: the challenger becomes the champion.
    Promotion,
}

/// The alias naming a loop's challenger while it is a canary.
const CANARY_ALIAS: &str = "canary";

/// What a loop reaches: training to retrain, serving to route, the registry to promote.
pub struct Services {
    pub training: Client,
    pub serving: Client,
    pub registry: Client,
}

pub struct Loops {
    db: Database,
    services: Services,
    policy: Arc<Policy>,
    /// One decision at a time, whether it comes from a signal or the clock.
    guard: Mutex<()>,
}

fn time(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros).unwrap_or_else(Timestamp::now)
}

fn unavailable(error: ClientError) -> MonitorError {
    MonitorError::Unavailable(error.to_string())
}

/// A loop's decisions being made: its state and what it recorded.
struct Cycle {
    stored: store::Stored,
    events: Vec<LoopEvent>,
    now: i64,
}

impl Cycle {
    fn record(&mut self, step: &str, detail: String, numbers: BTreeMap<String, f64>) {
        tracing::info!(endpoint = %self.stored.endpoint, cycle = self.stored.state.cycle, step, %detail, "loop");
        self.events.push(LoopEvent {
            endpoint: self.stored.endpoint.clone(),
            cycle: self.stored.state.cycle,
            at: time(self.now),
            step: step.to_owned(),
            detail,
            numbers,
        });
    }

    /// Back to idle, cooling down.
    fn end(&mut self) {
        let state = &mut self.stored.state;
        state.phase = Phase::Idle;
        state.since = self.now;
        state.cooldown_until = Some(self.now + secs(self.stored.policy.cooldown_secs));
        state.approval = None;
        state.awaiting = None;
        state.errors_before = None;
    }

    fn enter(&mut self, phase: Phase) {
        self.stored.state.phase = phase;
        self.stored.state.since = self.now;
    }
}

fn secs(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000)
}

fn status(stored: &store::Stored) -> LoopStatus {
    let state = &stored.state;
    LoopStatus {
        endpoint: stored.endpoint.clone(),
        policy: stored.policy.clone(),
        phase: state.phase.as_str().to_owned(),
        cycle: state.cycle,
        signal: state.signal.clone(),
        run_id: state.run_id.clone(),
        model: state.model.clone(),
        champion: state.champion,
        challenger: state.challenger,
        since: time(state.since),
        cooldown_until: state.cooldown_until.map(time),
    }
}

impl Loops {
    pub fn new(db: Database, services: Services, policy: Arc<Policy>) -> Self {
        Self { db, services, policy, guard: Mutex::new(()) }
    }

    /// Sets an endpoint's policy (a cycle under way goes on under the new one).
    pub async fn set(&self, endpoint: &str, policy: LoopPolicy) -> Result<LoopStatus, MonitorError> {
        validate(&policy)?;
        match self.services.training.pipeline(&policy.pipeline).await {
            Err(ClientError::Api { status: 404, .. }) => {
                return Err(MonitorError::Invalid(format!("pipeline: no pipeline `{}`", policy.pipeline)));
            }
            Err(error) => return Err(unavailable(error)),
            Ok(_) => {}
        }
        let _guard = self.guard.lock().await;
        let now = Timestamp::now().as_micros();
        let stored = match store::get(&self.db, endpoint.to_owned()).await? {
            Some(stored) => store::Stored { policy, ..stored },
            None => store::Stored { endpoint: endpoint.to_owned(), policy, state: State::new(now) },
        };
        store::save(&self.db, &stored, Vec::new()).await?;
        Ok(status(&stored))
    }

    pub async fn get(&self, endpoint: &str) -> Result<LoopStatus, MonitorError> {
        store::get(&self.db, endpoint.to_owned())
            .await?
            .map(|stored| status(&stored))
            .ok_or_else(|| MonitorError::NotFound(format!("endpoint `{endpoint}` has no loop")))
    }

    pub async fn list(&self) -> Result<Vec<LoopStatus>, MonitorError> {
        Ok(store::all(&self.db).await?.iter().map(status).collect())
    }

    pub async fn delete(&self, endpoint: &str) -> Result<(), MonitorError> {
        let _guard = self.guard.lock().await;
        if store::delete(&self.db, endpoint.to_owned()).await? {
            Ok(())
        } else {
            Err(MonitorError::NotFound(format!("endpoint `{endpoint}` has no loop")))
        }
    }

    pub async fn history(&self, endpoint: &str, limit: i64) -> Result<Vec<LoopEvent>, MonitorError> {
        let events = store::history(&self.db, endpoint.to_owned(), limit.clamp(1, 10_000)).await?;
        if events.is_empty() && store::get(&self.db, endpoint.to_owned()).await?.is_none() {
            return Err(MonitorError::NotFound(format!("endpoint `{endpoint}` has no loop")));
        }
        Ok(events)
    }

    /// A signal for `endpoint` (`drift`, `degradation`, `new_data`, `schedule`), explained by
    /// `detail` and `numbers`: starts a cycle when the policy listens to it, no cycle is under
    /// way and the cool-down is over; otherwise records why not.
    pub async fn signal(
        &self,
        endpoint: &str,
        kind: &str,
        detail: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        let _guard = self.guard.lock().await;
        let Some(stored) = store::get(&self.db, endpoint.to_owned()).await? else { return Ok(()) };
        if !stored.policy.on.iter().any(|on| on == kind) {
            return Ok(());
        }
        let mut cycle = Cycle { stored, events: Vec::new(), now: Timestamp::now().as_micros() };
        self.start(&mut cycle, kind, detail, numbers).await?;
        store::save(&self.db, &cycle.stored, cycle.events).await?;
        Ok(())
    }

    /// A signal for every loop whose policy retrains on new versions of `dataset`.
    pub async fn new_data(&self, dataset: &str, version: i64) -> Result<(), MonitorError> {
        let loops = store::all(&self.db).await?;
        for stored in loops.into_iter().filter(|stored| stored.policy.data.as_deref() == Some(dataset)) {
            let detail = format!("new data: {dataset}@{version}");
            self.signal(&stored.endpoint, "new_data", detail, BTreeMap::new()).await?;
        }
        Ok(())
    }

    async fn start(
        &self,
        cycle: &mut Cycle,
        kind: &str,
        detail: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        let state = &cycle.stored.state;
        if state.phase != Phase::Idle {
            let why = format!("{detail} — not acted on: cycle {} is {}", state.cycle, state.phase.as_str());
            cycle.record("skipped", why, numbers);
            return Ok(());
        }
        if let Some(until) = state.cooldown_until.filter(|until| *until > cycle.now) {
            let why = format!("{detail} — not acted on: cooling down until {}", time(until));
            cycle.record("skipped", why, numbers);
            return Ok(());
        }
        let pipeline = cycle.stored.policy.pipeline.clone();
        let trigger = format!("loop:{}:{kind}", cycle.stored.endpoint);
        let request = NewPipelineRun { version: None, trigger: Some(trigger) };
        let run =
            self.services.training.start_pipeline_run(&pipeline, &request).await.map_err(unavailable)?;
        let state = &mut cycle.stored.state;
        state.cycle += 1;
        state.signal = Some(detail.clone());
        state.run_id = Some(run.id.clone());
        state.challenger = None;
        cycle.enter(Phase::Training);
        cycle.record("signal", detail, numbers);
        cycle.record("retrain", format!("pipeline `{pipeline}` run {} started", run.id), BTreeMap::new());
        Ok(())
    }

    /// Moves every loop on by what happened since the last look (a run finished, a canary
    /// answered enough, an approver decided, a schedule came due).
    pub async fn tick(&self) -> Result<(), MonitorError> {
        let _guard = self.guard.lock().await;
        for stored in store::all(&self.db).await? {
            let endpoint = stored.endpoint.clone();
            let mut cycle = Cycle { stored, events: Vec::new(), now: Timestamp::now().as_micros() };
            let before = cycle.stored.state.clone();
            if let Err(error) = self.advance(&mut cycle).await {
                tracing::warn!(%endpoint, %error, "loop: will look again");
            }
            if cycle.stored.state != before || !cycle.events.is_empty() {
                store::save(&self.db, &cycle.stored, cycle.events).await?;
            }
        }
        Ok(())
    }

    async fn advance(&self, cycle: &mut Cycle) -> Result<(), MonitorError> {
        match cycle.stored.state.phase {
            Phase::Idle => {
                let policy = &cycle.stored.policy;
                let due = policy.on.iter().any(|on| on == "schedule")
                    && policy
                        .every_secs
                        .is_some_and(|every| cycle.now >= cycle.stored.state.since + secs(every));
                if due {
                    let detail = format!("schedule: every {} s", policy.every_secs.unwrap_or_default());
                    self.start(cycle, "schedule", detail, BTreeMap::new()).await?;
                }
                Ok(())
            }
            Phase::Training => self.trained(cycle).await,
            Phase::Canary => self.judge(cycle).await,
            Phase::AwaitingApproval => self.approved(cycle).await,
        }
    }

    /// The run finished: its challenger goes out as a canary, or the cycle ends rejected.
    async fn trained(&self, cycle: &mut Cycle) -> Result<(), MonitorError> {
        let Some(run_id) = cycle.stored.state.run_id.clone() else {
            cycle.end();
            return Ok(());
        };
        let run = self.services.training.pipeline_run(&run_id).await.map_err(unavailable)?;
        if !run.state.finished() {
            return Ok(());
        }
        let registered = run.model_version.as_deref().and_then(|version| {
            let (model, number) = version.rsplit_once('@')?;
            Some((model.to_owned(), number.parse::<i64>().ok()?))
        });
        let (model, challenger) = match (run.state, registered) {
            (RunState::Succeeded, Some(registered)) => registered,
            _ => {
                let failed: Vec<String> =
                    run.gates.iter().filter(|gate| !gate.passed).map(|gate| gate.detail.clone()).collect();
                let why = if failed.is_empty() {
                    run.error
                        .clone()
                        .unwrap_or_else(|| format!("the run ended {:?} without a model", run.state))
                } else {
                    format!("gates failed: {}", failed.join("; "))
                };
                let mut numbers = BTreeMap::new();
                for gate in run.gates.iter().filter(|gate| !gate.passed) {
                    if let (Some(value), Some(required)) = (gate.value, gate.required) {
                        numbers.insert("candidate".to_owned(), value);
                        numbers.insert("required".to_owned(), required);
                    }
                }
                cycle.record("rejected", format!("run {run_id}: {why}; the champion keeps serving"), numbers);
                cycle.end();
                return Ok(());
            }
        };
        let alias = cycle.stored.policy.alias.clone();
        let champion =
            self.services.registry.model(&model).await.map_err(unavailable)?.aliases.get(&alias).copied();
        let state = &mut cycle.stored.state;
        state.model = Some(model.clone());
        state.champion = champion;
        state.challenger = Some(challenger);
        let gates: Vec<String> = run.gates.iter().map(|gate| gate.detail.clone()).collect();
        let passed = format!("{model}@{challenger} passed its gates ({})", gates.join("; "));
        // The `canary` alias names the version on canary; when it is protected, the canary
        // waits for an approver.
        match self.services.registry.set_alias(&model, CANARY_ALIAS, challenger).await {
            Ok(()) => self.start_canary(cycle, passed, run.metrics.clone()).await,
            Err(error) if error.status() == Some(403) => {
                self.ask(cycle, Step::Canary, CANARY_ALIAS, passed, run.metrics.clone()).await
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// The challenger answers its share of the endpoint beside the champion.
    async fn start_canary(
        &self,
        cycle: &mut Cycle,
        why: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        let state = cycle.stored.state.clone();
        let Some((model, challenger)) = state.candidate() else {
            cycle.end();
            return Ok(());
        };
        let endpoint = cycle.stored.endpoint.clone();
        let weight = cycle.stored.policy.canary_weight;
        let mut spec = self.services.serving.endpoint(&endpoint).await.map_err(unavailable)?.spec;
        spec.canary = Some(Canary { version: challenger, weight });
        self.services.serving.put_endpoint(&endpoint, &spec).await.map_err(unavailable)?;
        cycle.stored.state.errors_before = Some(self.errors(&endpoint, challenger).await);
        cycle.stored.state.awaiting = None;
        cycle.enter(Phase::Canary);
        let beside =
            state.champion.map_or_else(|| "no champion".to_owned(), |version| format!("{model}@{version}"));
        cycle.record(
            "canary",
            format!("{why}; it answers {:.0} % of `{endpoint}` beside {beside}", weight * 100.0),
            numbers,
        );
        Ok(())
    }

    /// Asks an approver to move `alias` to the challenger, and waits.
    async fn ask(
        &self,
        cycle: &mut Cycle,
        step: Step,
        alias: &str,
        why: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        let state = cycle.stored.state.clone();
        let Some((model, challenger)) = state.candidate() else { return Ok(()) };
        let request = NewAliasRequest {
            version: challenger,
            reason: format!("loop `{}` cycle {}: {why}", cycle.stored.endpoint, state.cycle),
        };
        let asked =
            self.services.registry.request_alias_move(&model, alias, &request).await.map_err(unavailable)?;
        cycle.stored.state.approval = Some(asked.id.clone());
        cycle.stored.state.awaiting = Some(step);
        cycle.enter(Phase::AwaitingApproval);
        let waiting = format!("{why}; waiting for an approver to move `{alias}` (request {})", asked.id);
        cycle.record("approval", waiting, numbers);
        Ok(())
    }

    /// Serving's failed and total requests of `version` on `endpoint` (its Prometheus counters).
    async fn errors(&self, endpoint: &str, version: i64) -> (u64, u64) {
        let Ok(text) = self.services.serving.text("/metrics").await else { return (0, 0) };
        let (endpoint, version) = (format!("endpoint=\"{endpoint}\""), format!("version=\"{version}\""));
        let (mut failed, mut total) = (0, 0);
        for line in text.lines().filter(|line| line.starts_with("cairn_predictions_total{")) {
            if !(line.contains(&endpoint) && line.contains(&version)) {
                continue;
            }
            let count =
                line.rsplit(' ').next().and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0) as u64;
            total += count;
            if line.contains("outcome=\"failed\"") {
                failed += count;
            }
        }
        (failed, total)
    }

    /// The canary judged, once it has answered enough (and has the labels the policy wants), or
    /// rolled back when it cannot be judged in time.
    async fn judge(&self, cycle: &mut Cycle) -> Result<(), MonitorError> {
        let state = cycle.stored.state.clone();
        let policy = cycle.stored.policy.clone();
        let endpoint = cycle.stored.endpoint.clone();
        let Some((model, challenger)) = state.candidate() else {
            cycle.end();
            return Ok(());
        };
        let answered =
            crate::store::predictions_of(&self.db, endpoint.clone(), model.clone(), challenger).await?;
        let (failed, total) = self.errors(&endpoint, challenger).await;
        let (failed_before, total_before) = state.errors_before.unwrap_or((0, 0));
        let (failed, total) = (failed.saturating_sub(failed_before), total.saturating_sub(total_before));
        let error_rate = if total == 0 { 0.0 } else { failed as f64 / total as f64 };
        let mut numbers = BTreeMap::from([
            ("canary_predictions".to_owned(), answered as f64),
            ("canary_error_rate".to_owned(), error_rate),
        ]);
        if total >= 20 && error_rate > policy.max_error_rate {
            let why = format!(
                "{model}@{challenger} failed {failed} of {total} requests ({:.1} % > {:.1} %)",
                error_rate * 100.0,
                policy.max_error_rate * 100.0
            );
            return self.roll_back(cycle, why, numbers).await;
        }
        let timed_out = cycle.now >= state.since + secs(policy.canary_max_secs);
        let feedback = self.policy.endpoint(&endpoint).feedback.clone();
        let mut comparison = None;
        if let (Some(feedback), true) = (&feedback, policy.canary_labels > 0) {
            let live = |version| {
                crate::feedback::live_since(&self.db, endpoint.clone(), model.clone(), version, state.since)
            };
            let (labelled, kind, metrics) = live(challenger).await?;
            let metric = crate::feedback::metric_of(feedback, kind);
            numbers.insert("canary_labels".to_owned(), labelled as f64);
            let champion = match state.champion {
                Some(version) => Some(live(version).await?),
                None => None,
            };
            let champion_labels = champion.as_ref().map_or(u64::MAX, |(labelled, _, _)| *labelled);
            if labelled < policy.canary_labels || champion_labels < policy.canary_labels {
                if timed_out {
                    let why = format!(
                        "not judged within {} s: {labelled} canary labels, {} champion labels of {} needed",
                        policy.canary_max_secs,
                        champion.as_ref().map_or(0, |(labelled, _, _)| *labelled),
                        policy.canary_labels
                    );
                    return self.roll_back(cycle, why, numbers).await;
                }
                return Ok(());
            }
            comparison = Some((
                metric.clone(),
                metrics.get(&metric).copied(),
                champion.and_then(|(_, _, m)| m.get(&metric).copied()),
            ));
        }
        if answered < policy.canary_predictions {
            if timed_out {
                let why = format!(
                    "not judged within {} s: the canary answered {answered} of {} predictions",
                    policy.canary_max_secs, policy.canary_predictions
                );
                return self.roll_back(cycle, why, numbers).await;
            }
            return Ok(());
        }
        let mut verdict = format!(
            "{model}@{challenger} answered {answered} predictions, {failed} of {total} requests failed"
        );
        if comparison.is_none() {
            verdict.push_str(if feedback.is_none() {
                "; live metrics not compared: the endpoint has no feedback dataset"
            } else {
                "; live metrics not compared: the policy asks for no labels"
            });
        }
        if let Some((metric, canary, champion)) = comparison {
            if let Some(value) = canary {
                numbers.insert(format!("canary_{metric}"), value);
            }
            if let Some(value) = champion {
                numbers.insert(format!("champion_{metric}"), value);
            }
            let holds = match (canary, champion, cairn_metrics::direction(&metric)) {
                (Some(canary), Some(champion), Some(cairn_metrics::Direction::Higher)) => {
                    canary >= champion * (1.0 - policy.tolerance)
                }
                (Some(canary), Some(champion), Some(cairn_metrics::Direction::Lower)) => {
                    canary <= champion * (1.0 + policy.tolerance)
                }
                (Some(_), None, _) => true,
                _ => false,
            };
            let shown =
                |value: Option<f64>| value.map_or_else(|| "n/a".to_owned(), |value| format!("{value:.4}"));
            verdict.push_str(&format!(
                "; live {metric} {} against the champion's {} on the same period (tolerance {:.0} %)",
                shown(canary),
                shown(champion),
                policy.tolerance * 100.0
            ));
            if !holds {
                return self.roll_back(cycle, verdict, numbers).await;
            }
        }
        self.promote(cycle, verdict, numbers).await
    }

    /// Moves the alias to the challenger — or, when the policy wants an approver or the alias
    /// is protected, asks for the move and waits.
    async fn promote(
        &self,
        cycle: &mut Cycle,
        why: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        let state = cycle.stored.state.clone();
        let Some((model, challenger)) = state.candidate() else { return Ok(()) };
        let alias = cycle.stored.policy.alias.clone();
        if !cycle.stored.policy.approval {
            match self.services.registry.set_alias(&model, &alias, challenger).await {
                Ok(()) => {
                    let why = format!("{why}; `{alias}` moved to {model}@{challenger}");
                    return self.finish_promotion(cycle, why, numbers).await;
                }
                // A protected alias moves only by an approver's decision.
                Err(error) if error.status() == Some(403) => {}
                Err(error) => return Err(unavailable(error)),
            }
        }
        self.ask(cycle, Step::Promotion, &alias, why, numbers).await
    }

    async fn finish_promotion(
        &self,
        cycle: &mut Cycle,
        why: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        self.without_canary(&cycle.stored.endpoint).await?;
        cycle.record("promoted", why, numbers);
        cycle.end();
        Ok(())
    }

    async fn roll_back(
        &self,
        cycle: &mut Cycle,
        why: String,
        numbers: BTreeMap<String, f64>,
    ) -> Result<(), MonitorError> {
        self.without_canary(&cycle.stored.endpoint).await?;
        cycle.record("rolled_back", format!("{why}; the champion serves alone again"), numbers);
        cycle.end();
        Ok(())
    }

    async fn without_canary(&self, endpoint: &str) -> Result<(), MonitorError> {
        let mut spec = self.services.serving.endpoint(endpoint).await.map_err(unavailable)?.spec;
        if spec.canary.take().is_some() {
            self.services.serving.put_endpoint(endpoint, &spec).await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// An approver decided on the canary or the promotion.
    async fn approved(&self, cycle: &mut Cycle) -> Result<(), MonitorError> {
        let Some(id) = cycle.stored.state.approval.clone() else {
            cycle.end();
            return Ok(());
        };
        let requests = self.services.registry.approvals(None).await.map_err(unavailable)?;
        let Some(request) = requests.into_iter().find(|request| request.id == id) else { return Ok(()) };
        let decided = format!(
            "request {id} {} by {}{}",
            request.state,
            request.decided_by.clone().unwrap_or_default(),
            request.decision_reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default()
        );
        let step = cycle.stored.state.awaiting.unwrap_or(Step::Promotion);
        match (request.state.as_str(), step) {
            ("approved", Step::Canary) => self.start_canary(cycle, decided, BTreeMap::new()).await,
            ("approved", Step::Promotion) => self.finish_promotion(cycle, decided, BTreeMap::new()).await,
            ("rejected", Step::Canary) => {
                cycle.record(
                    "rejected",
                    format!("{decided}; no canary, the champion keeps serving"),
                    BTreeMap::new(),
                );
                cycle.end();
                Ok(())
            }
            ("rejected", Step::Promotion) => self.roll_back(cycle, decided, BTreeMap::new()).await,
            _ => Ok(()),
        }
    }
}

/// A drifted window as a loop's signal: the explanation and its numbers.
pub fn drift_signal(event: &DriftDetected) -> (String, BTreeMap<String, f64>) {
    let detail = format!(
        "drift: window {} — {} drifted (share {:.2} ≥ {:.2}); most, `{}` by {} {:.4} against {:.4}",
        event.window_id,
        event.drifted_features.join(", "),
        event.drifted_share,
        event.share_threshold,
        event.feature,
        event.statistic,
        event.value,
        event.threshold
    );
    let numbers = BTreeMap::from([
        ("drifted_share".to_owned(), event.drifted_share),
        (format!("{}_{}", event.feature, event.statistic), event.value),
    ]);
    (detail, numbers)
}

/// A degraded window as a loop's signal.
pub fn degraded_signal(event: &PerformanceDegraded) -> (String, BTreeMap<String, f64>) {
    let detail = format!(
        "degradation: window {} — live {} {:.4} on {} labels against the holdout's {:.4} (tolerance {:.0} %)",
        event.window_id,
        event.metric,
        event.live,
        event.labelled,
        event.holdout,
        event.tolerance * 100.0
    );
    let numbers = BTreeMap::from([
        (format!("live_{}", event.metric), event.live),
        (format!("holdout_{}", event.metric), event.holdout),
    ]);
    (detail, numbers)
}

fn validate(policy: &LoopPolicy) -> Result<(), MonitorError> {
    let invalid = |message: String| Err(MonitorError::Invalid(message));
    if let Some(on) = policy.on.iter().find(|on| !SIGNALS.contains(&on.as_str())) {
        return invalid(format!("on: `{on}` is none of {}", SIGNALS.join(", ")));
    }
    if policy.on.is_empty() {
        return invalid("on: at least one signal".into());
    }
    if policy.on.iter().any(|on| on == "new_data") && policy.data.is_none() {
        return invalid("data: `new_data` needs the dataset to watch".into());
    }
    if policy.on.iter().any(|on| on == "schedule") && policy.every_secs.is_none_or(|every| every == 0) {
        return invalid("every_secs: `schedule` needs a period".into());
    }
    if !(policy.canary_weight > 0.0 && policy.canary_weight < 1.0) {
        return invalid(format!("canary_weight: {} is not between 0 and 1", policy.canary_weight));
    }
    if !(policy.tolerance >= 0.0 && policy.tolerance.is_finite()) {
        return invalid(format!("tolerance: {} is not a share", policy.tolerance));
    }
    if !(0.0..=1.0).contains(&policy.max_error_rate) {
        return invalid(format!("max_error_rate: {} is not a share", policy.max_error_rate));
    }
    if policy.alias.is_empty() {
        return invalid("alias: empty".into());
    }
    Ok(())
}
