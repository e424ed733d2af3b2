use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use bytes::Bytes;
use cairn_config::CairnConfig;
use cairn_objects::{PutError, Written, delete_if_present, hex, open_local, open_store, put_stream};
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::object_reader::ObjectReader;
use crate::quarantine::read_quarantined;
use crate::{Quarantined, StagedFile, StorageError};

const CHUNK: usize = 8 * 1024 * 1024;

/// A file in the store, as a version manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub min_event_micros: i64,
    pub max_event_micros: i64,
}

/// A Parquet file of the store with its footer read ([`OfflineStore::parquet_file`]).
#[derive(Clone)]
pub struct ParquetFile {
    path: String,
    metadata: ArrowReaderMetadata,
}

impl ParquetFile {
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How many row groups the file has.
    pub fn row_groups(&self) -> usize {
        self.metadata.metadata().num_row_groups()
    }
}

/// The object store holding datasets (a local directory by default).
#[derive(Clone)]
pub struct OfflineStore {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is a local directory: a staged file is moved into it, not copied.
    local: Option<Arc<LocalFileSystem>>,
}

impl OfflineStore {
    /// A store in a local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self, StorageError> {
        let local = open_local(root)?;
        Ok(Self { store: local.clone(), local: Some(local) })
    }

    /// The store the configuration names: `storage.offline_url` (`s3://bucket/prefix`, with
    /// `[storage.s3]`) or else the local `offline_root`.
    pub fn from_config(config: &CairnConfig) -> Result<Self, StorageError> {
        if config.storage.offline_url.is_empty() {
            return Self::local(&config.offline_root());
        }
        Ok(Self::from_object_store(open_store(
            &config.storage.offline_url,
            &config.offline_root(),
            &config.storage.s3,
        )?))
    }

    pub fn from_object_store(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, local: None }
    }

    /// The object store itself, for engines that read the files directly (DataFusion).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Streams a staged file into the store (in parts, never whole in memory), hashing it on
    /// the way, then removes the staged copy. A local store takes it by rename, with the hash
    /// made as it was written (or by reading it once).
    pub async fn upload(&self, staged: &StagedFile) -> Result<StoredFile, StorageError> {
        let staging_error =
            |source| StorageError::Staging { path: staged.local.display().to_string(), source };
        let stored = |written: Written| StoredFile {
            path: staged.object.clone(),
            rows: staged.rows,
            bytes: written.bytes,
            sha256: written.sha256,
            min_event_micros: staged.min_event_micros,
            max_event_micros: staged.max_event_micros,
        };
        if let Some(local) = &self.local {
            let target = local.path_to_filesystem(&ObjectPath::from(staged.object.as_str()))?;
            let (source, written) = (staged.local.clone(), staged.written.clone());
            let moved = tokio::task::spawn_blocking(move || move_into(&source, &target, written))
                .await
                .map_err(|error| staging_error(std::io::Error::other(error)))?
                .map_err(staging_error)?;
            if let Some(written) = moved {
                return Ok(stored(written));
            }
        }
        let file = tokio::fs::File::open(&staged.local).await.map_err(staging_error)?;
        let input = tokio_util::io::ReaderStream::with_capacity(file, CHUNK);
        let path = ObjectPath::from(staged.object.as_str());
        let written = put_stream(&self.store, &path, input, u64::MAX).await.map_err(|error| match error {
            PutError::Input(source) => staging_error(source),
            PutError::Store(error) => error.into(),
            PutError::TooLarge { limit } => {
                staging_error(std::io::Error::other(format!("over {limit} bytes")))
            }
        })?;
        let _ = tokio::fs::remove_file(&staged.local).await;
        Ok(stored(written))
    }

    /// Removes files; ones already gone are fine.
    pub async fn delete(&self, paths: &[String]) -> Result<(), StorageError> {
        for path in paths {
            delete_if_present(&self.store, &ObjectPath::from(path.as_str())).await?;
        }
        Ok(())
    }

    /// A file's bytes as they arrive (never whole in memory); `None` when there is no such file.
    pub async fn read_stream(
        &self,
        path: &str,
    ) -> Result<Option<BoxStream<'static, Result<Bytes, StorageError>>>, StorageError> {
        match self.store.get(&ObjectPath::from(path)).await {
            Ok(found) => Ok(Some(found.into_stream().map_err(StorageError::from).boxed())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores `bytes` whole at `path` (small files the platform writes itself: a training run's
    /// split, a trial's model), replacing what was there.
    pub async fn write(&self, path: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store.put(&ObjectPath::from(path), bytes.into()).await?;
        Ok(())
    }

    pub async fn read(&self, path: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&ObjectPath::from(path)).await?.bytes().await?)
    }

    /// The first `limit` records of a quarantine file, read with range requests (the file may be
    /// large; only its footer and first row group are fetched).
    pub async fn quarantined(&self, path: &str, limit: usize) -> Result<Vec<Quarantined>, StorageError> {
        let reader = ObjectReader::new(self.store.clone(), path);
        let mut stream = ParquetRecordBatchStreamBuilder::new(reader).await?.with_limit(limit).build()?;
        let mut found = Vec::new();
        while let Some(batch) = stream.try_next().await? {
            read_quarantined(&batch, &mut found)?;
        }
        found.truncate(limit);
        Ok(found)
    }

    /// The columns `columns` of a Parquet file (in the file's column order; those it lacks, as
    /// files written before a column was added do, left out), batch by batch, read
    /// with range requests: only the footer and those columns' chunks are fetched, and memory
    /// holds one row group's worth at a time.
    /// A Parquet file's footer, read once so that its row groups can be read apart (by several
    /// threads) without reading it again for each.
    pub async fn parquet_file(&self, path: &str) -> Result<ParquetFile, StorageError> {
        let mut reader = ObjectReader::new(self.store.clone(), path);
        let metadata = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::default()).await?;
        Ok(ParquetFile { path: path.to_owned(), metadata })
    }

    /// The named columns of `row_groups` of a Parquet file (those it has; a column it lacks is
    /// left out), as a stream of batches: only those column chunks are read.
    pub fn stream_columns(
        &self,
        file: &ParquetFile,
        columns: &[&str],
        row_groups: Range<usize>,
    ) -> Result<BoxStream<'static, Result<RecordBatch, StorageError>>, StorageError> {
        let reader = ObjectReader::new(self.store.clone(), &file.path);
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, file.metadata.clone());
        let fields = builder.schema().fields();
        let indices = columns
            .iter()
            .filter_map(|column| fields.iter().position(|field| field.name() == column))
            .collect::<Vec<_>>();
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        let stream = builder
            .with_projection(mask)
            .with_row_groups(row_groups.collect())
            .with_batch_size(64 * 1024)
            .build()?;
        Ok(stream.map_err(StorageError::from).boxed())
    }

    /// A whole Parquet file as Arrow batches (small files: inspection and tests).
    pub async fn read_batches(&self, path: &str) -> Result<Vec<RecordBatch>, StorageError> {
        let bytes = self.read(path).await?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()?;
        Ok(reader.collect::<Result<Vec<_>, _>>()?)
    }
}

/// Moves a staged file into a local store by rename (its directories created), hashing it first
/// unless it was `written` hashed; `None` when the two are on different file systems, where only
/// a copy can move it.
fn move_into(source: &Path, target: &Path, written: Option<Written>) -> std::io::Result<Option<Written>> {
    let written = match written {
        Some(written) => written,
        None => {
            let mut hasher = Sha256::new();
            let bytes = std::io::copy(&mut std::fs::File::open(source)?, &mut hasher)?;
            Written { bytes, sha256: hex(&hasher.finalize()) }
        }
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::rename(source, target) {
        Ok(()) => Ok(Some(written)),
        Err(error) if error.kind() == std::io::ErrorKind::CrossesDevices => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, TimestampMicrosecondType};
    use cairn_domain::{BatchId, Name, Schema};
    use cairn_records::Value;

    use super::*;
    use crate::{PartitionedWriter, QuarantineWriter};

    fn schema() -> Schema {
        serde_json::from_value(serde_json::json!({
            "columns": [
                {"name": "id", "type": "int64", "nullable": false},
                {"name": "ts", "type": "timestamp", "nullable": false},
                {"name": "amount", "type": "float32"},
                {"name": "channel", "type": "categorical", "values": ["web", "store"]}
            ],
            "event_timestamp": "ts"
        }))
        .unwrap()
    }

    const DAY: i64 = 86_400_000_000;

    #[tokio::test]
    async fn records_land_in_date_partitions_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = OfflineStore::local(&dir.path().join("store")).unwrap();
        let dataset = Name::parse("tx").unwrap();
        let batch = BatchId::new();
        let mut writer =
            PartitionedWriter::new(&dir.path().join("staging"), &dataset, &schema(), batch).unwrap();
        let mut rows = crate::BatchBuilder::new(&schema());
        for i in 0..3000i64 {
            let channel = if i % 2 == 0 { Value::Str("web".into()) } else { Value::Null };
            rows.push(&vec![Value::Int(i), Value::Timestamp((i % 3) * DAY + i), Value::Float(0.5), channel]);
            if rows.len() == 1000 {
                writer.push(&rows.finish().unwrap()).unwrap();
            }
        }
        let staged = writer.finish().unwrap();
        assert_eq!(staged.len(), 3);
        assert_eq!(staged[0].object, format!("datasets/tx/data/date=1970-01-01/part-{batch}-00000.parquet"));
        assert_eq!(staged.iter().map(|s| s.rows).sum::<u64>(), 3000);

        let mut total = 0;
        for file in &staged {
            let stored = store.upload(file).await.unwrap();
            assert!(!file.local.exists(), "the staged copy is removed");
            let bytes = store.read(&stored.path).await.unwrap();
            assert_eq!(stored.bytes, bytes.len() as u64);
            assert_eq!(stored.sha256, hex(&Sha256::digest(&bytes)));
            for batch in store.read_batches(&stored.path).await.unwrap() {
                total += batch.num_rows();
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
                for row in 0..batch.num_rows() {
                    let day = ts.value(row).div_euclid(DAY);
                    assert_eq!(day, ids.value(row) % 3, "every row is in its event date's partition");
                    assert!(
                        ts.value(row) >= stored.min_event_micros && ts.value(row) <= stored.max_event_micros
                    );
                }
            }
        }
        assert_eq!(total, 3000);
        store.delete(&[staged[0].object.clone(), "datasets/none.parquet".into()]).await.unwrap();
        assert!(store.read(&staged[0].object).await.is_err());
    }

    #[tokio::test]
    async fn quarantined_records_keep_their_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let store = OfflineStore::local(dir.path()).unwrap();
        let dataset = Name::parse("tx").unwrap();
        let mut writer = QuarantineWriter::new(
            &dir.path().join("staging"),
            &dataset,
            vec!["id".into(), "ts".into()],
            BatchId::new(),
            0,
        )
        .unwrap();
        let violation =
            cairn_records::Violation { column: "id".into(), rule: "not_null".into(), value: "null".into() };
        writer.push(7, &vec![Value::Null, Value::Timestamp(0)], std::slice::from_ref(&violation)).unwrap();
        let staged = writer.finish().unwrap().unwrap();
        let stored = store.upload(&staged).await.unwrap();
        let batches = store.read_batches(&stored.path).await.unwrap();
        let violations = batches[0].column(2).as_string::<i32>().value(0).to_owned();
        assert!(violations.contains("not_null"), "{violations}");
        let read = store.quarantined(&stored.path, 10).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].line, read[0].record.as_str()),
            (7, r#"{"id":null,"ts":"1970-01-01T00:00:00.000000Z"}"#)
        );
        assert_eq!(read[0].violations, [violation]);
        let empty = QuarantineWriter::new(&dir.path().join("staging"), &dataset, vec![], BatchId::new(), 0)
            .unwrap()
            .finish();
        assert!(empty.unwrap().is_none());
    }
}
