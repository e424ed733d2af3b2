//! Drift between two dataset versions, column by column (`POST /v1/drift`, `cairn drift A B`):
//! the reference version's column read from the offline store builds the reference (cairn-drift,
//! Evidently's method and threshold for its type and size), the current version's column is
//! counted into a window, and each column gets its verdict; the dataset drifts when enough of them
//! do. One column is in memory at a time. Transport-neutral: the handler passes a
//! [`DriftRequest`].

use arrow_array::Array as _;
use arrow_array::cast::AsArray as _;
use arrow_array::types::Float64Type;
use arrow_cast::cast;
use arrow_schema::DataType;
use cairn_api::{ColumnDrift, DatasetVersion, DriftReport, DriftRequest, VersionRef};
use cairn_client::{Client, ClientError};
use cairn_domain::ColumnType;
use cairn_drift::{CategoricalReference, DriftOptions, NumericReference, Verdict};
use cairn_storage::OfflineStore;
use futures::TryStreamExt as _;

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<ClientError> for DriftError {
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Api { status: 404, .. } => DriftError::NotFound(error.to_string()),
            _ => DriftError::Unavailable(error.to_string()),
        }
    }
}

pub struct BatchDrift {
    ingestion: Client,
    store: OfflineStore,
}

/// How a column is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Numeric,
    Categorical,
}

fn kind(column_type: &ColumnType) -> Option<Kind> {
    match column_type {
        ColumnType::Int32 | ColumnType::Int64 | ColumnType::Float32 | ColumnType::Float64 => {
            Some(Kind::Numeric)
        }
        ColumnType::Bool | ColumnType::String | ColumnType::Categorical { .. } => Some(Kind::Categorical),
        ColumnType::Timestamp => None,
    }
}

impl BatchDrift {
    pub fn new(ingestion: Client, store: OfflineStore) -> Self {
        Self { ingestion, store }
    }

    pub async fn compare(&self, request: DriftRequest) -> Result<DriftReport, DriftError> {
        let share = request.drift_share.unwrap_or(cairn_drift::DEFAULT_DRIFT_SHARE);
        if !(share > 0.0 && share <= 1.0) {
            return Err(DriftError::Invalid(format!("drift_share must lie in (0, 1], got {share}")));
        }
        let reference = self.version(&request.reference).await?;
        let current = self.version(&request.current).await?;
        let columns = columns(&reference, &current, &request.columns)?;
        let mut compared = Vec::with_capacity(columns.len());
        let mut verdicts = Vec::with_capacity(columns.len());
        for (name, kind) in columns {
            let (verdict, drift) = self.column(&reference, &current, &name, kind).await?;
            verdicts.push(verdict);
            compared.push(drift);
        }
        let dataset = cairn_drift::dataset_drift(&verdicts, share)
            .map_err(|error| DriftError::Invalid(error.to_string()))?;
        Ok(DriftReport {
            reference: format!("{}@{}", reference.dataset, reference.version),
            current: format!("{}@{}", current.dataset, current.version),
            columns: compared,
            drifted_columns: dataset.drifted_columns,
            share: dataset.share,
            share_threshold: dataset.share_threshold,
            dataset_drift: dataset.drifted,
        })
    }

    /// The version with its manifest.
    async fn version(&self, wanted: &VersionRef) -> Result<DatasetVersion, DriftError> {
        let dataset = wanted.dataset.as_str();
        Ok(match wanted.version {
            Some(version) => self.ingestion.version(dataset, version).await?,
            None => self.ingestion.latest_version(dataset).await?,
        })
    }

    async fn column(
        &self,
        reference: &DatasetVersion,
        current: &DatasetVersion,
        name: &str,
        kind: Kind,
    ) -> Result<(Verdict, ColumnDrift), DriftError> {
        let failed =
            |error: cairn_drift::DriftError| DriftError::Invalid(format!("column `{name}`: {error}"));
        let options = DriftOptions::default();
        let (verdict, counts) = match kind {
            Kind::Numeric => {
                let built =
                    NumericReference::from_values(&self.numbers(reference, name).await?).map_err(failed)?;
                let mut window = built.window();
                window.add_many(&self.numbers(current, name).await?);
                let verdict = built.verdict(&window, &options).map_err(failed)?;
                (verdict, [built.count(), window.count(), built.missing(), window.missing()])
            }
            Kind::Categorical => {
                let values = self.texts(reference, name).await?;
                let built =
                    CategoricalReference::from_values(values.iter().map(Option::as_deref)).map_err(failed)?;
                let mut window = built.window();
                window.add_many(self.texts(current, name).await?.iter().map(Option::as_deref));
                let verdict = built.verdict(&window, &options).map_err(failed)?;
                (verdict, [built.count(), window.count(), built.missing(), window.missing()])
            }
        };
        let [reference_rows, current_rows, reference_missing, current_missing] = counts;
        let method =
            serde_json::to_value(verdict.method).ok().and_then(|value| value.as_str().map(str::to_owned));
        Ok((
            verdict,
            ColumnDrift {
                column: name.to_owned(),
                kind: if kind == Kind::Numeric { "numeric" } else { "categorical" }.into(),
                method: method.unwrap_or_default(),
                value: verdict.value,
                threshold: verdict.threshold,
                drifted: verdict.drifted,
                reference_rows,
                current_rows,
                reference_missing,
                current_missing,
            },
        ))
    }

    /// A column of every file of the version, read alone (Parquet projection), as `to`.
    async fn read(
        &self,
        version: &DatasetVersion,
        name: &str,
        to: &DataType,
    ) -> Result<Vec<arrow_array::ArrayRef>, DriftError> {
        let mut columns = Vec::new();
        let unavailable = |error: cairn_storage::StorageError| DriftError::Unavailable(error.to_string());
        for file in &version.files {
            let parquet = self.store.parquet_file(&file.path).await.map_err(unavailable)?;
            let groups = parquet.row_groups();
            let mut batches = self.store.stream_columns(&parquet, &[name], 0..groups).map_err(unavailable)?;
            while let Some(batch) = batches.try_next().await.map_err(unavailable)? {
                match batch.column_by_name(name) {
                    Some(column) => columns
                        .push(cast(column, to).map_err(|error| DriftError::Invalid(error.to_string()))?),
                    // A file written before the column was added: its rows have no value.
                    None => columns.push(arrow_array::new_null_array(to, batch.num_rows())),
                }
            }
        }
        Ok(columns)
    }

    async fn numbers(&self, version: &DatasetVersion, name: &str) -> Result<Vec<f64>, DriftError> {
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

    async fn texts(&self, version: &DatasetVersion, name: &str) -> Result<Vec<Option<String>>, DriftError> {
        let columns = self.read(version, name, &DataType::Utf8).await?;
        Ok(columns
            .iter()
            .flat_map(|column| {
                let values = column.as_string::<i32>();
                (0..values.len()).map(move |row| values.is_valid(row).then(|| values.value(row).to_owned()))
            })
            .collect())
    }
}

/// The columns to compare and how: those named, or every column both versions hold but the event
/// time (and timestamps).
fn columns(
    reference: &DatasetVersion,
    current: &DatasetVersion,
    named: &[String],
) -> Result<Vec<(String, Kind)>, DriftError> {
    let in_current = |name: &str| current.schema.columns.iter().any(|column| column.name.as_str() == name);
    if named.is_empty() {
        return Ok(reference
            .schema
            .columns
            .iter()
            .filter(|column| {
                column.name != reference.schema.event_timestamp && in_current(column.name.as_str())
            })
            .filter_map(|column| Some((column.name.to_string(), kind(&column.column_type)?)))
            .collect());
    }
    named
        .iter()
        .map(|name| {
            let column = reference.schema.columns.iter().find(|column| column.name.as_str() == name);
            match column {
                None => Err(DriftError::Invalid(format!(
                    "columns: the reference {}@{} has no column `{name}`",
                    reference.dataset, reference.version
                ))),
                Some(_) if !in_current(name) => Err(DriftError::Invalid(format!(
                    "columns: the current {}@{} has no column `{name}`",
                    current.dataset, current.version
                ))),
                Some(column) => kind(&column.column_type).map(|kind| (name.clone(), kind)).ok_or_else(|| {
                    DriftError::Invalid(format!(
                        "columns: `{name}` is a timestamp, which drift does not compare"
                    ))
                }),
            }
        })
        .collect()
}
