//! The views a request joins, made local: each view's rows as Parquet files (its source's files,
//! or its query's result written to one), with what the lineage records of them.

use std::path::Path;
use std::sync::Arc;

use arrow_schema::DataType;
use cairn_storage::data_type;

use super::HistoricalError;
use super::columns::ViewLayout;
use crate::features::Features;
use crate::online::{Catalog, Group};
use crate::point_in_time::{ViewFiles, ViewSpec, columns_of};
use crate::sources::{self, files_of};

/// The views of a request, ready to join.
pub(super) struct Views {
    pub(super) files: Vec<ViewFiles>,
    /// Per view, its features in order, each with its type when no file holds it yet (a column
    /// added to the dataset after its last batch): those read as nulls.
    pub(super) layout: Vec<ViewLayout>,
    /// `view@version` per view.
    pub(super) lineage: Vec<String>,
    /// `dataset@version` of each view's source dataset, each once.
    pub(super) sources: Vec<String>,
}

impl Features {
    /// The views of `groups`, their rows in `work` when they must be computed or copied.
    pub(super) async fn views(
        &self,
        catalog: &Arc<Catalog>,
        groups: &[Group],
        work: &Path,
    ) -> Result<Views, HistoricalError> {
        let mut views = Views {
            files: Vec::with_capacity(groups.len()),
            layout: Vec::with_capacity(groups.len()),
            lineage: Vec::with_capacity(groups.len()),
            sources: Vec::new(),
        };
        for (i, group) in groups.iter().enumerate() {
            let view = &group.view;
            let source = view.definition.source.as_str();
            let paths = match &view.definition.sql {
                None => {
                    let files = files_of(&self.db, source.to_owned(), None, i64::MAX).await?;
                    self.local_copies(&files, work, &format!("view-{i}")).await?
                }
                Some(_) => {
                    let path = work.join(format!("view-{i}.parquet"));
                    self.transforms.write(catalog, view, i64::MAX, &path).await?;
                    vec![path]
                }
            };
            if paths.is_empty() {
                return Err(HistoricalError::Invalid(format!(
                    "feature view `{}`: its source dataset `{source}` has no ingested data yet",
                    view.definition.name
                )));
            }
            views.lineage.push(format!("{}@{}", view.definition.name, view.version));
            let known = sources::latest_version(&self.db, source.to_owned()).await?;
            let source_version = format!("{source}@{}", known.unwrap_or(0));
            if !views.sources.contains(&source_version) {
                views.sources.push(source_version);
            }
            let held = columns_of(&paths).map_err(|error| HistoricalError::Io(error.to_string()))?;
            let features: Vec<(String, Option<DataType>)> = group
                .columns
                .iter()
                .map(|(_, index)| {
                    let feature = &view.definition.features[*index];
                    let name = feature.name.to_string();
                    let absent = (!held.contains(&name)).then(|| data_type(&feature.column_type));
                    (name, absent)
                })
                .collect();
            views.files.push(ViewFiles {
                spec: ViewSpec {
                    name: view.definition.name.to_string(),
                    join_keys: view.join_keys.iter().map(ToString::to_string).collect(),
                    features: features
                        .iter()
                        .filter(|(_, absent)| absent.is_none())
                        .map(|(name, _)| name.clone())
                        .collect(),
                    event_timestamp: view.timestamp_field.to_string(),
                    created_timestamp: view
                        .definition
                        .created_timestamp_field
                        .as_ref()
                        .map(ToString::to_string),
                    ttl_micros: match view.definition.ttl_seconds {
                        0 => None,
                        seconds => Some(
                            i64::try_from(seconds).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000),
                        ),
                    },
                },
                paths,
            });
            views.layout.push((view.definition.name.to_string(), features));
        }
        Ok(views)
    }
}
