//! Training data written as a new version of a dataset: put in the offline store and announced
//! (`TrainingDataWritten`), for ingestion to add with its lineage.

use cairn_api::{DatasetLineage, TrainingData, TrainingDataRequest};
use cairn_db::write_transaction;
use cairn_domain::{Timestamp, TrainingDataId};
use cairn_events::v1::TrainingDataWritten;
use cairn_service::Outbox;
use cairn_storage::StagedFile;

use super::{EntitySource, HistoricalError, NoUpload, Request, Selection};
use crate::features::Features;

impl Features {
    /// Training data joined like [`Self::historical`] on a dataset version's rows, written as a
    /// new version of `request.dataset`.
    pub(crate) async fn training_data(
        &self,
        request: TrainingDataRequest,
    ) -> Result<TrainingData, HistoricalError> {
        let joining: Request<NoUpload> = Request {
            entities: EntitySource::Dataset {
                name: request.entity_dataset.to_string(),
                version: request.entity_version,
            },
            features: Selection::new(
                (!request.features.is_empty()).then_some(request.features),
                request.feature_service,
            )?,
            full_feature_names: request.full_feature_names,
            entity_timestamp: request.entity_timestamp,
        };
        let joined = self.historical(joining).await?;
        let id = TrainingDataId::new().to_string();
        let object = format!("training-data/{id}.parquet");
        let staged = StagedFile {
            local: joined.path.clone(),
            object: object.clone(),
            rows: joined.rows,
            min_event_micros: 0,
            max_event_micros: 0,
            written: None,
        };
        self.offline.upload(&staged).await?;
        let lineage = DatasetLineage {
            training_data: id.clone(),
            model: None,
            feature_service: joined.feature_service.clone(),
            feature_views: joined.views.clone(),
            entity_rows: joined.entity_rows.clone().unwrap_or_default(),
            sources: joined.sources.clone(),
        };
        let event = TrainingDataWritten {
            id: id.clone(),
            dataset: request.dataset.to_string(),
            schema_json: schema_json(&joined.schema),
            path: object,
            rows: i64::try_from(joined.rows).unwrap_or(i64::MAX),
            feature_service: lineage.feature_service.clone().unwrap_or_default(),
            feature_views: lineage.feature_views.clone(),
            entity_rows: lineage.entity_rows.clone(),
            sources: lineage.sources.clone(),
            written_at_unix_micros: Timestamp::now().as_micros(),
        };
        self.db
            .run(move |conn| write_transaction(conn, |conn| Outbox::stage(conn, &event).map(|_| ())))
            .await?;
        self.outbox.wake();
        Ok(TrainingData { id, dataset: request.dataset, rows: joined.rows, lineage })
    }
}

/// A schema as JSON: plain data (names, types, flags and numbers, which serde_json writes even
/// when not finite), so writing it cannot fail.
#[expect(clippy::unwrap_used, reason = "a schema always serializes to JSON (see above)")]
fn schema_json(schema: &cairn_domain::Schema) -> String {
    serde_json::to_string(schema).unwrap()
}
