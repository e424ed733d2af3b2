//! A build without the `sql` feature: no DataFusion. Definitions with a query are refused at
//! apply, saying how to build Cairn with them; a view with a query that a full build stored
//! cannot be read (its materialization or retrieval fails with the same reason).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use cairn_api::{Definitions, FeatureView, SourceDataset};
use cairn_db::Database;
use cairn_domain::{Name, Schema};
use cairn_storage::OfflineStore;
use futures::stream::BoxStream;

use super::{NOT_BUILT, TransformError};
use crate::definitions::{DefinitionError, VIEW, invalid};
use crate::online::Catalog;

/// No view may have a query.
pub(crate) async fn outputs(
    definitions: &Definitions,
    _sources: &[SourceDataset],
) -> Result<BTreeMap<Name, Schema>, DefinitionError> {
    match definitions.feature_views.iter().find(|view| view.sql.is_some()) {
        Some(view) => Err(invalid(VIEW, &view.name, "sql", NOT_BUILT)),
        None => Ok(BTreeMap::new()),
    }
}

#[derive(Clone)]
pub(crate) struct Transforms;

impl Transforms {
    pub(crate) fn new(
        _offline: OfflineStore,
        _db: Database,
        _memory_bytes: usize,
        _spill_dir: PathBuf,
    ) -> Self {
        Self
    }

    pub(crate) async fn batches(
        &self,
        _catalog: &Catalog,
        view: &FeatureView,
        _end: i64,
    ) -> Result<BoxStream<'static, Result<RecordBatch, TransformError>>, TransformError> {
        Err(not_built(view))
    }

    pub(crate) async fn write(
        &self,
        _catalog: &Catalog,
        view: &FeatureView,
        _end: i64,
        _path: &Path,
    ) -> Result<(), TransformError> {
        Err(not_built(view))
    }
}

fn not_built(view: &FeatureView) -> TransformError {
    TransformError::Query { view: view.definition.name.to_string(), message: NOT_BUILT.to_owned() }
}
