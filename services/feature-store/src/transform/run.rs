//! Running a view's query over the offline store's files.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use cairn_api::FeatureView;
use cairn_db::Database;
use cairn_storage::{OfflineStore, arrow_schema, data_type};
use datafusion::catalog::TableProvider;
use datafusion::dataframe::DataFrame;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{Expr, SessionConfig, SessionContext, cast, ident};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};

use super::{MAX_DEPTH, TransformError, strip};
use crate::online::Catalog;
use crate::sources;
use crate::sources::files_of;

/// The scheme under which DataFusion finds the offline store.
const STORE_URL: &str = "cairn-offline://store/";

/// Runs views' queries: the offline store, the metadata that lists its files, and the memory a
/// query may hold before it spills to disk.
#[derive(Clone)]
pub(crate) struct Transforms {
    offline: OfflineStore,
    db: Database,
    memory_bytes: usize,
    spill_dir: PathBuf,
}

impl Transforms {
    pub(crate) fn new(offline: OfflineStore, db: Database, memory_bytes: usize, spill_dir: PathBuf) -> Self {
        Self { offline, db, memory_bytes, spill_dir }
    }

    /// The rows of `view` — its join keys, event time, created time and features, cast to their
    /// declared types — computed from the files ingested with event times before `end`.
    pub(crate) async fn rows(
        &self,
        catalog: &Catalog,
        view: &FeatureView,
        end: i64,
    ) -> Result<DataFrame, TransformError> {
        let failed = |error: DataFusionError| TransformError::Query {
            view: view.definition.name.to_string(),
            message: strip(&error),
        };
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.memory_bytes, 1.0)
            .with_temp_file_path(&self.spill_dir)
            .build_arc()
            .map_err(failed)?;
        let url = ObjectStoreUrl::parse(STORE_URL).map_err(failed)?;
        runtime.register_object_store(url.as_ref(), self.offline.object_store());
        self.view_rows(runtime, catalog, view, end, 0).await
    }

    /// A view's rows, in a session of its own: the names its query reads are its own.
    fn view_rows<'a>(
        &'a self,
        runtime: Arc<RuntimeEnv>,
        catalog: &'a Catalog,
        view: &'a FeatureView,
        end: i64,
        depth: usize,
    ) -> BoxFuture<'a, Result<DataFrame, TransformError>> {
        Box::pin(async move {
            let name = view.definition.name.to_string();
            let query = |message: String| TransformError::Query { view: name.clone(), message };
            let failed = |error: DataFusionError| query(strip(&error));
            if depth > MAX_DEPTH {
                return Err(query("its query reads views nested too deep (a cycle?)".to_owned()));
            }
            // Every core, as DataFusion's default, not the service's share
            // (`cairn_service::cores`, which bounds the threads the service starts itself):
            // partitions run as tasks on the runtime's workers, which already bound them.
            let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            let context = SessionContext::new_with_config_rt(
                SessionConfig::new().with_target_partitions(cores),
                runtime.clone(),
            );
            let source = view.definition.source.as_str();
            let table = self.dataset(source, end).await.map_err(|error| match error {
                TransformError::Query { message, .. } => query(message),
                TransformError::Database(error) => TransformError::Database(error),
            })?;
            context.register_table(source, table).map_err(failed)?;
            let rows = match &view.definition.sql {
                None => context.table(source).await.map_err(failed)?,
                Some(sql) => {
                    for table in super::references(sql).map_err(query)? {
                        if table == source {
                            continue;
                        }
                        let other = catalog.view(&table, None).ok_or_else(|| {
                            query(format!("its query reads `{table}`, which is no feature view"))
                        })?;
                        let rows = self.view_rows(runtime.clone(), catalog, other, end, depth + 1).await?;
                        context.register_table(table.as_str(), rows.into_view()).map_err(failed)?;
                    }
                    context.sql(sql).await.map_err(failed)?
                }
            };
            project(rows, view).map_err(failed)
        })
    }

    /// A dataset's files with event times before `end`, as a table (an empty one before its
    /// first batch).
    async fn dataset(&self, name: &str, end: i64) -> Result<Arc<dyn TableProvider>, TransformError> {
        let query = |message: String| TransformError::Query { view: name.to_owned(), message };
        let source = sources::list(&self.db, Some(name.to_owned()))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| query(format!("no dataset `{name}`")))?;
        let schema = arrow_schema(&source.schema);
        let files = files_of(&self.db, name.to_owned(), None, end).await?;
        let failed = |error: DataFusionError| query(strip(&error));
        let table: Arc<dyn TableProvider> = if files.is_empty() {
            Arc::new(MemTable::try_new(schema, vec![Vec::new()]).map_err(failed)?)
        } else {
            let urls = files
                .iter()
                .map(|path| ListingTableUrl::parse(format!("{STORE_URL}{path}")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?;
            let options =
                ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema);
            Arc::new(ListingTable::try_new(config).map_err(failed)?)
        };
        Ok(table)
    }
}

/// A view's columns from `rows`: join keys, event time and created time as they are, features
/// cast to their declared types.
fn project(rows: DataFrame, view: &FeatureView) -> Result<DataFrame, DataFusionError> {
    let definition = &view.definition;
    let mut columns: Vec<Expr> = view.join_keys.iter().map(|key| ident(key.as_str())).collect();
    columns.push(ident(view.timestamp_field.as_str()));
    columns.extend(definition.created_timestamp_field.as_ref().map(|field| ident(field.as_str())));
    columns.extend(definition.features.iter().map(|feature| {
        cast(ident(feature.name.as_str()), data_type(&feature.column_type)).alias(feature.name.as_str())
    }));
    rows.select(columns)
}

impl Transforms {
    /// A view's rows as a stream of batches.
    pub(crate) async fn batches(
        &self,
        catalog: &Catalog,
        view: &FeatureView,
        end: i64,
    ) -> Result<BoxStream<'static, Result<RecordBatch, TransformError>>, TransformError> {
        let name = view.definition.name.to_string();
        let rows = self.rows(catalog, view, end).await?;
        let failed = move |error: DataFusionError| TransformError::Query {
            view: name.clone(),
            message: strip(&error),
        };
        let stream = rows.execute_stream().await.map_err(failed.clone())?;
        Ok(stream.map_err(failed).boxed())
    }

    /// Writes a view's rows to a local Parquet file.
    pub(crate) async fn write(
        &self,
        catalog: &Catalog,
        view: &FeatureView,
        end: i64,
        path: &std::path::Path,
    ) -> Result<(), TransformError> {
        let failed = |error: DataFusionError| TransformError::Query {
            view: view.definition.name.to_string(),
            message: strip(&error),
        };
        let rows = self.rows(catalog, view, end).await?;
        let options = DataFrameWriteOptions::new().with_single_file_output(true);
        rows.write_parquet(&path.to_string_lossy(), options, None).await.map_err(failed)?;
        Ok(())
    }
}
