//! Training data the feature store wrote: added to its dataset as a batch — and so a version —
//! carrying its lineage, the dataset declared from the file's schema when it is absent.

use cairn_api::{DatasetLineage, NewDataset};
use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_domain::{Name, Schema};
use cairn_events::topology::INGESTION_TRAINING_DATA;
use cairn_events::v1::TrainingDataWritten;
use cairn_service::StartError;

use crate::batches::{self, BatchError, Format};
use crate::datasets::{self, DatasetError};
use crate::{Ingestion, catalog};

pub(crate) async fn follow(ingestion: &Ingestion) -> Result<ConsumerHandle, StartError> {
    ingestion
        .context
        .follow(&INGESTION_TRAINING_DATA, ingestion.clone(), |ingestion, delivery| async move {
            adopt(&ingestion, delivery).await
        })
        .await
}

/// Adds the training data to its dataset; a transient failure (database, store) naks the event,
/// anything else (an unreadable file, an incompatible schema) terminates it.
async fn adopt(ingestion: &Ingestion, delivery: Delivery<TrainingDataWritten>) -> Result<(), HandlerError> {
    let event = delivery.event;
    let origin = format!("training_data:{}", event.id);
    // Delivered again after its batch committed: done already.
    let (dataset, wanted) = (event.dataset.clone(), origin.clone());
    let done = ingestion.context.db.run(move |conn| catalog::committed_from(conn, &dataset, &wanted)).await?;
    if done.is_some() {
        return Ok(());
    }
    declare(ingestion, &event).await?;
    let lineage = DatasetLineage {
        training_data: event.id.clone(),
        feature_service: Some(event.feature_service.clone()).filter(|service| !service.is_empty()),
        feature_views: event.feature_views.clone(),
        entity_rows: event.entity_rows.clone(),
        sources: event.sources.clone(),
    };
    let lineage_json = serde_json::to_string(&lineage).map_err(HandlerError::reject)?;
    let body =
        ingestion.store.read_stream(&event.path).await.map_err(BatchError::from)?.ok_or_else(|| {
            HandlerError::reject(format!("training data {}: no file `{}`", event.id, event.path))
        })?;
    let input = batches::Input { body, local: None };
    batches::ingest_from(ingestion, &event.dataset, Format::Parquet, input, Some((origin, lineage_json)))
        .await?;
    // The file was only the hand-off: the batch holds the rows now.
    if let Err(error) = ingestion.store.delete(std::slice::from_ref(&event.path)).await {
        tracing::warn!(path = %event.path, %error, "cannot remove a training data hand-off file");
    }
    Ok(())
}

/// Declares the training data's dataset from the file's schema, unless it exists.
async fn declare(ingestion: &Ingestion, event: &TrainingDataWritten) -> Result<(), HandlerError> {
    let reject = |message: String| HandlerError::reject(format!("training data {}: {message}", event.id));
    let name = Name::parse(event.dataset.clone()).map_err(|error| reject(error.to_string()))?;
    let schema: Schema =
        serde_json::from_str(&event.schema_json).map_err(|error| reject(error.to_string()))?;
    match datasets::create(&ingestion.context, NewDataset { name, schema }).await {
        Ok(_) | Err(DatasetError::Exists(_)) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
