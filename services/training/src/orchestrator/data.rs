//! The data step: the dataset version a run trains on (named, its latest, or training data the
//! feature store joins as of each row's time), its rows read from the offline store, the columns
//! chosen, the window applied, and the split the platform makes and keeps — train, validation
//! (early stopping, choosing among trials) and holdout (the gates) — written as three Parquet
//! files beside the run.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array, new_null_array};
use arrow_cast::cast;
use arrow_schema::{Field, Schema as ArrowSchema};
use arrow_select::take::take;
use cairn_api::{DatasetVersion, SplitKind, SplitRows, Task, TrainingDataRequest};
use cairn_domain::{ColumnType, Name, Schema, Timestamp};
use parquet::arrow::ArrowWriter;

use super::{Services, StepError};
use crate::frame;
use crate::random::SplitMix;
use crate::runs::{Prepared, RunRecord};

/// How long a run waits for ingestion to add the feature store's training data as a version.
const ADOPTION_LIMIT: Duration = Duration::from_secs(600);

/// Prepares the run's data; the log lines say what was chosen.
pub async fn prepare(
    services: &Services,
    record: &RunRecord,
) -> Result<(Prepared, SplitRows, Vec<String>), StepError> {
    let spec = &record.spec;
    let data = &spec.data;
    let mut log = Vec::new();
    let (version, service) = resolve(services, record, &mut log).await?;
    let schema = &version.schema;
    let time = match &data.time_column {
        Some(column) => column.clone(),
        None => schema.event_timestamp.to_string(),
    };
    let features = match (&service, data.features.is_empty()) {
        (Some((_, names)), true) => names.clone(),
        (_, false) => data.features.clone(),
        (None, true) => schema
            .columns
            .iter()
            .filter(|column| {
                let name = column.name.as_str();
                column.column_type.is_numeric()
                    && column.column_type != ColumnType::Timestamp
                    && name != data.label
                    && name != time
                    && !schema.entity_keys.iter().any(|key| key.as_str() == name)
                    && !data.exclude.iter().any(|excluded| excluded == name)
            })
            .map(|column| column.name.to_string())
            .collect(),
    };
    if features.is_empty() {
        return Err(StepError::Failed("no feature columns: name them in `data.features`".into()));
    }
    for feature in &features {
        let column =
            schema.columns.iter().find(|column| column.name.as_str() == feature).ok_or_else(|| {
                StepError::Failed(format!("dataset `{}` has no column `{feature}`", version.dataset))
            })?;
        if !frame::numeric(&column.column_type) {
            return Err(StepError::Failed(format!(
                "feature `{feature}` is {}: the platform trains on numbers (encode it in the dataset or the feature view)",
                column.column_type.name()
            )));
        }
    }
    let mut wanted: Vec<String> = features.clone();
    let slices = spec.evaluation.gates.iter().filter_map(|gate| match gate {
        cairn_api::Gate::Slice { column, .. } => Some(column.clone()),
        _ => None,
    });
    for column in [data.label.clone(), time.clone()].into_iter().chain(slices) {
        if !wanted.contains(&column) {
            wanted.push(column);
        }
    }
    let rows = read(services, &version, schema, &wanted).await?;
    log.push(format!("read {} rows of {}@{}", rows.num_rows(), version.dataset, version.version));
    let since = data.last_days.map(|days| Timestamp::now().as_micros() - i64::from(days) * 86_400_000_000);
    let window = (since.or(data.start.map(|start| start.as_micros())), data.end.map(|end| end.as_micros()));
    let rows = keep(&rows, &data.label, &time, window)?;
    let count = rows.num_rows();
    let Parts { train, validation, holdout } = split(&rows, &time, &spec.split)?;
    if train.is_empty() || holdout.is_empty() {
        return Err(StepError::Failed(format!(
            "{count} rows are too few to hold out {:.0}% and still train",
            spec.split.holdout * 100.0
        )));
    }
    let classes = match spec.trainer.task {
        Task::Regression => Vec::new(),
        Task::Binary | Task::Multiclass => frame::classes(
            rows.column_by_name(&data.label)
                .ok_or_else(|| StepError::Failed(format!("no label column `{}`", data.label)))?,
        )
        .map_err(StepError::Failed)?,
    };
    match (spec.trainer.task, classes.len()) {
        (Task::Binary, 2) | (Task::Regression, _) => {}
        (Task::Multiclass, n) if n >= 2 => {}
        (task, n) => {
            return Err(StepError::Failed(format!(
                "the label `{}` has {n} distinct values, which a {} task cannot learn",
                data.label,
                task.as_str()
            )));
        }
    }
    let base = format!("training/runs/{}", record.run.id);
    let mut paths = Vec::new();
    for (part, indices) in [("train", &train), ("validation", &validation), ("holdout", &holdout)] {
        let path = format!("{base}/{part}.parquet");
        write(services, &path, &rows, indices).await?;
        paths.push(path);
    }
    let split_rows = SplitRows {
        train: train.len() as u64,
        validation: validation.len() as u64,
        holdout: holdout.len() as u64,
    };
    log.push(format!(
        "{} features; split {:?}: {} train, {} validation, {} holdout",
        features.len(),
        spec.split.kind,
        split_rows.train,
        split_rows.validation,
        split_rows.holdout
    ));
    let [train_path, validation_path, holdout_path] =
        <[String; 3]>::try_from(paths).map_err(|_| StepError::Failed("three parts".into()))?;
    let prepared = Prepared {
        dataset: version.dataset.clone(),
        version: version.version,
        feature_service: service.map(|(name, _)| name),
        features,
        label: data.label.clone(),
        classes,
        train: train_path,
        validation: validation_path,
        holdout: holdout_path,
    };
    Ok((prepared, split_rows, log))
}

/// The dataset version to train on, and the feature service (`name@version`, features) when the
/// features came from one.
async fn resolve(
    services: &Services,
    record: &RunRecord,
    log: &mut Vec<String>,
) -> Result<(DatasetVersion, Option<(String, Vec<String>)>), StepError> {
    let data = &record.spec.data;
    if let Some(pinned) = &record.pinned {
        log.push(format!(
            "reproducing {}: {}@{}",
            record.run.reproduces.as_deref().unwrap_or("a run"),
            pinned.dataset,
            pinned.version
        ));
        let version = services.ingestion.version(pinned.dataset.as_str(), pinned.version).await?;
        let service = pinned.feature_service.clone().map(|service| (service, pinned.features.clone()));
        return Ok((version, service));
    }
    if let Some(dataset) = &data.dataset {
        let version = match data.version {
            Some(version) => services.ingestion.version(dataset.as_str(), version).await?,
            None => services.ingestion.latest_version(dataset.as_str()).await?,
        };
        return Ok((version, None));
    }
    let (Some(service), Some(entities)) = (&data.feature_service, &data.entity_dataset) else {
        return Err(StepError::Failed("the spec names no data".into()));
    };
    let dataset = Name::parse(format!("{}_training", record.run.pipeline))
        .map_err(|error| StepError::Failed(error.to_string()))?;
    let written = services
        .features
        .training_data(&TrainingDataRequest {
            dataset: dataset.clone(),
            features: Vec::new(),
            feature_service: Some(service.to_string()),
            full_feature_names: false,
            entity_dataset: entities.clone(),
            entity_version: None,
            entity_timestamp: data.time_column.clone(),
        })
        .await?;
    log.push(format!("feature store joined {} rows ({})", written.rows, written.id));
    let started = std::time::Instant::now();
    let version = loop {
        // The dataset is declared when ingestion adopts the first training data written to it.
        match services.ingestion.version_holding(dataset.as_str(), &written.id).await {
            // Listed versions come without their manifest: read the version itself.
            Ok(Some(found)) => break services.ingestion.version(dataset.as_str(), found.version).await?,
            Ok(None) => {}
            Err(error) if error.code() == Some("not_found") => {}
            Err(error) => return Err(error.into()),
        }
        if started.elapsed() > ADOPTION_LIMIT {
            return Err(StepError::Failed(format!(
                "ingestion did not add training data {} within {ADOPTION_LIMIT:?}",
                written.id
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let pinned = written.lineage.feature_service.clone().unwrap_or_else(|| service.to_string());
    let versions = services.features.feature_service_versions(service.as_str()).await?;
    let projected = versions
        .iter()
        .find(|candidate| format!("{}@{}", candidate.name, candidate.version) == pinned)
        .or(versions.last())
        .ok_or_else(|| StepError::Failed(format!("feature service `{service}` has no version")))?;
    let names = projected
        .projections
        .iter()
        .flat_map(|projection| projection.features.iter().map(ToString::to_string))
        .collect();
    Ok((version, Some((pinned, names))))
}

/// The `wanted` columns of every file of the version, in the schema's types (a column an older
/// file lacks is null).
async fn read(
    services: &Services,
    version: &DatasetVersion,
    schema: &Schema,
    wanted: &[String],
) -> Result<RecordBatch, StepError> {
    let arrow = cairn_storage::arrow_schema(schema);
    let fields: Vec<Field> = wanted
        .iter()
        .map(|name| {
            arrow.field_with_name(name).map(|field| field.clone().with_nullable(true)).map_err(|_| {
                StepError::Failed(format!("dataset `{}` has no column `{name}`", version.dataset))
            })
        })
        .collect::<Result<_, _>>()?;
    let target = Arc::new(ArrowSchema::new(fields));
    let mut parts = Vec::new();
    for file in &version.files {
        for batch in services
            .store
            .read_batches(&file.path)
            .await
            .map_err(|error| StepError::Retry(error.to_string()))?
        {
            let columns = target
                .fields()
                .iter()
                .map(|field| match batch.column_by_name(field.name()) {
                    Some(column) if column.data_type() == field.data_type() => Ok(Arc::clone(column)),
                    Some(column) => {
                        cast(column, field.data_type()).map_err(|error| StepError::Failed(error.to_string()))
                    }
                    None => Ok(new_null_array(field.data_type(), batch.num_rows())),
                })
                .collect::<Result<Vec<ArrayRef>, _>>()?;
            parts.push(
                RecordBatch::try_new(Arc::clone(&target), columns)
                    .map_err(|error| StepError::Failed(error.to_string()))?,
            );
        }
    }
    arrow_select::concat::concat_batches(&target, &parts)
        .map_err(|error| StepError::Failed(error.to_string()))
}

/// The rows with a label, and with a time in `[from, until)` where those are given.
fn keep(
    rows: &RecordBatch,
    label: &str,
    time: &str,
    (from, until): (Option<i64>, Option<i64>),
) -> Result<RecordBatch, StepError> {
    let labels =
        rows.column_by_name(label).ok_or_else(|| StepError::Failed(format!("no label column `{label}`")))?;
    let times = frame::micros(
        rows.column_by_name(time).ok_or_else(|| StepError::Failed(format!("no time column `{time}`")))?,
    )
    .map_err(StepError::Failed)?;
    let kept: Vec<u32> = (0..rows.num_rows())
        .filter(|&row| {
            let inside =
                |time: i64| from.is_none_or(|from| time >= from) && until.is_none_or(|until| time < until);
            labels.is_valid(row) && (from.is_none() && until.is_none() || times[row].is_some_and(inside))
        })
        .map(|row| row as u32)
        .collect();
    take_rows(rows, &kept)
}

/// Row indices of each part of a split, each in the rows' order.
#[derive(Debug, Clone, PartialEq)]
struct Parts {
    train: Vec<u32>,
    validation: Vec<u32>,
    holdout: Vec<u32>,
}

/// The rows split into train, validation and holdout.
fn split(rows: &RecordBatch, time: &str, spec: &cairn_api::SplitSpec) -> Result<Parts, StepError> {
    let count = rows.num_rows();
    let mut order: Vec<u32> = (0..count as u32).collect();
    match spec.kind {
        SplitKind::Random => {
            let mut random = SplitMix::new(spec.seed);
            for i in (1..order.len()).rev() {
                order.swap(i, random.below(i + 1));
            }
        }
        SplitKind::Time => {
            let times = frame::micros(
                rows.column_by_name(time)
                    .ok_or_else(|| StepError::Failed(format!("no time column `{time}`")))?,
            )
            .map_err(StepError::Failed)?;
            // Newest first: the holdout is the newest rows, validation the next newest.
            order.sort_by_key(|&row| std::cmp::Reverse(times[row as usize].unwrap_or(i64::MIN)));
        }
    }
    let holdout = ((count as f64) * spec.holdout).round() as usize;
    let validation = ((count as f64) * spec.validation).round() as usize;
    let mut parts = [
        order.get(holdout + validation..).unwrap_or_default().to_vec(),
        order.get(holdout..holdout + validation).unwrap_or_default().to_vec(),
        order.get(..holdout).unwrap_or_default().to_vec(),
    ];
    for part in &mut parts {
        part.sort_unstable();
    }
    let [train, validation, holdout] = parts;
    Ok(Parts { train, validation, holdout })
}

fn take_rows(rows: &RecordBatch, indices: &[u32]) -> Result<RecordBatch, StepError> {
    let indices = UInt32Array::from(indices.to_vec());
    let columns = rows
        .columns()
        .iter()
        .map(|column| take(column.as_ref(), &indices, None))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| StepError::Failed(error.to_string()))?;
    RecordBatch::try_new(rows.schema(), columns).map_err(|error| StepError::Failed(error.to_string()))
}

async fn write(
    services: &Services,
    path: &str,
    rows: &RecordBatch,
    indices: &[u32],
) -> Result<(), StepError> {
    let part = take_rows(rows, indices)?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, part.schema(), None)
        .map_err(|error| StepError::Failed(error.to_string()))?;
    writer.write(&part).map_err(|error| StepError::Failed(error.to_string()))?;
    writer.close().map_err(|error| StepError::Failed(error.to_string()))?;
    services.put(path, bytes).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, TimestampMicrosecondArray};

    fn rows(count: usize) -> RecordBatch {
        let x = Float64Array::from((0..count).map(|i| i as f64).collect::<Vec<_>>());
        let t = TimestampMicrosecondArray::from((0..count).map(|i| (i as i64) * 1000).collect::<Vec<_>>());
        RecordBatch::try_from_iter([("x", Arc::new(x) as ArrayRef), ("t", Arc::new(t) as ArrayRef)]).unwrap()
    }

    #[test]
    fn a_window_keeps_the_rows_of_its_time() {
        let inside = |window| keep(&rows(100), "x", "t", window).unwrap().num_rows();
        assert_eq!(inside((Some(10_000), Some(20_000))), 10, "[start, end)");
        assert_eq!(inside((Some(90_000), None)), 10);
        assert_eq!(inside((None, Some(5_000))), 5);
        assert_eq!(inside((None, None)), 100);
    }

    #[test]
    fn a_time_split_holds_out_the_newest_rows_and_a_random_one_repeats_with_its_seed() {
        let spec = |kind, seed| cairn_api::SplitSpec { kind, holdout: 0.2, validation: 0.1, seed };
        let Parts { train, validation, holdout } = split(&rows(100), "t", &spec(SplitKind::Time, 0)).unwrap();
        assert_eq!(holdout, (80..100).collect::<Vec<u32>>());
        assert_eq!(validation, (70..80).collect::<Vec<u32>>());
        assert_eq!(train, (0..70).collect::<Vec<u32>>());
        let random = split(&rows(100), "t", &spec(SplitKind::Random, 3)).unwrap();
        assert_eq!(random, split(&rows(100), "t", &spec(SplitKind::Random, 3)).unwrap());
        assert_ne!(random, split(&rows(100), "t", &spec(SplitKind::Random, 4)).unwrap());
        let Parts { train, validation, holdout } = random;
        assert_eq!((train.len(), validation.len(), holdout.len()), (70, 10, 20));
        let mut all: Vec<u32> = [train, validation, holdout.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<u32>>(), "every row in exactly one part");
        assert_ne!(holdout, (80..100).collect::<Vec<u32>>(), "shuffled");
    }
}
