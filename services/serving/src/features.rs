//! Online features for predictions by entity key, read in this process: the online store's
//! replicas (`cairn-online`, the same code the feature store serves them with) resolved against
//! the feature service version a model was trained with. The service's definition comes from the
//! feature store's API once per service version; the values never take an HTTP hop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cairn_api::{FeatureService, FeatureView, OnlineRequest};
use cairn_client::Client;
use cairn_online::{Catalog, FieldStatus, NatsOnlineStore, OnlineFeatures, ReadOptions};
use serde_json::{Map, Value};

use crate::infer::InferError;
use crate::models::Loaded;

type Record = Map<String, Value>;

pub struct Features {
    store: NatsOnlineStore,
    feature_store: Client,
    options: ReadOptions,
    /// Per feature service reference (`name@version`, or `name` for the version current when it
    /// was first needed): reads resolved against that version alone.
    readers: Mutex<HashMap<String, Arc<Reader>>>,
}

struct Reader {
    online: OnlineFeatures<NatsOnlineStore>,
    service: String,
    /// The service's features, in its order.
    names: Vec<String>,
}

impl Features {
    pub fn new(store: NatsOnlineStore, feature_store: Client, options: ReadOptions) -> Self {
        Self { store, feature_store, options, readers: Mutex::default() }
    }

    /// The features of feature service `reference` (`name` or `name@version`), in its order: the
    /// columns of a model trained on it.
    pub async fn names(&self, reference: &str) -> Result<Vec<String>, String> {
        Ok(self.reader(reference).await?.names.clone())
    }

    /// Records of the features `version` was trained with, for entity keys `entities` (one
    /// object of join keys per row), and per row the features the store had no value for (null
    /// in the record: missing to the model).
    pub async fn lookup(
        &self,
        version: &Loaded,
        entities: &[Record],
    ) -> Result<(Vec<Record>, Vec<Vec<String>>), InferError> {
        let reference = version.feature_service.as_deref().ok_or_else(|| {
            InferError::Input(format!(
                "version {} of `{}` names no feature service to read features by entity key; send `records`",
                version.version, version.model
            ))
        })?;
        let reader = self.reader(reference).await.map_err(InferError::Features)?;
        let mut columns: Map<String, Value> = Map::new();
        for record in entities {
            for key in record.keys() {
                columns.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
            }
        }
        for (key, column) in &mut columns {
            if let Value::Array(values) = column {
                values.extend(entities.iter().map(|record| record.get(key).cloned().unwrap_or(Value::Null)));
            }
        }
        let request = OnlineRequest {
            features: None,
            feature_service: Some(reader.service.clone()),
            entities: columns,
            full_feature_names: false,
        };
        let response = reader.online.get(&request).await.map_err(|error| match error {
            cairn_online::OnlineRequestError::Invalid(message) => InferError::Input(message),
            cairn_online::OnlineRequestError::Store(error) => InferError::Features(error.to_string()),
        })?;
        let mut records: Vec<Record> = entities.to_vec();
        let mut missing: Vec<Vec<String>> = vec![Vec::new(); entities.len()];
        let keys = response.metadata.feature_names.len() - reader.names.len();
        for (name, vector) in response.metadata.feature_names.iter().zip(response.results).skip(keys) {
            for (row, (value, status)) in vector.values.into_iter().zip(vector.statuses).enumerate() {
                if status != FieldStatus::Present {
                    missing[row].push(name.clone());
                }
                records[row].insert(name.clone(), value);
            }
        }
        Ok((records, missing))
    }

    async fn reader(&self, reference: &str) -> Result<Arc<Reader>, String> {
        if let Some(reader) = self.lock().get(reference) {
            return Ok(Arc::clone(reader));
        }
        let (name, version) = match reference.split_once('@') {
            Some((name, version)) => {
                let version = version
                    .parse::<i64>()
                    .map_err(|_| format!("feature service `{reference}`: the version is not a number"))?;
                (name, Some(version))
            }
            None => (reference, None),
        };
        let unavailable = |error: cairn_client::ClientError| format!("the feature store: {error}");
        let versions = self.feature_store.feature_service_versions(name).await.map_err(unavailable)?;
        let service: FeatureService = match version {
            Some(version) => versions.into_iter().find(|service| service.version == version),
            None => {
                versions.into_iter().filter(|service| !service.deleted).max_by_key(|service| service.version)
            }
        }
        .ok_or_else(|| format!("the feature store has no feature service `{reference}`"))?;
        let mut views: Vec<FeatureView> = Vec::new();
        for projection in &service.projections {
            let pinned = self
                .feature_store
                .feature_view_versions(projection.feature_view.as_str())
                .await
                .map_err(unavailable)?
                .into_iter()
                .find(|view| view.version == projection.version)
                .ok_or_else(|| {
                    format!("feature service `{reference}` reads version {} of feature view `{}`, which the feature store does not have",
                        projection.version, projection.feature_view.as_str())
                })?;
            views.push(pinned);
        }
        let names = service
            .projections
            .iter()
            .flat_map(|projection| projection.features.iter().map(|feature| feature.as_str().to_owned()))
            .collect();
        // The service under its own name in a catalog of its own: versions of one service that
        // different models were trained on never meet.
        let mut pinned = service.clone();
        pinned.deleted = false;
        let catalog = Catalog::new(views, vec![pinned], Vec::new());
        let reader = Arc::new(Reader {
            online: OnlineFeatures::new(self.store.clone(), catalog, self.options),
            service: service.name.as_str().to_owned(),
            names,
        });
        Ok(Arc::clone(self.lock().entry(reference.to_owned()).or_insert(reader)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Reader>>> {
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
