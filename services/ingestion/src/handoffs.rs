//! Rows other services computed and handed over as one Parquet file in the offline store — the
//! feature store's training data, serving's batch predictions — added to their dataset as a batch
//! (and so a version) carrying their lineage, the dataset declared from the file's schema when it
//! is absent.

use cairn_api::{DatasetLineage, NewDataset};
use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_domain::{Name, Schema};
use cairn_events::topology::{INGESTION_PREDICTIONS, INGESTION_TRAINING_DATA};
use cairn_events::v1::{PredictionsWritten, TrainingDataWritten};
use cairn_service::StartError;

use crate::batches::{self, BatchError, Format};
use crate::datasets::{self, DatasetError};
use crate::{Ingestion, catalog};

/// Follows both hand-overs.
pub(crate) async fn follow(ingestion: &Ingestion) -> Result<Vec<ConsumerHandle>, StartError> {
    let training = ingestion
        .context
        .follow(&INGESTION_TRAINING_DATA, ingestion.clone(), |ingestion, delivery| async move {
            adopt(&ingestion, training_data(delivery)).await
        })
        .await?;
    let predictions = ingestion
        .context
        .follow(&INGESTION_PREDICTIONS, ingestion.clone(), |ingestion, delivery| async move {
            adopt(&ingestion, predictions(delivery)).await
        })
        .await?;
    Ok(vec![training, predictions])
}

/// A file handed over: what it holds and where it came from.
struct Handoff {
    /// The batch's origin, which makes a redelivery a no-op.
    origin: String,
    dataset: String,
    schema_json: String,
    path: String,
    lineage: DatasetLineage,
}

fn training_data(delivery: Delivery<TrainingDataWritten>) -> Handoff {
    let event = delivery.event;
    Handoff {
        origin: format!("training_data:{}", event.id),
        dataset: event.dataset,
        schema_json: event.schema_json,
        path: event.path,
        lineage: DatasetLineage {
            training_data: event.id,
            model: None,
            feature_service: Some(event.feature_service).filter(|service| !service.is_empty()),
            feature_views: event.feature_views,
            entity_rows: event.entity_rows,
            sources: event.sources,
        },
    }
}

fn predictions(delivery: Delivery<PredictionsWritten>) -> Handoff {
    let event = delivery.event;
    Handoff {
        origin: format!("predictions:{}", event.id),
        dataset: event.dataset,
        schema_json: event.schema_json,
        path: event.path,
        lineage: DatasetLineage {
            training_data: event.id,
            model: Some(format!("{}@{}", event.model, event.model_version)),
            feature_service: None,
            feature_views: Vec::new(),
            entity_rows: event.input,
            sources: Vec::new(),
        },
    }
}

/// Adds the file's rows to their dataset; a transient failure (database, store) naks the event,
/// anything else (an unreadable file, an incompatible schema) terminates it.
async fn adopt(ingestion: &Ingestion, handoff: Handoff) -> Result<(), HandlerError> {
    // Delivered again after its batch committed: done already.
    let (dataset, wanted) = (handoff.dataset.clone(), handoff.origin.clone());
    let done = ingestion.context.db.run(move |conn| catalog::committed_from(conn, &dataset, &wanted)).await?;
    if done.is_some() {
        return Ok(());
    }
    declare(ingestion, &handoff).await?;
    let lineage_json = serde_json::to_string(&handoff.lineage).map_err(HandlerError::reject)?;
    let body = ingestion
        .store
        .read_stream(&handoff.path)
        .await
        .map_err(BatchError::from)?
        .ok_or_else(|| HandlerError::reject(format!("{}: no file `{}`", handoff.origin, handoff.path)))?;
    let input = batches::Input { body, local: None };
    batches::ingest_from(
        ingestion,
        &handoff.dataset,
        Format::Parquet,
        input,
        Some((handoff.origin, lineage_json)),
    )
    .await?;
    // The file was only the hand-off: the batch holds the rows now.
    if let Err(error) = ingestion.store.delete(std::slice::from_ref(&handoff.path)).await {
        tracing::warn!(path = %handoff.path, %error, "cannot remove a hand-off file");
    }
    Ok(())
}

/// Declares the hand-off's dataset from the file's schema, unless it exists.
async fn declare(ingestion: &Ingestion, handoff: &Handoff) -> Result<(), HandlerError> {
    let reject = |message: String| HandlerError::reject(format!("{}: {message}", handoff.origin));
    let name = Name::parse(handoff.dataset.clone()).map_err(|error| reject(error.to_string()))?;
    let schema: Schema =
        serde_json::from_str(&handoff.schema_json).map_err(|error| reject(error.to_string()))?;
    match datasets::create(&ingestion.context, NewDataset { name, schema }).await {
        Ok(_) | Err(DatasetError::Exists(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
