//! Every JetStream stream and durable consumer of the platform, declared in one place.
//! Services create them idempotently at start (`cairn_bus::Bus::ensure_topology`).

use std::time::Duration;

use cairn_domain::ServiceKind;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// Subject patterns the stream captures (NATS wildcards).
    pub subjects: &'static [&'static str],
    /// How long messages are kept; `None` keeps them until removed by limits.
    pub max_age: Option<Duration>,
    /// Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate.
    pub duplicate_window: Duration,
    /// A work queue: a message is removed once a consumer acknowledges it (JetStream's
    /// work-queue retention), so each is done once by one of the consumers sharing it.
    pub work_queue: bool,
}

impl StreamSpec {
    /// Whether a concrete subject is captured by one of the stream's patterns.
    pub fn captures(&self, subject: &str) -> bool {
        self.subjects.iter().any(|pattern| subject_matches(pattern, subject))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsumerSpec {
    /// Durable name; unique per stream.
    pub durable: &'static str,
    pub stream: &'static str,
    /// One filter subject (NATS 2.9 supports only one per consumer).
    pub filter_subject: &'static str,
    pub owner: ServiceKind,
    /// How long a delivered message may stay unacknowledged before redelivery.
    pub ack_wait: Duration,
    /// Deliveries before a message is given up on (a poison message stops being retried).
    pub max_deliver: i64,
}

const TWO_MINUTES: Duration = Duration::from_secs(120);

pub const STREAMS: &[StreamSpec] = &[
    StreamSpec {
        name: "CAIRN_WORK",
        description: "Work for any worker: trials to train",
        subjects: &["cairn.work.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: true,
    },
    StreamSpec {
        name: "CAIRN_DATASETS",
        description: "Dataset declarations, ingested batches and versions",
        subjects: &["cairn.datasets.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: "CAIRN_FEATURES",
        description: "Feature definitions, materializations and training data written",
        subjects: &["cairn.features.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: "CAIRN_TRAINING",
        description: "Training runs and trials",
        subjects: &["cairn.training.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: "CAIRN_REGISTRY",
        description: "Model versions, aliases and approvals",
        subjects: &["cairn.registry.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: "CAIRN_DEPLOYMENTS",
        description: "Deployment changes followed by every serving replica",
        subjects: &["cairn.deployments.>"],
        max_age: None,
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: PREDICTIONS_STREAM,
        description: "Prediction logs for monitoring, and batch predictions written",
        subjects: &["cairn.predictions.>"],
        max_age: Some(Duration::from_secs(7 * 24 * 60 * 60)),
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: "CAIRN_MONITOR",
        description: "Drift and data-quality findings",
        subjects: &["cairn.monitor.>"],
        max_age: Some(Duration::from_secs(90 * 24 * 60 * 60)),
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
    StreamSpec {
        name: INGEST_STREAM,
        // Its reader keeps its position in its own database and purges what it committed.
        description: "Records streamed into datasets, until they are in the offline store",
        subjects: &["cairn.ingest.>"],
        max_age: Some(Duration::from_secs(7 * 24 * 60 * 60)),
        duplicate_window: TWO_MINUTES,
        work_queue: false,
    },
];

/// The feature store's catalog of source datasets follows dataset declarations.
pub const FEATURE_STORE_DATASETS: ConsumerSpec = ConsumerSpec {
    durable: "feature-store_datasets",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.created",
    owner: ServiceKind::FeatureStore,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// ... and the columns those datasets gain.
pub const FEATURE_STORE_SCHEMAS: ConsumerSpec = ConsumerSpec {
    durable: "feature-store_schemas",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.schema_evolved",
    owner: ServiceKind::FeatureStore,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// ... and the files batches add to them: the catalog of what materialization reads, and the
/// streaming path that keeps online features current.
pub const FEATURE_STORE_BATCHES: ConsumerSpec = ConsumerSpec {
    durable: "feature-store_batches",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.batch_ingested",
    owner: ServiceKind::FeatureStore,
    ack_wait: Duration::from_secs(60),
    max_deliver: 20,
};

/// ... and their versions: the files each holds, which training data may take entity rows from.
pub const FEATURE_STORE_VERSIONS: ConsumerSpec = ConsumerSpec {
    durable: "feature-store_versions",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.version_created",
    owner: ServiceKind::FeatureStore,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// Ingestion adds the training data the feature store writes to datasets, as new versions.
pub const INGESTION_TRAINING_DATA: ConsumerSpec = ConsumerSpec {
    durable: "ingestion_training_data",
    stream: "CAIRN_FEATURES",
    filter_subject: "cairn.features.training_data_written",
    owner: ServiceKind::Ingestion,
    // Reading, validating and profiling a large file takes a while.
    ack_wait: Duration::from_secs(300),
    max_deliver: 20,
};

/// ... and the predictions batch scoring writes.
pub const INGESTION_PREDICTIONS: ConsumerSpec = ConsumerSpec {
    durable: "ingestion_predictions",
    stream: "CAIRN_PREDICTIONS",
    filter_subject: "cairn.predictions.batch_written",
    owner: ServiceKind::Ingestion,
    ack_wait: Duration::from_secs(300),
    max_deliver: 20,
};

/// Training workers share the trials: each trial goes to one of them. A worker reports progress
/// while it trains, so `ack_wait` bounds how long a worker that died holds a trial.
pub const TRAINING_WORKERS: ConsumerSpec = ConsumerSpec {
    durable: "training_workers",
    stream: "CAIRN_WORK",
    filter_subject: "cairn.work.trials",
    owner: ServiceKind::Training,
    ack_wait: Duration::from_secs(30),
    // Deliveries after a worker died or hit an infrastructure error; a trainer's own failure is
    // reported, not retried.
    max_deliver: 5,
};

/// The training orchestrator hears what the workers did.
pub const TRAINING_TRIALS: ConsumerSpec = ConsumerSpec {
    durable: "training_trials",
    stream: "CAIRN_TRAINING",
    filter_subject: "cairn.training.trial_finished",
    owner: ServiceKind::Training,
    ack_wait: Duration::from_secs(60),
    max_deliver: 50,
};

/// Pipelines that retrain on a dataset start a run when a new version of it lands.
pub const TRAINING_DATASETS: ConsumerSpec = ConsumerSpec {
    durable: "training_datasets",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.version_created",
    owner: ServiceKind::Training,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// ... and pipelines that retrain on drift start one when monitoring reports it.
pub const TRAINING_DRIFT: ConsumerSpec = ConsumerSpec {
    durable: "training_drift",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.drift_detected",
    owner: ServiceKind::Training,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// The monitor joins ground truth to logged predictions when a feedback dataset gets a version.
pub const MONITOR_FEEDBACK: ConsumerSpec = ConsumerSpec {
    durable: "monitor_feedback",
    stream: "CAIRN_DATASETS",
    filter_subject: "cairn.datasets.version_created",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(120),
    max_deliver: 50,
};

/// An endpoint's loop hears its drifted windows ...
pub const MONITOR_LOOP_DRIFT: ConsumerSpec = ConsumerSpec {
    durable: "monitor_loop_drift",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.drift_detected",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// ... and its degraded ones.
pub const MONITOR_LOOP_DEGRADED: ConsumerSpec = ConsumerSpec {
    durable: "monitor_loop_degraded",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.performance_degraded",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(30),
    max_deliver: 20,
};

/// Webhooks: each monitoring event POSTed to the configured URLs, retried with backoff.
pub const MONITOR_WEBHOOK_DRIFT: ConsumerSpec = ConsumerSpec {
    durable: "monitor_webhook_drift",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.drift_detected",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(60),
    max_deliver: 12,
};

pub const MONITOR_WEBHOOK_DEGRADED: ConsumerSpec = ConsumerSpec {
    durable: "monitor_webhook_degraded",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.performance_degraded",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(60),
    max_deliver: 12,
};

pub const MONITOR_WEBHOOK_LOOP: ConsumerSpec = ConsumerSpec {
    durable: "monitor_webhook_loop",
    stream: "CAIRN_MONITOR",
    filter_subject: "cairn.monitor.loop_decided",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(60),
    max_deliver: 12,
};

pub const MONITOR_WEBHOOK_ERRORS: ConsumerSpec = ConsumerSpec {
    durable: "monitor_webhook_errors",
    stream: PREDICTIONS_STREAM,
    filter_subject: "cairn.predictions.error_rate",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(60),
    max_deliver: 12,
};

pub const MONITOR_WEBHOOK_LOSS: ConsumerSpec = ConsumerSpec {
    durable: "monitor_webhook_loss",
    stream: PREDICTIONS_STREAM,
    filter_subject: "cairn.predictions.log_loss",
    owner: ServiceKind::Monitor,
    ack_wait: Duration::from_secs(60),
    max_deliver: 12,
};

pub const CONSUMERS: &[ConsumerSpec] = &[
    FEATURE_STORE_DATASETS,
    FEATURE_STORE_SCHEMAS,
    FEATURE_STORE_BATCHES,
    FEATURE_STORE_VERSIONS,
    INGESTION_TRAINING_DATA,
    INGESTION_PREDICTIONS,
    TRAINING_WORKERS,
    TRAINING_TRIALS,
    TRAINING_DATASETS,
    TRAINING_DRIFT,
    MONITOR_FEEDBACK,
    MONITOR_LOOP_DRIFT,
    MONITOR_LOOP_DEGRADED,
    MONITOR_WEBHOOK_DRIFT,
    MONITOR_WEBHOOK_DEGRADED,
    MONITOR_WEBHOOK_LOOP,
    MONITOR_WEBHOOK_ERRORS,
    MONITOR_WEBHOOK_LOSS,
];

/// Streamed records; read by the ingestion service from a position it keeps itself.
pub const INGEST_STREAM: &str = "CAIRN_INGEST";
/// The prediction log (and batch scoring's files); the monitor reads it in order from a
/// position it stores.
pub const PREDICTIONS_STREAM: &str = "CAIRN_PREDICTIONS";
const INGEST_PREFIX: &str = "cairn.ingest.";

/// The subject streamed records of `dataset` are published on.
pub fn ingest_subject(dataset: &str) -> String {
    format!("{INGEST_PREFIX}{dataset}")
}

/// Every dataset's streamed records.
pub fn ingest_subjects() -> String {
    format!("{INGEST_PREFIX}>")
}

/// The dataset a streamed record's subject names.
pub fn ingest_dataset(subject: &str) -> Option<&str> {
    subject.strip_prefix(INGEST_PREFIX)
}

/// The stream declared under `name`.
pub fn stream(name: &str) -> Option<&'static StreamSpec> {
    STREAMS.iter().find(|stream| stream.name == name)
}

/// The durable consumers a service owns.
pub fn consumers_of(owner: ServiceKind) -> impl Iterator<Item = &'static ConsumerSpec> {
    CONSUMERS.iter().filter(move |consumer| consumer.owner == owner)
}

/// The stream that captures `subject`.
pub fn stream_for_subject(subject: &str) -> Option<&'static StreamSpec> {
    STREAMS.iter().find(|stream| stream.captures(subject))
}

/// NATS subject matching: `*` matches one token, `>` one or more trailing tokens.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut pattern = pattern.split('.');
    let mut subject = subject.split('.');
    loop {
        match (pattern.next(), subject.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(s)) if p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matching_follows_nats_rules() {
        assert!(subject_matches("cairn.datasets.>", "cairn.datasets.created"));
        assert!(subject_matches("cairn.datasets.>", "cairn.datasets.a.b"));
        assert!(!subject_matches("cairn.datasets.>", "cairn.datasets"));
        assert!(subject_matches("cairn.*.created", "cairn.datasets.created"));
        assert!(!subject_matches("cairn.*.created", "cairn.datasets.a.created"));
        assert!(!subject_matches("cairn.features.>", "cairn.datasets.created"));
    }
}
