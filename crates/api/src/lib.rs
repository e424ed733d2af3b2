#![doc = include_str!("../README.md")]

mod batches;
mod datasets;
mod error;
mod features;
mod monitor;
mod online;
mod operations;
mod registry;
mod serving;
mod training;

pub use batches::{
    Batch, BatchPage, DatasetFile, DatasetLineage, DatasetVersion, NewImport, QuarantinedRecord, VersionPage,
};
pub use cairn_records::{ColumnProfile, ColumnQuality, ProfileSummary, QualityReport, Violation};
pub use datasets::{Dataset, NewDataset, SchemaRevision, SourceDataset};
pub use error::{ErrorBody, ErrorDetail};
pub use features::{
    Action, ApplyRequest, Definitions, Entity, EntityDef, FeatureDef, FeatureService, FeatureServiceDef,
    FeatureView, FeatureViewDef, Materialization, MaterializationState, MaterializeRequest, Plan,
    PlannedChange, Projection, TrainingData, TrainingDataRequest,
};
pub use monitor::{
    ColumnDrift, DriftReport, DriftRequest, EndpointMonitor, FeedbackSummary, LivePerformance, LoopEvent,
    LoopPolicy, LoopStatus, MonitorWindow, OpenWindow, SlicePerformance, Unjudged, VersionRef,
};
pub use online::{EventTime, FeatureVector, FieldStatus, OnlineRequest, OnlineResponse, ResponseMetadata};
pub use operations::{Health, Readiness};
pub use registry::{
    AliasAt, AliasMove, AliasRequest, AuditEntry, DatasetRef, Decision, Lineage, Model, ModelFile,
    ModelVersion, ModelVersionSummary, NewAliasRequest, OnnxDim, OnnxSignature, OnnxTensor, Run, RunPage,
    TrainedModel,
};
pub use serving::{
    Canary, Endpoint, EndpointSpec, PredictRequest, PredictResponse, Records, ScoringJob, ScoringRequest,
    StreamScoring,
};
pub use training::{
    BuiltinTrainer, DataSpec, EvaluationSpec, Gate, GateResult, NewPipelineRun, Objective, ParamRange,
    Pipeline, PipelinePlan, PipelineRun, PipelineSpec, RegistrationSpec, RunState, RunStep, SearchSpec,
    SplitKind, SplitRows, SplitSpec, Strategy, Task, TrainerSpec, Trial, Trigger,
};
