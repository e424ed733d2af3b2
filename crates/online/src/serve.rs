//! Online feature reads with the request and response shapes of Feast's feature server
//! (`POST /get-online-features`), usable in-process as a library (the serving service does) or
//! over HTTP.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use cairn_api::{
    EventTime, FeatureService, FeatureVector, FeatureView, FieldStatus, OnlineRequest, OnlineResponse,
    ResponseMetadata,
};
use cairn_domain::Timestamp;

use crate::store::{OnlineError, OnlineStore, TableId};
use crate::value::{KeyPart, OnlineRow, Value, push_key, to_json};

#[derive(Debug, thiserror::Error)]
pub enum OnlineRequestError {
    /// The request names something that does not exist or asks something impossible.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] OnlineError),
}

fn invalid(message: impl Into<String>) -> OnlineRequestError {
    OnlineRequestError::Invalid(message.into())
}

/// The feature views and services online reads resolve names against: every view version, which
/// of them are online (materialized at least once), and the live services.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Per live view (its latest version not deleted): its latest version.
    latest: HashMap<String, i64>,
    /// Per live view: the version `view:feature` reads — its latest online one, else its latest.
    serving: HashMap<String, i64>,
    online: HashSet<(String, i64)>,
    views: HashMap<(String, i64), Arc<FeatureView>>,
    services: HashMap<String, FeatureService>,
}

impl Catalog {
    /// From views (any versions; a view is live when its highest version is not deleted),
    /// services (latest versions; deleted ones are skipped) and the view versions that are online.
    pub fn new(views: Vec<FeatureView>, services: Vec<FeatureService>, online: Vec<(String, i64)>) -> Self {
        let mut catalog = Self { online: online.into_iter().collect(), ..Self::default() };
        let mut highest: HashMap<String, (i64, bool)> = HashMap::new();
        for view in views {
            let name = view.definition.name.as_str().to_owned();
            let entry = highest.entry(name.clone()).or_insert((view.version, view.deleted));
            if view.version >= entry.0 {
                *entry = (view.version, view.deleted);
            }
            catalog.views.insert((name, view.version), Arc::new(view));
        }
        for (name, (version, deleted)) in highest {
            if deleted {
                continue;
            }
            let serving = (1..=version)
                .rev()
                .find(|candidate| catalog.online.contains(&(name.clone(), *candidate)))
                .unwrap_or(version);
            catalog.serving.insert(name.clone(), serving);
            catalog.latest.insert(name, version);
        }
        for service in services.into_iter().filter(|service| !service.deleted) {
            catalog.services.insert(service.name.as_str().to_owned(), service);
        }
        catalog
    }

    /// A view version; its latest version without `version` (none when the view is deleted).
    pub fn view(&self, name: &str, version: Option<i64>) -> Option<&Arc<FeatureView>> {
        let version = match version {
            Some(version) => version,
            None => *self.latest.get(name)?,
        };
        self.views.get(&(name.to_owned(), version))
    }

    /// The version `view:feature` reads: the latest one that is online, so that a new version
    /// takes over once it is materialized and reads never go empty in between; the latest one
    /// when none is online.
    pub fn serving(&self, name: &str) -> Option<&Arc<FeatureView>> {
        self.views.get(&(name.to_owned(), *self.serving.get(name)?))
    }

    /// The live feature service `name`, at its latest version.
    pub fn service(&self, name: &str) -> Option<&FeatureService> {
        self.services.get(name)
    }

    /// Whether a view version has been materialized.
    pub fn is_online(&self, name: &str, version: i64) -> bool {
        self.online.contains(&(name.to_owned(), version))
    }
}

/// How online reads treat values past their view's TTL.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Answer null (with status `OUTSIDE_MAX_AGE`) rather than the stale value.
    pub null_outside_max_age: bool,
}

/// Online feature reads over a store, resolving names against a catalog that can be replaced
/// while reads run.
pub struct OnlineFeatures<S> {
    store: S,
    catalog: RwLock<Arc<Catalog>>,
    options: ReadOptions,
}

/// The features read from one view version.
pub struct Group {
    pub view: Arc<FeatureView>,
    /// (output column, index of the feature in the view version).
    pub columns: Vec<(usize, usize)>,
}

impl<S: OnlineStore> OnlineFeatures<S> {
    pub fn new(store: S, catalog: Catalog, options: ReadOptions) -> Self {
        Self { store, catalog: RwLock::new(Arc::new(catalog)), options }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn set_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalog);
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Reads the request's features for its entities; each view's rows are read concurrently.
    pub async fn get(&self, request: &OnlineRequest) -> Result<OnlineResponse, OnlineRequestError> {
        let catalog = self.catalog();
        let (names, groups) = resolve(&catalog, request)?;
        let (entity_names, entity_columns, rows) = entity_columns(request)?;

        let now = Timestamp::now().as_micros();
        let mut results: Vec<FeatureVector> = entity_columns
            .iter()
            .map(|values| FeatureVector {
                values: values.to_vec(),
                statuses: vec![FieldStatus::Present; rows],
                event_timestamps: vec![EventTime(0); rows],
            })
            .collect();
        let features_at = results.len();
        results.extend((0..names.len()).map(|_| FeatureVector {
            values: Vec::with_capacity(rows),
            statuses: Vec::with_capacity(rows),
            event_timestamps: Vec::with_capacity(rows),
        }));

        let (names_ref, columns_ref) = (&entity_names, &entity_columns);
        let reads = groups.iter().map(|group| async move {
            let keys = entity_keys(group, names_ref, columns_ref, rows)?;
            let table = TableId::new(group.view.definition.name.as_str(), group.view.version);
            // Keys that cannot name an entity (a null, a float) are not looked up: absent.
            let (rows_with_key, wanted): (Vec<usize>, Vec<String>) =
                keys.into_iter().enumerate().filter_map(|(row, key)| Some((row, key?))).unzip();
            let mut found: Vec<Option<OnlineRow>> = vec![None; rows];
            for (row, value) in rows_with_key.into_iter().zip(self.store.read(&table, &wanted).await?) {
                found[row] = value;
            }
            Ok::<_, OnlineRequestError>(found)
        });
        let read = futures::future::try_join_all(reads).await?;

        for (group, found) in groups.iter().zip(read) {
            let ttl = group.view.definition.ttl_seconds;
            let max_age = i64::try_from(ttl).unwrap_or(i64::MAX / 1_000_000).saturating_mul(1_000_000);
            for row in &found {
                let stale = match row {
                    Some(row) => ttl > 0 && row.event_micros < now.saturating_sub(max_age),
                    None => false,
                };
                let time = EventTime(row.as_ref().map_or(0, |row| row.event_micros));
                for &(column, feature) in &group.columns {
                    let out = &mut results[features_at + column];
                    let (value, status) = match row {
                        None => (serde_json::Value::Null, FieldStatus::NotFound),
                        Some(row) => match row.values.get(feature).unwrap_or(&Value::Null) {
                            _ if stale && self.options.null_outside_max_age => {
                                (serde_json::Value::Null, FieldStatus::OutsideMaxAge)
                            }
                            value if stale => (to_json(value), FieldStatus::OutsideMaxAge),
                            Value::Null => (serde_json::Value::Null, FieldStatus::NullValue),
                            value => (to_json(value), FieldStatus::Present),
                        },
                    };
                    out.values.push(value);
                    out.statuses.push(status);
                    out.event_timestamps.push(time);
                }
            }
        }
        let mut feature_names = entity_names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
        feature_names.extend(names);
        Ok(OnlineResponse { metadata: ResponseMetadata { feature_names }, results })
    }
}

/// What an online request asks for; `view:feature` means the version reads serve.
fn resolve(
    catalog: &Catalog,
    request: &OnlineRequest,
) -> Result<(Vec<String>, Vec<Group>), OnlineRequestError> {
    let wanted = Wanted {
        features: request.features.as_deref(),
        feature_service: request.feature_service.as_deref(),
        full_feature_names: request.full_feature_names,
    };
    wanted.resolve(catalog, Catalog::serving)
}

/// Features as a request names them: `view:feature` references or a feature service.
pub struct Wanted<'a> {
    pub features: Option<&'a [String]>,
    pub feature_service: Option<&'a str>,
    pub full_feature_names: bool,
}

impl Wanted<'_> {
    /// The output names and, per view version, which of its features fill which output column.
    /// `unpinned` picks the version a `view:feature` reference means.
    pub fn resolve(
        &self,
        catalog: &Catalog,
        unpinned: for<'c> fn(&'c Catalog, &str) -> Option<&'c Arc<FeatureView>>,
    ) -> Result<(Vec<String>, Vec<Group>), OnlineRequestError> {
        // (view, pinned version, feature)
        let wanted: Vec<(String, Option<i64>, Option<String>)> = match (self.features, self.feature_service) {
            (Some(_), Some(_)) => return Err(invalid("give `features` or `feature_service`, not both")),
            (None, None) => return Err(invalid("give `features` (`view:feature`) or `feature_service`")),
            (Some(features), None) => features
                .iter()
                .map(|reference| match reference.split_once(':') {
                    Some((view, feature)) if !view.is_empty() && !feature.is_empty() => {
                        Ok((view.to_owned(), None, Some(feature.to_owned())))
                    }
                    _ => Err(invalid(format!("feature `{reference}` is not `view:feature`"))),
                })
                .collect::<Result<_, _>>()?,
            (None, Some(service)) => {
                let service = catalog
                    .services
                    .get(service)
                    .ok_or_else(|| invalid(format!("no feature service `{service}`")))?;
                service
                    .projections
                    .iter()
                    .flat_map(|projection| {
                        projection.features.iter().map(|feature| {
                            (
                                projection.feature_view.as_str().to_owned(),
                                Some(projection.version),
                                Some(feature.as_str().to_owned()),
                            )
                        })
                    })
                    .collect()
            }
        };
        if wanted.is_empty() {
            return Err(invalid("no features requested"));
        }
        let mut names: Vec<String> = Vec::with_capacity(wanted.len());
        let mut groups: Vec<Group> = Vec::new();
        for (view_name, version, feature) in wanted {
            let found = match version {
                Some(_) => catalog.view(&view_name, version),
                None => unpinned(catalog, &view_name),
            };
            let view = found.ok_or_else(|| match version {
                Some(version) => invalid(format!("no version {version} of feature view `{view_name}`")),
                None => invalid(format!("no feature view `{view_name}`")),
            })?;
            let feature = feature.unwrap_or_default();
            let index = view
                .definition
                .features
                .iter()
                .position(|defined| defined.name.as_str() == feature)
                .ok_or_else(|| invalid(format!("feature view `{view_name}` has no feature `{feature}`")))?;
            let name = if self.full_feature_names { format!("{view_name}__{feature}") } else { feature };
            if names.contains(&name) {
                return Err(invalid(format!(
                    "two features would be named `{name}`: ask for full feature names (`full_feature_names`)"
                )));
            }
            let column = names.len();
            names.push(name);
            match groups.iter_mut().find(|group| Arc::ptr_eq(&group.view, view)) {
                Some(group) => group.columns.push((column, index)),
                None => groups.push(Group { view: view.clone(), columns: vec![(column, index)] }),
            }
        }
        Ok((names, groups))
    }
}

type EntityColumns<'r> = (Vec<&'r str>, Vec<&'r [serde_json::Value]>, usize);

/// The request's entity columns, which must all be arrays of one length.
fn entity_columns(request: &OnlineRequest) -> Result<EntityColumns<'_>, OnlineRequestError> {
    if request.entities.is_empty() {
        return Err(invalid("`entities` names no join key"));
    }
    let mut names = Vec::with_capacity(request.entities.len());
    let mut columns = Vec::with_capacity(request.entities.len());
    let mut rows = None;
    for (name, values) in &request.entities {
        let values = values
            .as_array()
            .ok_or_else(|| invalid(format!("entity column `{name}` must be an array of values")))?;
        match rows {
            None => rows = Some(values.len()),
            Some(rows) if rows != values.len() => {
                return Err(invalid(format!(
                    "entity column `{name}` has {} values, the first column {rows}",
                    values.len()
                )));
            }
            Some(_) => {}
        }
        names.push(name.as_str());
        columns.push(values.as_slice());
    }
    Ok((names, columns, rows.unwrap_or(0)))
}

/// Each entity row's key in the group's view; none where a join key value cannot name an entity.
fn entity_keys(
    group: &Group,
    names: &[&str],
    columns: &[&[serde_json::Value]],
    rows: usize,
) -> Result<Vec<Option<String>>, OnlineRequestError> {
    let key_columns = group
        .view
        .join_keys
        .iter()
        .map(|key| {
            names.iter().position(|name| *name == key.as_str()).map(|index| columns[index]).ok_or_else(|| {
                invalid(format!(
                    "feature view `{}` needs join key `{key}` in `entities`",
                    group.view.definition.name
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut parts: Vec<KeyPart<'_>> = Vec::with_capacity(key_columns.len());
    Ok((0..rows)
        .map(|row| {
            parts.clear();
            for column in &key_columns {
                parts.push(match &column[row] {
                    serde_json::Value::Number(number) => KeyPart::Int(number.as_i64()?),
                    serde_json::Value::String(text) => KeyPart::String(text),
                    serde_json::Value::Bool(value) => KeyPart::Bool(*value),
                    _ => return None,
                });
            }
            let mut key = String::new();
            push_key(&mut key, &parts);
            Some(key)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(version: i64, deleted: bool) -> FeatureView {
        serde_json::from_value(serde_json::json!({
            "version": version,
            "definition": {"name": "spend", "source": "payments", "entities": ["customer"],
                           "features": [{"name": "amount", "type": "float64"}]},
            "join_keys": ["id"], "timestamp_field": "ts",
            "created_at": "2026-11-23T00:00:00Z", "deleted": deleted
        }))
        .unwrap()
    }

    #[test]
    fn reads_keep_the_latest_online_version_until_a_newer_one_is_online() {
        let versions = |online: &[i64]| {
            let online = online.iter().map(|v| ("spend".to_owned(), *v)).collect();
            let catalog =
                Catalog::new(vec![view(1, false), view(2, false), view(3, false)], Vec::new(), online);
            (catalog.view("spend", None).map(|v| v.version), catalog.serving("spend").map(|v| v.version))
        };
        assert_eq!(versions(&[]), (Some(3), Some(3)), "nothing online: the latest");
        assert_eq!(versions(&[1]), (Some(3), Some(1)));
        assert_eq!(versions(&[1, 2]), (Some(3), Some(2)));
        assert_eq!(versions(&[1, 3]), (Some(3), Some(3)));
    }

    #[test]
    fn a_deleted_view_is_read_by_pinned_version_only() {
        let catalog =
            Catalog::new(vec![view(1, false), view(2, true)], Vec::new(), vec![("spend".to_owned(), 1)]);
        assert!(catalog.view("spend", None).is_none());
        assert!(catalog.serving("spend").is_none());
        assert_eq!(catalog.view("spend", Some(1)).map(|v| v.version), Some(1));
    }
}
