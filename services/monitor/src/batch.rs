//! Drift between two dataset versions, column by column (`POST /v1/drift`, `cairn drift A B`):
//! the reference version's column read from the offline store builds the reference (cairn-drift,
//! Evidently's method and threshold for its type and size), the current version's column is
//! counted into a window, and each column gets its verdict; the dataset drifts when enough of them
//! do. One column is in memory at a time. Transport-neutral: the handler passes a
//! [`DriftRequest`].

use cairn_api::{ColumnDrift, DatasetVersion, DriftReport, DriftRequest, VersionRef};
use cairn_drift::{DriftOptions, Kind, Verdict};

use crate::columns::{Columns, kind, kind_name};
use crate::error::MonitorError;

pub struct BatchDrift {
    columns: std::sync::Arc<Columns>,
}

impl BatchDrift {
    pub fn new(columns: std::sync::Arc<Columns>) -> Self {
        Self { columns }
    }

    pub async fn compare(&self, request: DriftRequest) -> Result<DriftReport, MonitorError> {
        let share = request.drift_share.unwrap_or(cairn_drift::DEFAULT_DRIFT_SHARE);
        if !(share > 0.0 && share <= 1.0) {
            return Err(MonitorError::Invalid(format!("drift_share must lie in (0, 1], got {share}")));
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
            .map_err(|error| MonitorError::Invalid(error.to_string()))?;
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

    async fn version(&self, wanted: &VersionRef) -> Result<DatasetVersion, MonitorError> {
        self.columns.version(wanted.dataset.as_str(), wanted.version).await
    }

    async fn column(
        &self,
        reference: &DatasetVersion,
        current: &DatasetVersion,
        name: &str,
        kind: Kind,
    ) -> Result<(Verdict, ColumnDrift), MonitorError> {
        let built = self.columns.reference(reference, name, kind).await?;
        let mut window = built.window();
        match kind {
            Kind::Numeric => {
                for value in self.columns.numbers(current, name).await? {
                    window.add_number(value);
                }
            }
            Kind::Categorical => {
                for value in self.columns.texts(current, name).await? {
                    window.add_text(value.as_deref());
                }
            }
        }
        let verdict = built
            .verdict(&window, &DriftOptions::default())
            .map_err(|error| MonitorError::Invalid(format!("column `{name}`: {error}")))?;
        Ok((verdict, column_drift(name, &built, &window, &verdict)))
    }
}

/// A column's verdict as the API shows it.
pub fn column_drift(
    name: &str,
    reference: &cairn_drift::Reference,
    window: &cairn_drift::Window,
    verdict: &Verdict,
) -> ColumnDrift {
    let method =
        serde_json::to_value(verdict.method).ok().and_then(|value| value.as_str().map(str::to_owned));
    ColumnDrift {
        column: name.to_owned(),
        kind: kind_name(reference.kind()).into(),
        method: method.unwrap_or_default(),
        value: verdict.value,
        threshold: verdict.threshold,
        drifted: verdict.drifted,
        reference_rows: reference.count(),
        current_rows: window.count(),
        reference_missing: reference.missing(),
        current_missing: window.missing(),
    }
}

/// The columns to compare and how: those named, or every column both versions hold but the event
/// time (and timestamps).
fn columns(
    reference: &DatasetVersion,
    current: &DatasetVersion,
    named: &[String],
) -> Result<Vec<(String, Kind)>, MonitorError> {
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
                None => Err(MonitorError::Invalid(format!(
                    "columns: the reference {}@{} has no column `{name}`",
                    reference.dataset, reference.version
                ))),
                Some(_) if !in_current(name) => Err(MonitorError::Invalid(format!(
                    "columns: the current {}@{} has no column `{name}`",
                    current.dataset, current.version
                ))),
                Some(column) => kind(&column.column_type).map(|kind| (name.clone(), kind)).ok_or_else(|| {
                    MonitorError::Invalid(format!(
                        "columns: `{name}` is a timestamp, which drift does not compare"
                    ))
                }),
            }
        })
        .collect()
}
