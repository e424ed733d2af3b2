//! Artifact files of runs (and, later, models) in the object store, indexed in the database
//! with their size and SHA-256. Uploads and downloads stream; a path is only accepted when it is
//! plainly inside an existing run's artifact root, after undoing any percent-encoding.

use std::sync::Arc;

use bytes::Bytes;
use cairn_db::{AnyConnection, Backend, Database, DbError, Sql};
use cairn_objects::{
    ObjectPath, ObjectStore, ObjectStoreExt as _, ObjectsError, PutError, Written, delete_if_present,
    get_verified, put_stream,
};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use futures::{Stream, StreamExt as _};

use crate::tracking::now_millis;

#[derive(Clone)]
pub struct Artifacts {
    pub store: Arc<dyn ObjectStore>,
    pub max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("invalid artifact path `{path}`: {reason}")]
    Path { path: String, reason: &'static str },
    #[error("{0}")]
    NotFound(String),
    #[error("artifact is larger than the limit of {limit} bytes (registry.max_artifact_bytes)")]
    TooLarge { limit: u64 },
    #[error("reading the upload: {0}")]
    Upload(String),
    #[error("artifact store: {0}")]
    Store(#[from] ObjectsError),
    #[error("{0}")]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for ArtifactError {
    fn from(error: diesel::result::Error) -> Self {
        ArtifactError::Database(DbError::Query(error))
    }
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name inside the listed directory.
    pub name: String,
    pub is_dir: bool,
    pub bytes: Option<u64>,
}

/// Undoes percent-encoding (repeatedly, so `%252e` cannot smuggle a dot through) and accepts
/// only a relative path of plain segments: no `.`, `..` or empty segment, no backslash, no NUL.
pub fn safe_path(raw: &str) -> Result<String, ArtifactError> {
    let bad = |reason| ArtifactError::Path { path: raw.to_owned(), reason };
    let mut path = raw.to_owned();
    for _ in 0..4 {
        let decoded = percent_encoding::percent_decode_str(&path)
            .decode_utf8()
            .map_err(|_| bad("it is not UTF-8 once decoded"))?
            .into_owned();
        if decoded == path {
            break;
        }
        path = decoded;
    }
    if path.contains('%')
        && percent_encoding::percent_decode_str(&path).decode_utf8().is_ok_and(|d| d != path)
    {
        return Err(bad("it is percent-encoded too many times"));
    }
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Err(bad("it is empty"));
    }
    if path.starts_with('/') || path.split('/').next().is_some_and(|first| first.ends_with(':')) {
        return Err(bad("it must be relative"));
    }
    if path.contains('\\') || path.contains('\0') {
        return Err(bad("backslashes and NUL are not allowed"));
    }
    if path.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        return Err(bad("`.`, `..` and empty segments are not allowed"));
    }
    Ok(path.to_owned())
}

/// Checks that `path` lies inside the artifact root of an existing run or logged model of the
/// experiment it names: `<experiment>/<run>/artifacts[/...]` or
/// `<experiment>/models/<model>/artifacts[/...]`.
fn check_root(
    conn: &mut AnyConnection,
    backend: Backend,
    path: &str,
    access: Access,
) -> Result<(), ArtifactError> {
    let outside = || ArtifactError::Path {
        path: path.to_owned(),
        reason: "it must lie under <experiment>/<run>/artifacts of an existing run, or \
                 <experiment>/models/<model>/artifacts of an existing logged model",
    };
    let segments: Vec<&str> = path.splitn(5, '/').collect();
    if let ["registered", id, ..] = segments.as_slice() {
        // Registered model versions' copies: readable, never written through the proxy.
        if access == Access::Write {
            return Err(ArtifactError::Path {
                path: path.to_owned(),
                reason: "registered model versions are immutable",
            });
        }
        return exists(conn, backend, "model_versions", "id", id, None)
            .and_then(|found| found.then_some(()).ok_or_else(outside));
    }
    let (table, column, id) = match segments.as_slice() {
        [_, "models", model, "artifacts", ..] => ("logged_models", "model_id", *model),
        [_, run, "artifacts", ..] => ("runs", "run_uuid", *run),
        _ => return Err(outside()),
    };
    let experiment: i64 = segments[0].parse().map_err(|_| outside())?;
    if exists(conn, backend, table, column, id, Some(experiment))? { Ok(()) } else { Err(outside()) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

fn exists(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    column: &str,
    id: &str,
    experiment: Option<i64>,
) -> Result<bool, ArtifactError> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ")).bind(id);
    if let Some(experiment) = experiment {
        sql.push(" AND experiment_id = ").bind(experiment);
    }
    Ok(sql.load::<Found>(conn)?.first().is_some_and(|row| row.n > 0))
}

/// Streams `body` to `path` (already made safe), then records its size and hash.
pub async fn upload<S, E>(
    db: &Database,
    artifacts: &Artifacts,
    path: String,
    body: S,
) -> Result<Written, ArtifactError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let backend = db.backend();
    let checked = path.clone();
    db.call(move |conn| check_root(conn, backend, &checked, Access::Write)).await?;
    let written = put_stream(&artifacts.store, &ObjectPath::from(path.as_str()), body, artifacts.max_bytes)
        .await
        .map_err(|error| match error {
            PutError::TooLarge { limit } => ArtifactError::TooLarge { limit },
            PutError::Input(error) => ArtifactError::Upload(error.to_string()),
            PutError::Store(error) => ArtifactError::Store(error.into()),
        })?;
    let (bytes, sha256) = (written.bytes as i64, written.sha256.clone());
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO artifacts (path, bytes, sha256, created_at) VALUES (")
            .bind(path)
            .push(", ")
            .bind(bytes)
            .push(", ")
            .bind(sha256)
            .push(", ")
            .bind(now_millis())
            .push(") ON CONFLICT (path) DO UPDATE SET bytes = excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at");
        sql.execute(conn).map_err(ArtifactError::from)
    })
    .await?;
    Ok(written)
}

#[derive(QueryableByName)]
struct ArtifactRow {
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = Text)]
    sha256: String,
}

/// The file's size and its bytes, checked against the recorded hash as they stream. The hash is
/// known only once the last byte is read, so the last chunk is held back until it is checked:
/// a changed file never reaches a client whole. One that fits in the first chunk fails before
/// the answer starts (a clean error status); a larger one stops short of its declared length,
/// which HTTP clients report as a broken download.
pub async fn download(
    db: &Database,
    artifacts: &Artifacts,
    path: String,
) -> Result<(u64, impl Stream<Item = Result<Bytes, ObjectsError>> + use<>), ArtifactError> {
    let backend = db.backend();
    let wanted = path.clone();
    let row = db
        .call(move |conn| {
            // Indexed files all lie inside a root; checking again refuses what lies outside
            // (400) rather than answering that it is absent, whatever the index holds.
            check_root(conn, backend, &wanted, Access::Read)?;
            let mut sql = Sql::new(backend);
            sql.push("SELECT path, bytes, sha256 FROM artifacts WHERE path = ").bind(wanted);
            Ok::<_, ArtifactError>(sql.load::<ArtifactRow>(conn)?.pop())
        })
        .await?
        .ok_or_else(|| ArtifactError::NotFound(format!("no artifact at {path}")))?;
    let (path, size) = (ObjectPath::from(row.path.as_str()), row.bytes as u64);
    // The index names it, so a missing file is damage, not a 404.
    artifacts.store.head(&path).await.map_err(|error| ArtifactError::Store(error.into()))?;
    let mut bytes = Box::pin(hold_back_last(get_verified(&artifacts.store, &path, size, row.sha256)));
    let first = bytes.next().await.transpose()?;
    Ok((size, futures::stream::iter(first.map(Ok)).chain(bytes)))
}

/// Passes `chunks` on one behind, so the last goes out only once the stream has ended well:
/// an error at the end (a hash mismatch) replaces the last chunk instead of following it.
fn hold_back_last<S>(chunks: S) -> impl Stream<Item = Result<Bytes, ObjectsError>>
where
    S: Stream<Item = Result<Bytes, ObjectsError>>,
{
    futures::stream::unfold(Some((Box::pin(chunks), None::<Bytes>)), |state| async move {
        let (mut chunks, mut held) = state?;
        loop {
            match chunks.next().await {
                Some(Ok(chunk)) => match held.replace(chunk) {
                    Some(previous) => return Some((Ok(previous), Some((chunks, held)))),
                    None => continue,
                },
                Some(Err(error)) => return Some((Err(error), None)),
                None => return held.map(|last| (Ok(last), None)),
            }
        }
    })
}

/// The files and directories directly inside `path`.
pub async fn list(db: &Database, path: String) -> Result<Vec<Entry>, ArtifactError> {
    let backend = db.backend();
    db.call(move |conn| {
        check_root(conn, backend, &path, Access::Read)?;
        let prefix = format!("{path}/");
        let mut sql = Sql::new(backend);
        // Everything under `path/`: from "path/" up to "path0" ('0' follows '/').
        sql.push("SELECT path, bytes, sha256 FROM artifacts WHERE path >= ")
            .bind(prefix.clone())
            .push(" AND path < ")
            .bind(format!("{path}0"))
            .push(" ORDER BY path");
        let mut entries: Vec<Entry> = Vec::new();
        for row in sql.load::<ArtifactRow>(conn)? {
            let rest = &row.path[prefix.len()..];
            match rest.split_once('/') {
                Some((dir, _)) => {
                    if entries.last().is_none_or(|last| last.name != dir) {
                        entries.push(Entry { name: dir.to_owned(), is_dir: true, bytes: None });
                    }
                }
                None => entries.push(Entry {
                    name: rest.to_owned(),
                    is_dir: false,
                    bytes: Some(row.bytes as u64),
                }),
            }
        }
        entries.dedup_by(|a, b| a.name == b.name && a.is_dir && b.is_dir);
        Ok(entries)
    })
    .await
}

/// Every file under `path`, at any depth, with its size and hash (no root check: for the
/// registry's own reads of a version's files).
pub(crate) async fn files_under(db: &Database, path: String) -> Result<Vec<CopiedFile>, DbError> {
    let backend = db.backend();
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("SELECT path, bytes, sha256 FROM artifacts WHERE path >= ")
            .bind(format!("{path}/"))
            .push(" AND path < ")
            .bind(format!("{path}0"))
            .push(" ORDER BY path");
        Ok(sql
            .load::<ArtifactRow>(conn)?
            .into_iter()
            .map(|row| CopiedFile { path: row.path, bytes: row.bytes, sha256: row.sha256 })
            .collect())
    })
    .await
}

/// Removes a file, or every file under a directory.
pub async fn delete(db: &Database, artifacts: &Artifacts, path: String) -> Result<(), ArtifactError> {
    let backend = db.backend();
    let paths = db
        .call(move |conn| {
            check_root(conn, backend, &path, Access::Write)?;
            let mut sql = Sql::new(backend);
            sql.push("SELECT path, bytes, sha256 FROM artifacts WHERE path = ")
                .bind(path.clone())
                .push(" OR (path >= ")
                .bind(format!("{path}/"))
                .push(" AND path < ")
                .bind(format!("{path}0"))
                .push(")");
            Ok::<_, ArtifactError>(
                sql.load::<ArtifactRow>(conn)?.into_iter().map(|row| row.path).collect::<Vec<_>>(),
            )
        })
        .await?;
    if paths.is_empty() {
        return Err(ArtifactError::NotFound("no artifact there".into()));
    }
    delete_objects(artifacts, &paths).await?;
    db.call(move |conn| {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM artifacts WHERE path IN ").bind_list(paths);
        sql.execute(conn).map_err(ArtifactError::from)
    })
    .await?;
    Ok(())
}

/// A file copied within the store, not yet in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedFile {
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
}

/// Copies the file `from`, or every file under the directory `from`, to `to` (keeping relative
/// paths); the copies go into the index with `insert_files` in the caller's transaction.
pub async fn copy_tree(
    db: &Database,
    artifacts: &Artifacts,
    from: String,
    to: String,
) -> Result<Vec<CopiedFile>, ArtifactError> {
    let backend = db.backend();
    let under = from.clone();
    let rows = db
        .call(move |conn| {
            let mut sql = Sql::new(backend);
            sql.push("SELECT path, bytes, sha256 FROM artifacts WHERE path = ")
                .bind(under.clone())
                .push(" OR (path >= ")
                .bind(format!("{under}/"))
                .push(" AND path < ")
                .bind(format!("{under}0"))
                .push(") ORDER BY path");
            Ok::<_, ArtifactError>(sql.load::<ArtifactRow>(conn)?)
        })
        .await?;
    let mut copied = Vec::with_capacity(rows.len());
    for row in rows {
        let relative = row.path.strip_prefix(&from).unwrap_or_default().trim_start_matches('/');
        let name =
            if relative.is_empty() { row.path.rsplit('/').next().unwrap_or_default() } else { relative };
        let target = format!("{to}/{name}");
        artifacts
            .store
            .copy(&ObjectPath::from(row.path.as_str()), &ObjectPath::from(target.as_str()))
            .await
            .map_err(|error| ArtifactError::Store(error.into()))?;
        copied.push(CopiedFile { path: target, bytes: row.bytes, sha256: row.sha256 });
    }
    Ok(copied)
}

pub(crate) fn insert_files(
    conn: &mut AnyConnection,
    backend: Backend,
    files: &[CopiedFile],
) -> Result<(), ArtifactError> {
    for file in files {
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO artifacts (path, bytes, sha256, created_at) VALUES (")
            .bind(file.path.clone())
            .push(", ")
            .bind(file.bytes)
            .push(", ")
            .bind(file.sha256.clone())
            .push(", ")
            .bind(now_millis())
            .push(")");
        sql.execute(conn)?;
    }
    Ok(())
}

/// Removes the index rows of every file under `dir`; their paths, for `delete_objects` after
/// the transaction commits.
pub(crate) fn remove_index_under(
    conn: &mut AnyConnection,
    backend: Backend,
    dir: &str,
) -> Result<Vec<String>, ArtifactError> {
    let mut select = Sql::new(backend);
    select
        .push("SELECT path, bytes, sha256 FROM artifacts WHERE path >= ")
        .bind(format!("{dir}/"))
        .push(" AND path < ")
        .bind(format!("{dir}0"));
    let paths: Vec<String> = select.load::<ArtifactRow>(conn)?.into_iter().map(|row| row.path).collect();
    if !paths.is_empty() {
        let mut delete = Sql::new(backend);
        delete.push("DELETE FROM artifacts WHERE path IN ").bind_list(paths.clone());
        delete.execute(conn)?;
    }
    Ok(paths)
}

pub(crate) async fn delete_objects(artifacts: &Artifacts, paths: &[String]) -> Result<(), ArtifactError> {
    for path in paths {
        delete_if_present(&artifacts.store, &ObjectPath::from(path.as_str()))
            .await
            .map_err(|error| ArtifactError::Store(error.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(
        items: Vec<Result<&'static str, &'static str>>,
    ) -> impl Stream<Item = Result<Bytes, ObjectsError>> {
        futures::stream::iter(items.into_iter().map(|item| {
            item.map(Bytes::from).map_err(|path| ObjectsError::Corrupt {
                path: path.into(),
                expected: "a".into(),
                actual: "b".into(),
            })
        }))
    }

    async fn collect(items: Vec<Result<&'static str, &'static str>>) -> Vec<Result<Bytes, String>> {
        hold_back_last(chunks(items)).map(|item| item.map_err(|error| error.to_string())).collect().await
    }

    /// A verified stream ends with the error after its last chunk; held back one, the error
    /// takes the last chunk's place, so no client receives every byte of a changed file.
    #[tokio::test]
    async fn the_last_chunk_waits_for_the_end_of_the_stream() {
        let all = collect(vec![Ok("a"), Ok("b"), Ok("c")]).await;
        assert_eq!(all, vec![Ok(Bytes::from("a")), Ok(Bytes::from("b")), Ok(Bytes::from("c"))]);
        let failed = collect(vec![Ok("a"), Ok("b"), Err("x")]).await;
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert_eq!(failed[0], Ok(Bytes::from("a")));
        assert!(failed[1].is_err(), "{failed:?}");
        assert!(collect(vec![Ok("a"), Err("x")]).await[0].is_err());
        assert!(collect(vec![]).await.is_empty());
    }

    #[test]
    fn paths_stay_inside() {
        assert_eq!(safe_path("0/abc/artifacts/model/m.onnx").unwrap(), "0/abc/artifacts/model/m.onnx");
        assert_eq!(safe_path("0/abc/artifacts/a%20b.txt").unwrap(), "0/abc/artifacts/a b.txt");
        for bad in [
            "",
            "/etc/passwd",
            "0/abc/artifacts/../../../etc/passwd",
            "0/abc/artifacts/%2e%2e/%2e%2e/x",
            "0/abc/artifacts/%252e%252e/x",
            "0/abc/artifacts/%25252e%25252e/x",
            "0/abc//artifacts",
            "0/abc/artifacts/./x",
            "0\\abc",
            "C:/windows",
            "file:/etc/passwd",
            "0/abc/artifacts/x%00",
        ] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
    }
}
