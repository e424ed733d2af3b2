use std::path::Path;
use std::sync::Arc;

use cairn_config::S3Config;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error("`{0}` is not an s3://bucket[/prefix] URL")]
    Url(String),
    #[error("cannot create {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{path} does not match its recorded SHA-256 (expected {expected}, read {actual})")]
    Corrupt { path: String, expected: String, actual: String },
}

/// An S3 (or S3-compatible) bucket with the configured endpoint and credentials; what the
/// configuration leaves empty comes from `AWS_*` environment variables.
pub fn s3_bucket(bucket: &str, s3: &S3Config) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket).with_allow_http(s3.allow_http);
    if !s3.endpoint.is_empty() {
        builder = builder.with_endpoint(&s3.endpoint);
    }
    if !s3.region.is_empty() {
        builder = builder.with_region(&s3.region);
    }
    if !s3.access_key_id.is_empty() {
        builder = builder.with_access_key_id(&s3.access_key_id);
    }
    if let Some(secret) = s3.secret_access_key.expose() {
        builder = builder.with_secret_access_key(secret);
    }
    Ok(Arc::new(builder.build()?))
}

/// A store in the local directory `root` (created if missing).
pub fn open_local(root: &Path) -> Result<Arc<LocalFileSystem>, ObjectsError> {
    std::fs::create_dir_all(root)
        .map_err(|source| ObjectsError::Directory { path: root.display().to_string(), source })?;
    Ok(Arc::new(LocalFileSystem::new_with_prefix(root)?))
}

/// The store `url` names: `s3://bucket[/prefix]` (with `s3`), or when `url` is empty the local
/// directory `local` (created if missing).
pub fn open_store(url: &str, local: &Path, s3: &S3Config) -> Result<Arc<dyn ObjectStore>, ObjectsError> {
    if url.is_empty() {
        return Ok(open_local(local)?);
    }
    let bad = || ObjectsError::Url(url.to_owned());
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    let bucket = parsed.host_str().filter(|_| parsed.scheme() == "s3").ok_or_else(bad)?;
    let store = s3_bucket(bucket, s3)?;
    let prefix = parsed.path().trim_matches('/');
    if prefix.is_empty() {
        return Ok(store);
    }
    Ok(Arc::new(PrefixStore::new(store, prefix)))
}
