//! Endpoints: named routes to a model version — pinned, or whichever version a registry alias
//! points at. What each should serve is in the database (shared by every replica); what this
//! replica serves is in memory. `reconcile` moves the second towards the first: it loads the
//! wanted version completely (download, check, warm-up), then swaps the endpoint's route in one
//! step, so requests never wait and never fail during a change; requests already running finish
//! on the version they started with, which is dropped after them.

mod store;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use cairn_api::{Endpoint, EndpointSpec, StreamScoring};
use cairn_db::{Database, DbError};
use cairn_service::Outbox;

use crate::models::{LoadError, Loaded, Models};
pub use store::Stored;

/// What one endpoint serves on this replica.
#[derive(Debug)]
pub struct Route {
    pub stored: Stored,
    /// The version answering requests (all, or all but the canary's share).
    pub serving: Option<Arc<Loaded>>,
    /// The canary and its share of requests, once loaded.
    pub canary: Option<(Arc<Loaded>, f64)>,
    /// The version getting a copy of each request, once loaded.
    pub shadow: Option<Arc<Loaded>>,
    /// Why a wanted version is not serving.
    pub error: Option<String>,
}

impl Route {
    /// Every version this route holds.
    fn versions(&self) -> impl Iterator<Item = &Arc<Loaded>> {
        self.serving.iter().chain(self.canary.iter().map(|(loaded, _)| loaded)).chain(self.shadow.iter())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("no endpoint `{0}`")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The spec names a model, version or alias the registry does not have.
    #[error(transparent)]
    Unknown(LoadError),
    /// The registry could not be asked.
    #[error(transparent)]
    Unavailable(LoadError),
    #[error(transparent)]
    Database(#[from] DbError),
}

pub struct Endpoints {
    db: Database,
    outbox: Outbox,
    pub models: Arc<Models>,
    routes: RwLock<HashMap<String, Arc<Route>>>,
    /// One reconciliation at a time.
    reconciling: tokio::sync::Mutex<()>,
    /// Every stored endpoint has been tried once: the replica may report ready.
    settled: AtomicBool,
}

impl Endpoints {
    pub fn new(db: Database, outbox: Outbox, models: Arc<Models>) -> Self {
        Self {
            db,
            outbox,
            models,
            routes: RwLock::default(),
            reconciling: tokio::sync::Mutex::new(()),
            settled: AtomicBool::new(false),
        }
    }

    /// The route requests to `name` take now.
    pub fn route(&self, name: &str) -> Option<Arc<Route>> {
        self.routes.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// Why this replica is not ready: endpoints not yet tried, or tried without a version to serve.
    pub fn readiness(&self) -> Vec<String> {
        if !self.settled.load(Ordering::Acquire) {
            return vec!["serving: endpoints not loaded yet".to_owned()];
        }
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        let mut reasons: Vec<String> = routes
            .values()
            .filter(|route| route.serving.is_none())
            .map(|route| {
                let why = route.error.as_deref().unwrap_or("loading");
                format!("serving: endpoint {} has no version to serve: {why}", route.stored.name)
            })
            .collect();
        reasons.sort();
        reasons
    }

    /// The stream scoring of every endpoint this replica holds.
    pub fn streams(&self) -> HashMap<String, StreamScoring> {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        routes
            .iter()
            .filter_map(|(name, route)| route.stored.spec.stream.clone().map(|stream| (name.clone(), stream)))
            .collect()
    }

    pub async fn list(&self) -> Result<Vec<Endpoint>, EndpointError> {
        let stored = store::list(&self.db).await?;
        Ok(stored.into_iter().map(|stored| self.view(stored)).collect())
    }

    pub async fn get(&self, name: &str) -> Result<Endpoint, EndpointError> {
        let stored = store::get(&self.db, name.to_owned())
            .await?
            .ok_or_else(|| EndpointError::NotFound(name.to_owned()))?;
        Ok(self.view(stored))
    }

    /// Creates or changes an endpoint once the registry confirms what it names, then loads it
    /// here (other replicas follow the change event). A version that fails to load leaves the
    /// endpoint stored, its previous version (if any) serving, and the reason in its view.
    pub async fn put(&self, name: &str, spec: EndpointSpec) -> Result<Endpoint, EndpointError> {
        check_name(name)?;
        check_spec(&spec)?;
        let unknown = |error: LoadError| match error {
            LoadError::Registry(_) => EndpointError::Unavailable(error),
            error => EndpointError::Unknown(error),
        };
        match &spec.alias {
            Some(alias) => self.models.resolve_alias(&spec.model, alias).await.map(drop),
            None => self.models.exists(&spec.model, spec.version.unwrap_or_default()).await,
        }
        .map_err(unknown)?;
        for version in spec.canary.iter().map(|canary| canary.version).chain(spec.shadow) {
            self.models.exists(&spec.model, version).await.map_err(unknown)?;
        }
        let stored = store::put(&self.db, name.to_owned(), spec).await?;
        self.outbox.wake();
        self.reconcile_one(stored.clone()).await;
        Ok(self.view(stored))
    }

    pub async fn delete(&self, name: &str) -> Result<(), EndpointError> {
        if !store::delete(&self.db, name.to_owned()).await? {
            return Err(EndpointError::NotFound(name.to_owned()));
        }
        self.outbox.wake();
        self.reconcile_all().await
    }

    /// Brings every endpoint to what the database and the registry say now; drops endpoints no
    /// longer stored and versions no longer served.
    pub async fn reconcile_all(&self) -> Result<(), EndpointError> {
        let stored = store::list(&self.db).await?;
        let _one_at_a_time = self.reconciling.lock().await;
        for endpoint in &stored {
            self.reconcile_locked(endpoint.clone()).await;
        }
        self.routes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|name, _| stored.iter().any(|endpoint| &endpoint.name == name));
        self.forget_unused();
        self.settled.store(true, Ordering::Release);
        Ok(())
    }

    /// Reconciles the endpoints following `alias` of `model` (the registry moved it).
    pub async fn alias_moved(&self, model: &str, alias: &str) -> Result<(), EndpointError> {
        let following = store::list(&self.db)
            .await?
            .into_iter()
            .filter(|endpoint| endpoint.spec.model == model && endpoint.spec.alias.as_deref() == Some(alias));
        for endpoint in following {
            self.reconcile_one(endpoint).await;
        }
        Ok(())
    }

    /// Reconciles the endpoint `name` after a change event.
    pub async fn changed(&self, name: &str) -> Result<(), EndpointError> {
        match store::get(&self.db, name.to_owned()).await? {
            Some(stored) => self.reconcile_one(stored).await,
            None => {
                self.routes.write().unwrap_or_else(PoisonError::into_inner).remove(name);
                self.forget_unused();
            }
        }
        Ok(())
    }

    async fn reconcile_one(&self, stored: Stored) {
        let _one_at_a_time = self.reconciling.lock().await;
        self.reconcile_locked(stored).await;
        self.forget_unused();
    }

    async fn reconcile_locked(&self, stored: Stored) {
        let current = self.route(&stored.name);
        // A stored endpoint has exactly one of alias and version (checked when read).
        let wanted = match &stored.spec.alias {
            Some(alias) => self.models.resolve_alias(&stored.spec.model, alias).await,
            None => Ok(stored.spec.version.unwrap_or_default()),
        };
        let serving_now = current.as_ref().and_then(|route| route.serving.clone());
        let (serving, error) = match wanted {
            Ok(version)
                if serving_now
                    .as_ref()
                    .is_some_and(|loaded| loaded.model == stored.spec.model && loaded.version == version) =>
            {
                (serving_now, None)
            }
            Ok(version) => match self.models.load(&stored.spec.model, version).await {
                Ok(loaded) => (Some(loaded), None),
                Err(error) => {
                    tracing::warn!(endpoint = %stored.name, %error, "keeps serving what it served");
                    (serving_now, Some(error.to_string()))
                }
            },
            Err(error) => {
                tracing::warn!(endpoint = %stored.name, %error, "cannot tell which version to serve");
                (serving_now, Some(error.to_string()))
            }
        };
        let before = current.as_ref().and_then(|route| route.serving.as_ref().map(|loaded| loaded.version));
        if let Some(after) = serving.as_ref().filter(|after| before != Some(after.version)) {
            tracing::info!(endpoint = %stored.name, version = after.version, ?before, "now serving");
        }
        let mut errors: Vec<String> = error.into_iter().collect();
        // A canary's or shadow's wanted version, and the loaded one this route already holds.
        let wanted_and_held = |version: Option<i64>| {
            let wanted = version?;
            let held = current.as_ref().and_then(|route| {
                route
                    .versions()
                    .find(|loaded| loaded.model == stored.spec.model && loaded.version == wanted)
                    .cloned()
            });
            Some((wanted, held))
        };
        let (canary_wanted, shadow_wanted) = (
            wanted_and_held(stored.spec.canary.as_ref().map(|canary| canary.version)),
            wanted_and_held(stored.spec.shadow),
        );
        let canary = match canary_wanted {
            Some((version, held)) => self.extra(&stored, version, held, "canary", &mut errors).await,
            None => None,
        };
        let shadow = match shadow_wanted {
            Some((version, held)) => self.extra(&stored, version, held, "shadow", &mut errors).await,
            None => None,
        };
        let weight = stored.spec.canary.as_ref().map_or(0.0, |canary| canary.weight);
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        let route =
            Arc::new(Route { stored, serving, canary: canary.map(|loaded| (loaded, weight)), shadow, error });
        self.routes.write().unwrap_or_else(PoisonError::into_inner).insert(route.stored.name.clone(), route);
    }

    /// A canary's or shadow's version: the one held, else loaded; a failure is noted and the role
    /// left empty (all requests to the main version; no copies).
    async fn extra(
        &self,
        stored: &Stored,
        version: i64,
        held: Option<Arc<Loaded>>,
        role: &str,
        errors: &mut Vec<String>,
    ) -> Option<Arc<Loaded>> {
        if held.is_some() {
            return held;
        }
        match self.models.load(&stored.spec.model, version).await {
            Ok(loaded) => Some(loaded),
            Err(error) => {
                tracing::warn!(endpoint = %stored.name, role, %error, "not loaded");
                errors.push(format!("{role}: {error}"));
                None
            }
        }
    }

    fn forget_unused(&self) {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        self.models.retain(|model, version| {
            routes
                .values()
                .flat_map(|route| route.versions())
                .any(|loaded| loaded.model == model && loaded.version == version)
        });
    }

    fn view(&self, stored: Stored) -> Endpoint {
        let route = self.route(&stored.name);
        let serving = route.as_ref().and_then(|route| route.serving.as_ref().map(|loaded| loaded.version));
        let serving_canary =
            route.as_ref().and_then(|route| route.canary.as_ref().map(|(loaded, _)| loaded.version));
        let serving_shadow =
            route.as_ref().and_then(|route| route.shadow.as_ref().map(|loaded| loaded.version));
        let error = route.as_ref().and_then(|route| route.error.clone());
        let state = match (serving, &error) {
            (_, Some(_)) => "failed",
            (Some(_), None) => "ready",
            (None, None) => "loading",
        };
        Endpoint {
            name: stored.name,
            spec: stored.spec,
            updated_at: stored.updated_at,
            serving,
            serving_canary,
            serving_shadow,
            state: state.to_owned(),
            error,
        }
    }
}

/// Endpoint names travel in URL paths (OIP's `/v2/models/{name}`, which clients put in paths
/// without escaping): letters, digits, `_`, `.` and `-`.
fn check_name(name: &str) -> Result<(), EndpointError> {
    let ok = (1..=128).contains(&name.len())
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"_.-".contains(&byte))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(EndpointError::Invalid(format!(
            "endpoint name `{name}`: 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.`"
        )))
    }
}

fn check_spec(spec: &EndpointSpec) -> Result<(), EndpointError> {
    if spec.model.trim().is_empty() {
        return Err(EndpointError::Invalid("`model` must name a registered model".into()));
    }
    match (&spec.alias, spec.version) {
        (Some(_), Some(_)) | (None, None) => {
            Err(EndpointError::Invalid("give exactly one of `alias` and `version`".into()))
        }
        (Some(alias), None) if alias.trim().is_empty() => {
            Err(EndpointError::Invalid("`alias` must not be empty".into()))
        }
        (None, Some(version)) if version < 1 => {
            Err(EndpointError::Invalid(format!("`version` {version}: versions start at 1")))
        }
        _ => Ok(()),
    }?;
    if let Some(canary) = &spec.canary {
        if !(canary.weight > 0.0 && canary.weight < 1.0) {
            return Err(EndpointError::Invalid(format!(
                "`canary.weight` {}: a share of requests above 0 and below 1",
                canary.weight
            )));
        }
        if canary.version < 1 {
            return Err(EndpointError::Invalid("`canary.version`: versions start at 1".into()));
        }
    }
    if spec.shadow.is_some_and(|version| version < 1) {
        return Err(EndpointError::Invalid("`shadow`: versions start at 1".into()));
    }
    match &spec.stream {
        Some(stream) if !subject(&stream.input, true) || !subject(&stream.output, false) => {
            Err(EndpointError::Invalid(
                "`stream`: `input` and `output` are NATS subjects (tokens of letters, digits, `_` and `-` \
             joined by `.`; `input` may hold `*` and a final `>`)"
                    .into(),
            ))
        }
        Some(stream) if stream.input == stream.output => {
            Err(EndpointError::Invalid("`stream`: `output` must be another subject than `input`".into()))
        }
        _ => Ok(()),
    }
}

/// Whether `text` is a subject a stream can capture (with wildcards when `wildcards`).
fn subject(text: &str, wildcards: bool) -> bool {
    let tokens: Vec<&str> = text.split('.').collect();
    tokens.iter().enumerate().all(|(at, token)| {
        let wildcard = wildcards && (*token == "*" || (*token == ">" && at + 1 == tokens.len()));
        wildcard
            || (!token.is_empty()
                && token.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'))
    })
}
