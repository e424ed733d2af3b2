//! Triggers: runs started by a schedule, a new dataset version or the monitoring service's drift
//! report, as each pipeline's latest version declares. A firing is claimed once by a key naming
//! what fired it (the schedule's slot, `dataset@version`, the drift report), so redelivered
//! events and restarts start nothing twice; one that comes while a run of the pipeline is
//! unfinished starts nothing (that run already trains on fresh data).

mod cron;
mod store;

use std::sync::Arc;

use cairn_api::{NewPipelineRun, Pipeline, Trigger};
use cairn_db::{Database, DbError};
use chrono::{DateTime, Utc};

pub use cron::Cron;
use store::Firing;

use crate::pipelines::{PipelineError, Pipelines};
use crate::runs::{RunError, Runs};

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(transparent)]
    Pipelines(#[from] PipelineError),
    #[error(transparent)]
    Runs(#[from] RunError),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Every failure here is worth another delivery: the database or a listing was away.
impl cairn_bus::Disposition for TriggerError {
    fn is_transient(&self) -> bool {
        true
    }
}

pub struct Triggers {
    db: Database,
    pipelines: Arc<Pipelines>,
    runs: Arc<Runs>,
}

impl Triggers {
    pub fn new(db: Database, pipelines: Arc<Pipelines>, runs: Arc<Runs>) -> Self {
        Self { db, pipelines, runs }
    }

    /// A new version of `dataset`, made at `created` (µs): pipelines that retrain on it start a
    /// run — those applied before it was made (a pipeline does not retrain on history).
    pub async fn dataset_version(
        &self,
        dataset: &str,
        version: i64,
        created: i64,
    ) -> Result<(), TriggerError> {
        for pipeline in self.pipelines.list().await? {
            if pipeline.created_at.as_micros() > created {
                continue;
            }
            for trigger in &pipeline.spec.triggers {
                let Trigger::Dataset { dataset: named } = trigger else { continue };
                let data = &pipeline.spec.data;
                let watched = named.as_ref().or(data.dataset.as_ref()).or(data.entity_dataset.as_ref());
                if watched.is_some_and(|watched| watched.as_str() == dataset) {
                    let firing =
                        firing(&pipeline, format!("dataset:{dataset}"), format!("{dataset}@{version}"));
                    self.fire(&pipeline, firing, Utc::now().timestamp_micros()).await?;
                }
            }
        }
        Ok(())
    }

    /// The monitoring service found drift for `model` in a window that ended at `ended` (µs;
    /// `report` names the report): pipelines that register that model start a run — those
    /// applied before it.
    pub async fn drift(&self, model: &str, report: String, ended: i64) -> Result<(), TriggerError> {
        for pipeline in self.pipelines.list().await? {
            if pipeline.created_at.as_micros() > ended {
                continue;
            }
            for trigger in &pipeline.spec.triggers {
                let Trigger::Drift { model: named } = trigger else { continue };
                if named.as_deref().unwrap_or(&pipeline.spec.registration.model) == model {
                    let firing = firing(&pipeline, format!("drift:{model}"), report.clone());
                    self.fire(&pipeline, firing, Utc::now().timestamp_micros()).await?;
                }
            }
        }
        Ok(())
    }

    /// Fires each schedule whose next slot has come (once, however many slots a stopped platform
    /// missed).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<(), TriggerError> {
        for pipeline in self.pipelines.list().await? {
            for trigger in &pipeline.spec.triggers {
                let Trigger::Schedule { cron } = trigger else { continue };
                let Ok(schedule) = Cron::parse(cron) else { continue };
                let name = format!("schedule:{cron}");
                let last = store::latest(&self.db, pipeline.name.to_string(), name.clone()).await?;
                let since = last.and_then(DateTime::from_timestamp_micros).unwrap_or_else(|| {
                    DateTime::from_timestamp_micros(pipeline.created_at.as_micros()).unwrap_or(now)
                });
                let Some(mut slot) = schedule.next_after(since).filter(|slot| *slot <= now) else { continue };
                while let Some(later) = schedule.next_after(slot).filter(|later| *later <= now) {
                    slot = later;
                }
                let firing = firing(&pipeline, name, slot.to_rfc3339());
                self.fire(&pipeline, firing, slot.timestamp_micros()).await?;
            }
        }
        Ok(())
    }

    async fn fire(&self, pipeline: &Pipeline, firing: Firing, fired_at: i64) -> Result<(), TriggerError> {
        if !store::claim(&self.db, firing.clone(), fired_at).await? {
            return Ok(());
        }
        let name = pipeline.name.as_str();
        let runs = self.runs.list(Some(name), 20).await?;
        if let Some(busy) = runs.iter().find(|run| !run.state.finished()) {
            tracing::info!(pipeline = name, trigger = %firing.trigger, run = %busy.id, "a run is under way; the trigger starts none");
            return Ok(());
        }
        let trigger = format!("{} ({})", firing.trigger, firing.key);
        let request = NewPipelineRun { version: None, trigger: Some(trigger) };
        let run =
            self.runs.start(pipeline.name.clone(), pipeline.version, pipeline.spec.clone(), request).await?;
        tracing::info!(pipeline = name, trigger = %firing.trigger, run = %run.id, "started a run");
        store::started(&self.db, firing, run.id).await?;
        Ok(())
    }
}

fn firing(pipeline: &Pipeline, trigger: String, key: String) -> Firing {
    Firing { pipeline: pipeline.name.to_string(), trigger, key }
}
