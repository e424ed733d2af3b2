//! A dataset version's columns read from the offline store one at a time (Parquet projection),
//! and the drift reference they make: what the batch check and the prediction log's references
//! are built from.

use arrow_array::Array as _;
use arrow_array::cast::AsArray as _;
use arrow_array::types::Float64Type;
use arrow_cast::cast;
use arrow_schema::DataType;
use cairn_api::DatasetVersion;
use cairn_client::Client;
use cairn_domain::ColumnType;
use cairn_drift::{CategoricalReference, Kind, NumericReference, Reference};
use cairn_storage::OfflineStore;
use futures::TryStreamExt as _;

use crate::error::MonitorError;

/// How a column of `column_type` is compared; timestamps are not.
pub fn kind(column_type: &ColumnType) -> Option<Kind> {
    match column_type {
        ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float32 | ColumnType::Float64 => {
            Some(Kind::Numeric)
        }
        ColumnType::Bool | ColumnType::String | ColumnType::Categorical { .. } => Some(Kind::Categorical),
        ColumnType::Timestamp => None,
    }
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Numeric => "numeric",
        Kind::Categorical => "categorical",
    }
}

pub struct Columns {
    ingestion: Client,
    store: OfflineStore,
}

impl Columns {
    pub fn new(ingestion: Client, store: OfflineStore) -> Self {
        Self { ingestion, store }
    }

    /// The version (the latest when `None`) with its manifest.
    pub async fn version(&self, dataset: &str, version: Option<i64>) -> Result<DatasetVersion, MonitorError> {
        Ok(match version {
            Some(version) => self.ingestion.version(dataset, version).await?,
            None => self.ingestion.latest_version(dataset).await?,
        })
    }

    /// The reference of column `name` of `version`, compared as `kind`.
    pub async fn reference(
        &self,
        version: &DatasetVersion,
        name: &str,
        kind: Kind,
    ) -> Result<Reference, MonitorError> {
        let failed = |error: cairn_drift::DriftError| {
            MonitorError::Invalid(format!(
                "column `{name}` of {}@{}: {error}",
                version.dataset, version.version
            ))
        };
        Ok(match kind {
            Kind::Numeric => Reference::Numeric(
                NumericReference::from_values(&self.numbers(version, name).await?).map_err(failed)?,
            ),
            Kind::Categorical => {
                let values = self.texts(version, name).await?;
                Reference::Categorical(
                    CategoricalReference::from_values(values.iter().map(Option::as_deref)).map_err(failed)?,
                )
            }
        })
    }

    /// A column of every file of the version, read alone (Parquet projection), as `to`.
    async fn read(
        &self,
        version: &DatasetVersion,
        name: &str,
        to: &DataType,
    ) -> Result<Vec<arrow_array::ArrayRef>, MonitorError> {
        let paths: Vec<&str> = version.files.iter().map(|file| file.path.as_str()).collect();
        self.read_files(&paths, name, to).await
    }

    /// A column of these offline-store files, as `to`.
    async fn read_files(
        &self,
        paths: &[&str],
        name: &str,
        to: &DataType,
    ) -> Result<Vec<arrow_array::ArrayRef>, MonitorError> {
        let mut columns = Vec::new();
        for path in paths {
            let parquet = self.store.parquet_file(path).await?;
            let groups = parquet.row_groups();
            let mut batches = self.store.stream_columns(&parquet, &[name], 0..groups)?;
            while let Some(batch) = batches.try_next().await? {
                match batch.column_by_name(name) {
                    Some(column) => columns
                        .push(cast(column, to).map_err(|error| MonitorError::Invalid(error.to_string()))?),
                    // A file written before the column was added: its rows have no value.
                    None => columns.push(arrow_array::new_null_array(to, batch.num_rows())),
                }
            }
        }
        Ok(columns)
    }

    /// A column of these files as text, missing as `None`.
    pub async fn file_texts(&self, paths: &[&str], name: &str) -> Result<Vec<Option<String>>, MonitorError> {
        Ok(texts(&self.read_files(paths, name, &DataType::Utf8).await?))
    }

    /// A column's values as numbers, missing as NaN.
    pub async fn numbers(&self, version: &DatasetVersion, name: &str) -> Result<Vec<f64>, MonitorError> {
        let columns = self.read(version, name, &DataType::Float64).await?;
        Ok(columns
            .iter()
            .flat_map(|column| {
                let values = column.as_primitive::<Float64Type>();
                (0..values.len())
                    .map(move |row| if values.is_valid(row) { values.value(row) } else { f64::NAN })
            })
            .collect())
    }

    /// A column's values as text, missing as `None`.
    pub async fn texts(
        &self,
        version: &DatasetVersion,
        name: &str,
    ) -> Result<Vec<Option<String>>, MonitorError> {
        Ok(texts(&self.read(version, name, &DataType::Utf8).await?))
    }
}

fn texts(columns: &[arrow_array::ArrayRef]) -> Vec<Option<String>> {
    columns
        .iter()
        .flat_map(|column| {
            let values = column.as_string::<i32>();
            (0..values.len()).map(move |row| values.is_valid(row).then(|| values.value(row).to_owned()))
        })
        .collect()
}
