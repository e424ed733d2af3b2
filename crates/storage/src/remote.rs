//! Object stores named by URL: the offline store in S3-compatible storage, and the sources
//! batches are imported from (`s3://`, `http(s)://`, `file://`).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use cairn_config::S3Config;
use cairn_objects::s3_bucket;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt as _};
use url::Url;

/// Why a source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{0}` is not a URL of a supported kind (s3://, http://, https://, file://)")]
    Unsupported(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} is outside the directories imports may read (ingestion.import_roots)")]
    Forbidden(String),
    #[error("reading {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

/// A source file of a batch import, opened for streaming.
pub struct Source {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
    /// The file itself when it is local (`file://`), for readers that seek (Parquet).
    pub local: Option<PathBuf>,
}

/// Opens `url` for reading: `s3://bucket/key` with `s3`, `http(s)://…` as a plain GET, and
/// `file:///path` only under one of `roots` (after resolving symlinks and `..`).
pub async fn open_source(url: &str, s3: &S3Config, roots: &[PathBuf]) -> Result<Source, SourceError> {
    let unsupported = || SourceError::Unsupported(url.to_owned());
    let parsed = Url::parse(url).map_err(|_| unsupported())?;
    let unreachable = |reason: String| SourceError::Unreachable { url: url.to_owned(), reason };
    let (store, path): (Arc<dyn ObjectStore>, ObjectPath) = match parsed.scheme() {
        "s3" => {
            let bucket = parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(unsupported)?;
            let key = ObjectPath::from_url_path(parsed.path()).map_err(|_| unsupported())?;
            (s3_bucket(bucket, s3).map_err(|e| unreachable(e.to_string()))?, key)
        }
        "http" | "https" => {
            let origin = parsed.origin().ascii_serialization();
            let options = ClientOptions::new().with_allow_http(parsed.scheme() == "http");
            let store = HttpBuilder::new()
                .with_url(origin)
                .with_client_options(options)
                .build()
                .map_err(|e| unreachable(e.to_string()))?;
            let path = ObjectPath::from_url_path(parsed.path()).map_err(|_| unsupported())?;
            (Arc::new(store), path)
        }
        "file" => {
            let local = parsed.to_file_path().map_err(|()| unsupported())?;
            let resolved =
                std::fs::canonicalize(&local).map_err(|_| SourceError::NotFound(url.to_owned()))?;
            let allowed = roots
                .iter()
                .filter_map(|root| std::fs::canonicalize(root).ok())
                .any(|root| resolved.starts_with(root));
            if !allowed {
                return Err(SourceError::Forbidden(url.to_owned()));
            }
            return open_local(resolved).await.map_err(|error| unreachable(error.to_string()));
        }
        _ => return Err(unsupported()),
    };
    match store.get(&path).await {
        Ok(result) => {
            Ok(Source { size: result.meta.size, stream: result.into_stream().boxed(), local: None })
        }
        Err(object_store::Error::NotFound { .. }) => Err(SourceError::NotFound(url.to_owned())),
        Err(error) => Err(unreachable(error.to_string())),
    }
}

/// A local file streamed in 1 MiB pieces (`object_store`'s local store reads 8 KiB at a time,
/// each on a blocking task of its own).
async fn open_local(path: PathBuf) -> std::io::Result<Source> {
    let file = tokio::fs::File::open(&path).await?;
    let metadata = file.metadata().await?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a file"));
    }
    let size = metadata.len();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).map(|read| {
        read.map_err(|error| object_store::Error::Generic { store: "file", source: Box::new(error) })
    });
    Ok(Source { size, stream: stream.boxed(), local: Some(path) })
}
