//! The feature store's core object, which knows nothing of HTTP or NATS: the online store with
//! the catalog reads resolve against, the offline store, the query runner and the
//! materializations in progress. Its jobs live beside their subjects: materialization
//! (`materialize/`), training data (`training_data/`); the definitions' entry points are here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_api::{Definitions, Materialization, Plan};
use cairn_db::{Database, DbError};
use cairn_service::Outbox;
use cairn_storage::OfflineStore;
use diesel::prelude::*;

use crate::definitions::{self, DefinitionError};
use crate::online::{Catalog, NatsOnlineStore, OnlineFeatures};
use crate::schema::online_views;
use crate::sources;
use crate::training_data::Staging;
use crate::transform::{self, Transforms};

pub(crate) struct Features {
    pub(crate) online: OnlineFeatures<NatsOnlineStore>,
    pub(crate) offline: OfflineStore,
    pub(crate) transforms: Transforms,
    pub(crate) db: Database,
    pub(crate) outbox: Outbox,
    pub(crate) staging: Staging,
    /// Runs in progress, as they advance; finished ones are read from the database.
    pub(crate) running: Mutex<HashMap<String, Materialization>>,
    /// The service's runtime: runs are started from request handlers, whose threads must stay
    /// free to answer requests.
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Features {
    pub(crate) fn new(
        online: OnlineFeatures<NatsOnlineStore>,
        offline: OfflineStore,
        transforms: Transforms,
        db: Database,
        outbox: Outbox,
        staging: Staging,
    ) -> Self {
        let runtime = tokio::runtime::Handle::current();
        let running = Mutex::new(HashMap::new());
        Self { online, offline, transforms, db, outbox, staging, running, runtime }
    }

    /// Reads the definitions again, so that reads resolve names against what is applied now.
    pub(crate) async fn reload(&self) -> Result<Arc<Catalog>, DbError> {
        let views = definitions::all_views(&self.db).await?;
        let (_, _, services) = definitions::held(&self.db).await?;
        let online = online_versions(&self.db, true).await?;
        self.online.set_catalog(Catalog::new(views, services, online));
        Ok(self.online.catalog())
    }

    /// What applying `desired` would create, change and delete.
    pub(crate) async fn plan(&self, desired: Definitions) -> Result<Plan, DefinitionError> {
        let desired = self.resolve(desired).await?;
        definitions::plan(&self.db, desired).await
    }

    /// Applies `desired` as a whole (only the plan `confirmed` names, when given); reads then
    /// resolve against it, and each new version of a view online is materialized.
    pub(crate) async fn apply(
        self: &Arc<Self>,
        desired: Definitions,
        confirmed: Option<String>,
    ) -> Result<Plan, DefinitionError> {
        let desired = self.resolve(desired).await?;
        let plan = definitions::apply(&self.db, desired, confirmed).await?;
        self.outbox.wake();
        self.reload().await?;
        self.follow_new_versions(&plan).await;
        Ok(plan)
    }

    /// `definitions` checked against the source datasets and the views' queries.
    async fn resolve(&self, definitions: Definitions) -> Result<definitions::Resolved, DefinitionError> {
        let sources = sources::list(&self.db, None).await?;
        let outputs = transform::outputs(&definitions, &sources).await?;
        definitions::resolve(definitions, &sources, &outputs)
    }
}

/// The view versions marked online: every one a run has started for, or with `succeeded` only
/// those a run has finished for (a first run moves the watermark off its initial value).
pub(crate) async fn online_versions(db: &Database, succeeded: bool) -> Result<Vec<(String, i64)>, DbError> {
    db.run(move |conn| {
        let mut query = online_views::table.select((online_views::view, online_views::version)).into_boxed();
        if succeeded {
            query = query.filter(online_views::watermark_micros.gt(i64::MIN));
        }
        Ok(query.load(conn)?)
    })
    .await
}
