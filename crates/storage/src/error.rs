#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("staging file {path}: {source}")]
    Staging { path: String, source: std::io::Error },
    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("building Arrow data: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error(transparent)]
    Objects(#[from] cairn_objects::ObjectsError),
    #[error("record timestamp {0} is out of range")]
    Timestamp(i64),
}
