#![doc = include_str!("../README.md")]

pub mod headers;
pub mod topology;

/// Messages generated from `proto/cairn/events/v1/*.proto`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/cairn.events.v1.rs"));
}

/// An event type of the platform: a protobuf message with a stable type name and subject.
pub trait Event: prost::Message + Default + Send + Sync + 'static {
    /// The full protobuf name, sent in the `Cairn-Event-Type` header.
    const TYPE: &'static str;
    /// The NATS subject the event is published on.
    const SUBJECT: &'static str;
}

macro_rules! events {
    ($($message:ident => $subject:literal),* $(,)?) => {
        $(
            impl Event for v1::$message {
                const TYPE: &'static str = concat!("cairn.events.v1.", stringify!($message));
                const SUBJECT: &'static str = $subject;
            }
        )*

        /// Every event type and its subject, for documentation and tests.
        pub const EVENT_TYPES: &[(&str, &str)] = &[
            $((concat!("cairn.events.v1.", stringify!($message)), $subject),)*
        ];
    };
}

events! {
    DatasetCreated => "cairn.datasets.created",
    DatasetBatchIngested => "cairn.datasets.batch_ingested",
    DatasetVersionCreated => "cairn.datasets.version_created",
    DataQualityViolated => "cairn.datasets.quality_violated",
    DatasetSchemaEvolved => "cairn.datasets.schema_evolved",
    FeatureViewApplied => "cairn.features.view_applied",
    FeatureViewMaterialized => "cairn.features.materialized",
    TrainingDataWritten => "cairn.features.training_data_written",
    RunStateChanged => "cairn.training.run_state_changed",
    PipelineRunChanged => "cairn.training.pipeline_run_changed",
    TrialChanged => "cairn.training.trial_changed",
    TrialFinished => "cairn.training.trial_finished",
    TrialRequested => "cairn.work.trials",
    ModelVersionCreated => "cairn.registry.model_version_created",
    ModelAliasChanged => "cairn.registry.model_alias_changed",
    ModelStageChanged => "cairn.registry.model_stage_changed",
    ApprovalRequested => "cairn.registry.approval_requested",
    ApprovalDecided => "cairn.registry.approval_decided",
    DeploymentChanged => "cairn.deployments.changed",
    PredictionLogged => "cairn.predictions.logged",
    PredictionLogBatch => "cairn.predictions.log_batch",
    PredictionsWritten => "cairn.predictions.batch_written",
    ServingErrorRate => "cairn.predictions.error_rate",
    PredictionLogLoss => "cairn.predictions.log_loss",
    DriftDetected => "cairn.monitor.drift_detected",
    PerformanceDegraded => "cairn.monitor.performance_degraded",
    LoopDecided => "cairn.monitor.loop_decided",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_belongs_to_exactly_one_stream() {
        for (event_type, subject) in EVENT_TYPES {
            let owners: Vec<_> = topology::STREAMS.iter().filter(|stream| stream.captures(subject)).collect();
            assert_eq!(owners.len(), 1, "{event_type} on {subject}: {owners:?}");
        }
    }

    #[test]
    fn consumers_point_at_declared_streams_and_subjects() {
        for consumer in topology::CONSUMERS {
            let stream = topology::stream(consumer.stream);
            assert!(stream.is_some(), "{consumer:?}");
            let stream = stream.into_iter().next();
            assert!(
                stream
                    .is_some_and(|s| s.captures(consumer.filter_subject)
                        || s.subjects.contains(&consumer.filter_subject)),
                "{consumer:?}"
            );
            assert!(!consumer.durable.contains('.'), "durable names cannot contain dots");
        }
    }

    #[test]
    fn messages_round_trip_through_protobuf() {
        let event = v1::ModelAliasChanged {
            model: "churn".into(),
            alias: "champion".into(),
            previous_version: 3,
            version: 4,
            changed_by: "ana".into(),
        };
        let bytes = prost::Message::encode_to_vec(&event);
        let decoded = <v1::ModelAliasChanged as prost::Message>::decode(bytes.as_slice());
        assert_eq!(decoded.ok(), Some(event));
    }
}
