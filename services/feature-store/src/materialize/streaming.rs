//! The streaming path: the rows of every batch ingestion lands, written to the view versions
//! already online, without a job.

use std::sync::Arc;

use cairn_bus::{ConsumerHandle, Delivery, HandlerError};
use cairn_db::inbox;
use cairn_events::topology::FEATURE_STORE_BATCHES;
use cairn_events::v1::DatasetBatchIngested;
use cairn_service::{ServiceContext, StartError};

use super::MaterializeError;
use super::latest::{latest_of, readers};
use crate::features::{Features, online_versions};
use crate::online::{OnlineStore as _, TableId};
use crate::sources;
use crate::transform;

/// Follows the batches ingestion lands: records their files, then pushes their rows online.
pub(crate) async fn follow_batches(
    context: &ServiceContext,
    features: Arc<Features>,
) -> Result<ConsumerHandle, StartError> {
    context.follow(&FEATURE_STORE_BATCHES, features, on_batch).await
}

async fn on_batch(
    features: Arc<Features>,
    delivery: Delivery<DatasetBatchIngested>,
) -> Result<(), HandlerError> {
    let event = delivery.event;
    if event.files.is_empty() {
        return Ok(());
    }
    let (event_id, sequence) =
        (delivery.event_id.to_string(), i64::try_from(delivery.stream_sequence).unwrap_or(i64::MAX));
    let recorded = event.clone();
    features
        .db
        .run(move |conn| {
            inbox::apply_once(conn, FEATURE_STORE_BATCHES.durable, &event_id, |conn| {
                sources::record_files(conn, &recorded, sequence)
            })
        })
        .await?;
    // Writing again after a redelivery changes nothing: older rows never replace newer ones.
    Ok(features.push(&event.dataset, &event.files, event.min_event_time_unix_micros).await?)
}

impl Features {
    /// The streaming path: writes the newest row per entity of a batch's files to each online
    /// version of the views built on the batch's dataset. A view with a query is computed again
    /// and its rows from the batch's earliest event time on are written: those are the rows the
    /// batch can have changed when the query computes a row per event, as windows do.
    pub(super) async fn push(
        &self,
        dataset: &str,
        files: &[String],
        earliest: i64,
    ) -> Result<(), MaterializeError> {
        let online = online_versions(&self.db, false).await?;
        let mut catalog = self.online.catalog();
        if online.iter().any(|(view, version)| catalog.view(view, Some(*version)).is_none()) {
            catalog = self.reload().await?;
        }
        for (name, version) in online {
            let Some(view) = catalog.view(&name, Some(version)) else { continue };
            let latest = if view.definition.sql.is_some() {
                if !transform::reads(&catalog, view, dataset) {
                    continue;
                }
                self.latest_of_query(view, (earliest, i64::MAX), &|_, _| {}).await?
            } else if view.definition.source.as_str() == dataset {
                latest_of(&self.offline, view, files, (i64::MIN, i64::MAX), readers(), |_, _| {}).await?
            } else {
                continue;
            };
            let table = TableId::new(name, version);
            self.online.store().write(&table, latest.into_rows().collect()).await?;
        }
        Ok(())
    }
}
