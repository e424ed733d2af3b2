//! The crate's one error type: every refusal names what was wrong, so a pipeline run's failure
//! message is enough to fix the spec or the data.

#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("unknown parameter `{name}` for the {trainer} trainer (known: {known})")]
    UnknownParameter { trainer: &'static str, name: String, known: String },
    #[error("{name} must be {expected}, got {got}")]
    InvalidParameter { name: &'static str, expected: &'static str, got: String },
    #[error("invalid frame: {0}")]
    Frame(String),
    #[error("invalid target: {0}")]
    Target(String),
    #[error(
        "feature `{feature}` has missing values (NaN); linear models need them imputed first (an \
         imputation step in the pipeline), or use the gbdt trainer, which learns where they go"
    )]
    MissingValues { feature: String },
    #[error("the frame has no feature `{feature}`, which the model was trained on")]
    MissingFeature { feature: String },
    #[error(
        "the least-squares system is singular (constant or collinear features); set l2 > 0 or drop \
         the redundant features"
    )]
    Singular,
}
