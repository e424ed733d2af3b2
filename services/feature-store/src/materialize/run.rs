//! A materialization's life: started (the version marked online first), executed in the
//! background with its progress in memory, finished (recorded, watermark moved, announced).

use std::sync::Arc;

use cairn_api::{Action, FeatureView, Materialization, MaterializationState, MaterializeRequest, Plan};
use cairn_db::{DbError, Sql, write_transaction};
use cairn_domain::{MaterializationId, Timestamp};
use cairn_events::v1::FeatureViewMaterialized;
use cairn_service::Outbox;
use diesel::prelude::*;
use futures::{StreamExt as _, TryStreamExt as _};

use super::MaterializeError;
use super::latest::{latest_of, readers};
use super::records::save;
use crate::features::Features;
use crate::lock;
use crate::online::{OnlineRow, OnlineStore as _, TableId};
use crate::schema::online_views;
use crate::sources::files_of;

/// Rows written to the online store between progress updates.
const WRITE_CHUNK: usize = 16 * 1024;

impl Features {
    /// Starts materializing a view version; the run continues in the background.
    pub(crate) async fn start(
        self: &Arc<Self>,
        name: &str,
        request: MaterializeRequest,
    ) -> Result<Materialization, MaterializeError> {
        let catalog = self.reload().await?;
        let view = catalog.view(name, request.version).cloned().ok_or_else(|| match request.version {
            Some(version) => {
                MaterializeError::NotFound(format!("no version {version} of feature view `{name}`"))
            }
            None => MaterializeError::NotFound(format!("no feature view `{name}`")),
        })?;
        let key = (name.to_owned(), view.version);
        let watermark = self
            .db
            .run(move |conn| {
                Ok(online_views::table
                    .find(key)
                    .select(online_views::watermark_micros)
                    .first::<i64>(conn)
                    .optional()?)
            })
            .await?
            .filter(|watermark| *watermark != i64::MIN)
            .map(|watermark| {
                Timestamp::from_micros(watermark).ok_or_else(|| {
                    DbError::Corrupt(format!(
                        "feature view `{name}`'s watermark: {watermark} µs is not a time"
                    ))
                })
            })
            .transpose()?;
        let start_at = request.start.or(watermark);
        let end_at = request.end.unwrap_or_else(Timestamp::now);
        if let Some(start_at) = start_at.filter(|start_at| *start_at >= end_at) {
            return Err(MaterializeError::Invalid(format!(
                "nothing to materialize: the range starts at {start_at} and ends at {end_at}"
            )));
        }
        let (start, end) = (start_at.map(|start| start.as_micros()), end_at.as_micros());
        // First the version becomes online — committed before the files are listed — so that a
        // batch landing at any moment is either among the files read here or streamed to the
        // version by the consumer, which looks for online versions after recording the batch.
        let (name, version) = (name.to_owned(), view.version);
        self.db
            .run(move |conn| {
                let mut sql = Sql::new(conn.backend());
                sql.push("INSERT INTO online_views (view, version, watermark_micros, updated_at) VALUES (")
                    .bind(name.as_str())
                    .push(", ")
                    .bind(version)
                    .push(", ")
                    .bind(i64::MIN)
                    .push(", ")
                    .bind(Timestamp::now().as_micros())
                    .push(") ON CONFLICT DO NOTHING");
                sql.execute(conn)?;
                Ok(())
            })
            .await?;
        // A query may read rows of any age to compute the newest ones (a window over the past).
        let read_from = if view.definition.sql.is_some() { None } else { start };
        let files = files_of(&self.db, view.definition.source.to_string(), read_from, end).await?;
        let run = Materialization {
            id: MaterializationId::new().to_string(),
            feature_view: view.definition.name.clone(),
            version: view.version,
            start: start_at,
            end: end_at,
            state: MaterializationState::Running,
            files: files.len() as u64,
            files_read: 0,
            rows_read: 0,
            entities: 0,
            rows_written: 0,
            error: None,
            created_at: Timestamp::now(),
            finished_at: None,
        };
        let row = run.clone();
        self.db.run(move |conn| save(conn, &row)).await?;
        lock(&self.running).insert(run.id.clone(), run.clone());
        let features = self.clone();
        let started = run.clone();
        self.runtime.spawn(async move {
            let outcome = features.execute(&view, &run.id, &files, (start.unwrap_or(i64::MIN), end)).await;
            features.finish(&run.id, outcome.err()).await;
        });
        Ok(started)
    }

    async fn execute(
        self: &Arc<Self>,
        view: &FeatureView,
        id: &str,
        files: &[String],
        range: (i64, i64),
    ) -> Result<(), MaterializeError> {
        let features = self.clone();
        let run = id.to_owned();
        let progress = move |files: u64, rows: u64| {
            features.progress(&run, |run| {
                run.files_read += files;
                run.rows_read += rows;
            });
        };
        let latest = if view.definition.sql.is_some() {
            let latest = self.latest_of_query(view, range, &progress).await?;
            progress(files.len() as u64, 0);
            latest
        } else {
            latest_of(&self.offline, view, files, range, readers(), progress).await?
        };
        self.progress(id, |run| run.entities = latest.rows.len() as u64);
        let table = TableId::new(view.definition.name.as_str(), view.version);
        // The next chunk's writes start while the last ones of a chunk are still in flight.
        let mut rows = latest.into_rows();
        let chunks = std::iter::from_fn(|| {
            let chunk: Vec<(String, OnlineRow)> = rows.by_ref().take(WRITE_CHUNK).collect();
            (!chunk.is_empty()).then_some(chunk)
        });
        let store = self.online.store();
        let mut writes =
            futures::stream::iter(chunks).map(|chunk| store.write(&table, chunk)).buffer_unordered(2);
        while let Some(written) = writes.try_next().await? {
            self.progress(id, |run| run.rows_written += written.written);
        }
        Ok(())
    }

    fn progress(&self, id: &str, change: impl FnOnce(&mut Materialization)) {
        if let Some(run) = lock(&self.running).get_mut(id) {
            change(run);
        }
    }

    /// Records how the run ended, moves the watermark when it succeeded and announces it.
    async fn finish(&self, id: &str, error: Option<MaterializeError>) {
        let Some(mut run) = lock(&self.running).get(id).cloned() else { return };
        run.finished_at = Some(Timestamp::now());
        run.state =
            if error.is_some() { MaterializationState::Failed } else { MaterializationState::Succeeded };
        run.error = error.map(|error| error.to_string());
        if let Some(error) = &run.error {
            tracing::warn!(feature_view = %run.feature_view, version = run.version, %error, "materialization failed");
        }
        let row = run.clone();
        let saved = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    save(conn, &row)?;
                    if row.state == MaterializationState::Succeeded {
                        let end = row.end.as_micros();
                        diesel::update(online_views::table.find((row.feature_view.as_str(), row.version)))
                            .filter(online_views::watermark_micros.lt(end))
                            .set((
                                online_views::watermark_micros.eq(end),
                                online_views::updated_at.eq(Timestamp::now().as_micros()),
                            ))
                            .execute(conn)?;
                    }
                    Outbox::stage(
                        conn,
                        &FeatureViewMaterialized {
                            feature_view: row.feature_view.to_string(),
                            version: row.version,
                            materialization_id: row.id.clone(),
                            start_unix_micros: row.start.map_or(0, |start| start.as_micros()),
                            end_unix_micros: row.end.as_micros(),
                            rows_read: i64::try_from(row.rows_read).unwrap_or(i64::MAX),
                            rows_written: i64::try_from(row.rows_written).unwrap_or(i64::MAX),
                            error: row.error.clone().unwrap_or_default(),
                        },
                    )?;
                    Ok::<_, DbError>(())
                })
            })
            .await;
        if let Err(error) = saved {
            tracing::error!(materialization = id, %error, "cannot record the end of a materialization");
        }
        self.outbox.wake();
        // A version materialized for the first time takes over `view:feature` reads.
        if let Err(error) = self.reload().await {
            tracing::warn!(%error, "cannot read the definitions again after a materialization");
        }
        lock(&self.running).remove(id);
    }

    /// Materializes each new version of a view whose previous version is online, from the
    /// beginning: reads keep the previous version until the new one has its values.
    pub(crate) async fn follow_new_versions(self: &Arc<Self>, plan: &Plan) {
        let catalog = self.online.catalog();
        for change in &plan.changes {
            let (Some(from), Some(to)) = (change.from_version, change.to_version) else { continue };
            let name = change.name.as_str();
            if change.kind != "feature_view"
                || change.action != Action::NewVersion
                || !catalog.is_online(name, from)
            {
                continue;
            }
            let request = MaterializeRequest { version: Some(to), ..MaterializeRequest::default() };
            if let Err(error) = self.start(name, request).await {
                tracing::warn!(feature_view = name, version = to, %error, "the new version's materialization did not start");
            }
        }
    }
}
