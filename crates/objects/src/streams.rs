use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};
use sha2::{Digest as _, Sha256};

use crate::ObjectsError;

/// Multipart upload part size; also the most a small object is buffered before one PUT.
const PART: usize = 8 * 1024 * 1024;
/// Parts in flight at once.
const CONCURRENCY: usize = 2;
/// Range read size for downloads: large enough for full speed from local disk and S3, small
/// enough that a download holds a few MiB however slow its reader.
const RANGE: usize = 2 * 1024 * 1024;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    #[error("more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("reading the input: {0}")]
    Input(E),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}

/// Writes `input` to `path`, hashing it on the way; at most `limit` bytes. Nothing is visible
/// at `path` until the whole input is written, and nothing is left behind when it fails.
pub async fn put_stream<S, E>(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    input: S,
    limit: u64,
) -> Result<Written, PutError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut input = std::pin::pin!(input);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut take = |chunk: &Bytes| -> Result<(), PutError<E>> {
        total += chunk.len() as u64;
        if total > limit {
            return Err(PutError::TooLarge { limit });
        }
        hasher.update(chunk);
        Ok(())
    };
    // Small objects: one request.
    let mut head = BytesMut::new();
    while head.len() < PART {
        match input.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(PutError::Input)?;
                take(&chunk)?;
                head.extend_from_slice(&chunk);
            }
            None => {
                store.put(path, PutPayload::from(head.freeze())).await?;
                return Ok(Written { bytes: total, sha256: hex(&hasher.finalize()) });
            }
        }
    }
    let mut writer = WriteMultipart::new_with_chunk_size(store.put_multipart(path).await?, PART);
    writer.write(&head);
    drop(head);
    let outcome: Result<(), PutError<E>> = async {
        while let Some(chunk) = input.next().await {
            let chunk = chunk.map_err(PutError::Input)?;
            take(&chunk)?;
            writer.wait_for_capacity(CONCURRENCY).await?;
            writer.write(&chunk);
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            writer.finish().await?;
            Ok(Written { bytes: total, sha256: hex(&hasher.finalize()) })
        }
        Err(error) => {
            let _ = writer.abort().await;
            Err(error)
        }
    }
}

/// Streams the `size` bytes of the object at `path` in 2 MiB ranges (two in flight), failing at
/// its end if its SHA-256 is not `sha256`. (A plain `get` of a local file streams 8 KiB reads,
/// each a blocking task: several times slower.)
pub fn get_verified(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
    size: u64,
    sha256: String,
) -> impl Stream<Item = Result<Bytes, ObjectsError>> + use<> {
    let (store, path) = (store.clone(), path.clone());
    let name = path.to_string();
    let ranges = (0..size).step_by(RANGE).map(move |start| start..(start + RANGE as u64).min(size));
    let parts = futures::stream::iter(ranges)
        .map(move |range| {
            let (store, path) = (store.clone(), path.clone());
            async move { store.get_range(&path, range).await }
        })
        .buffered(CONCURRENCY);
    let state = (parts.boxed(), Some(Sha256::new()), 0u64);
    futures::stream::unfold(state, move |(mut parts, hasher, read)| {
        let (sha256, name) = (sha256.clone(), name.clone());
        async move {
            let mut hasher = hasher?;
            match parts.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    let read = read + chunk.len() as u64;
                    Some((Ok(chunk), (parts, Some(hasher), read)))
                }
                Some(Err(error)) => Some((Err(error.into()), (parts, None, read))),
                None => {
                    let actual = hex(&hasher.finalize());
                    (actual != sha256).then(|| {
                        (
                            Err(ObjectsError::Corrupt { path: name, expected: sha256, actual }),
                            (parts, None, read),
                        )
                    })
                }
            }
        }
    })
}

/// Removes the object at `path`; one already gone is fine.
pub async fn delete_if_present(
    store: &Arc<dyn ObjectStore>,
    path: &ObjectPath,
) -> Result<(), object_store::Error> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Bytes as lowercase hex (digests).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;
    use object_store::local::LocalFileSystem;

    use super::*;

    fn chunks(total: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        futures::stream::iter(data.chunks(64 * 1024).map(Bytes::copy_from_slice).map(Ok).collect::<Vec<_>>())
    }

    fn sha(total: usize) -> String {
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        hex(&Sha256::digest(&data))
    }

    #[tokio::test]
    async fn small_and_multipart_objects_round_trip_with_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        for size in [0, 1000, PART + 12345] {
            let path = ObjectPath::from(format!("a/{size}.bin"));
            let written = put_stream(&store, &path, chunks(size), u64::MAX).await.unwrap();
            assert_eq!(written, Written { bytes: size as u64, sha256: sha(size) });
            let read: Vec<Bytes> =
                get_verified(&store, &path, written.bytes, written.sha256).try_collect().await.unwrap();
            assert_eq!(read.iter().map(Bytes::len).sum::<usize>(), size);
        }
    }

    #[tokio::test]
    async fn too_large_leaves_nothing_and_a_changed_object_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let path = ObjectPath::from("big.bin");
        for limit in [100, PART as u64 + 10] {
            let error = put_stream(&store, &path, chunks(PART * 2), limit).await.unwrap_err();
            assert!(matches!(error, PutError::TooLarge { .. }), "{error}");
            assert!(store.head(&path).await.is_err(), "nothing left behind");
        }
        put_stream(&store, &path, chunks(10), u64::MAX).await.unwrap();
        let result: Result<Vec<Bytes>, _> = get_verified(&store, &path, 10, sha(11)).try_collect().await;
        assert!(matches!(result, Err(ObjectsError::Corrupt { .. })));
    }
}
