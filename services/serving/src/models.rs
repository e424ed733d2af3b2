//! Model versions ready to run: fetched from the registry (its `/v1` view of the version, then
//! the ONNX file through its artifact API), checked against their SHA-256, cached on local disk
//! by hash, loaded into the runtime once and warmed up. Every endpoint serving a version shares
//! its one `Loaded`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use cairn_client::{Client, ClientError};
use cairn_runtime::{
    DataType, Layout, Model, PortKind, Runtime, SessionOptions, Signature, Tensor, TensorData,
};
use sha2::{Digest as _, Sha256};

use crate::features::Features;

/// A model version loaded into the runtime.
#[derive(Debug)]
pub struct Loaded {
    pub model: String,
    pub version: i64,
    pub runtime: Model,
    /// How records by feature name fill its inputs, or why they cannot.
    pub layout: Result<Layout, String>,
    /// The feature service it was trained with (`name` or `name@version`), whose features entity
    /// keys are looked up for.
    pub feature_service: Option<String>,
    /// Missing values (NaN) are refused rather than run: the version's `cairn.missing_values` tag
    /// is `refuse` (a model that would answer nonsense for them, unlike trees that route them).
    pub refuses_missing: bool,
}

impl Loaded {
    pub fn signature(&self) -> &Signature {
        self.runtime.signature()
    }

    /// Why `inputs` cannot run on this version: a missing value where it refuses them, named by
    /// feature (a matrix's column) or input, and row.
    pub fn check_missing(&self, inputs: &[(String, Tensor)]) -> Result<(), String> {
        if !self.refuses_missing {
            return Ok(());
        }
        for (name, tensor) in inputs {
            let Some(index) = tensor.first_nan() else { continue };
            let rows = tensor.shape.first().copied().unwrap_or(1).max(1);
            let width = (tensor.data.len() / rows).max(1);
            let (row, column) = (index / width, index % width);
            let feature = match &self.layout {
                Ok(Layout::Matrix { input, features, .. }) if input == name => features.get(column).cloned(),
                _ => None,
            };
            let what =
                feature.map_or_else(|| format!("input `{name}`"), |feature| format!("feature `{feature}`"));
            return Err(format!(
                "{what} of row {row} is missing (NaN, or null): version {} of `{}` refuses missing values \
                 (its `{MISSING_VALUES_TAG}` tag)",
                self.version, self.model
            ));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model `{model}` has no version {version} in the registry")]
    NotFound { model: String, version: i64 },
    #[error("model `{model}` has no alias `{alias}` in the registry")]
    NoAlias { model: String, alias: String },
    #[error("version {version} of `{model}` holds no ONNX model file the registry stores")]
    NoModelFile { model: String, version: i64 },
    #[error("the registry is unavailable: {0}")]
    Registry(String),
    #[error(
        "version {version} of `{model}`: the downloaded file's SHA-256 is {got}, the registry records {expected}"
    )]
    Corrupt { model: String, version: i64, expected: String, got: String },
    #[error("version {version} of `{model}` cannot load: {reason}")]
    Model { model: String, version: i64, reason: String },
    #[error("model cache {path}: {source}")]
    Cache { path: PathBuf, source: std::io::Error },
}

/// Loads versions, at most once each, and keeps them while endpoints use them.
pub struct Models {
    runtime: Runtime,
    registry: Client,
    cache_dir: PathBuf,
    options: SessionOptions,
    features: Arc<Features>,
    loaded: Mutex<HashMap<(String, i64), Arc<Loaded>>>,
    /// One load at a time: two endpoints asking for one version load it once.
    loading: tokio::sync::Mutex<()>,
}

impl Models {
    pub fn new(
        runtime: Runtime,
        registry: Client,
        cache_dir: PathBuf,
        options: SessionOptions,
        features: Arc<Features>,
    ) -> Self {
        Self {
            runtime,
            registry,
            cache_dir,
            options,
            features,
            loaded: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The version an alias points at now.
    pub async fn resolve_alias(&self, model: &str, alias: &str) -> Result<i64, LoadError> {
        match self.registry.alias_at(model, alias, None).await {
            Ok(at) => {
                at.version.ok_or_else(|| LoadError::NoAlias { model: model.into(), alias: alias.into() })
            }
            Err(error) if not_found(&error) => {
                Err(LoadError::NoAlias { model: model.into(), alias: alias.into() })
            }
            Err(error) => Err(LoadError::Registry(error.to_string())),
        }
    }

    /// Whether the registry has version `version` of `model`.
    pub async fn exists(&self, model: &str, version: i64) -> Result<(), LoadError> {
        match self.registry.model_version(model, version).await {
            Ok(_) => Ok(()),
            Err(error) if not_found(&error) => Err(LoadError::NotFound { model: model.into(), version }),
            Err(error) => Err(LoadError::Registry(error.to_string())),
        }
    }

    /// The loaded version, loading it first if no endpoint holds it yet.
    pub async fn load(&self, model: &str, version: i64) -> Result<Arc<Loaded>, LoadError> {
        let key = (model.to_owned(), version);
        if let Some(loaded) = self.held(&key) {
            return Ok(loaded);
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(loaded) = self.held(&key) {
            return Ok(loaded);
        }
        let detail = match self.registry.model_version(model, version).await {
            Ok(detail) => detail,
            Err(error) if not_found(&error) => {
                return Err(LoadError::NotFound { model: model.into(), version });
            }
            Err(error) => return Err(LoadError::Registry(error.to_string())),
        };
        let file =
            detail.model_file.ok_or_else(|| LoadError::NoModelFile { model: model.into(), version })?;
        let bytes = self.bytes(model, version, &file).await?;
        let (runtime, options) = (self.runtime.clone(), self.options);
        let loaded = tokio::task::spawn_blocking(move || {
            let runtime_model = Model::load(&runtime, &bytes, &options)?;
            warm_up(&runtime_model);
            Ok::<_, cairn_runtime::RuntimeError>(runtime_model)
        })
        .await
        .map_err(|error| LoadError::Model { model: model.into(), version, reason: error.to_string() })?
        .map_err(|error| LoadError::Model {
            model: model.into(),
            version,
            reason: error.to_string(),
        })?;
        let feature_service = detail.lineage.feature_service.clone();
        let layout = self.layout(loaded.signature(), &detail.tags, feature_service.as_deref()).await;
        let refuses_missing =
            detail.tags.get(MISSING_VALUES_TAG).is_some_and(|value| value.trim() == "refuse");
        let loaded = Arc::new(Loaded {
            model: model.to_owned(),
            version,
            runtime: loaded,
            layout,
            feature_service,
            refuses_missing,
        });
        self.lock().insert(key, Arc::clone(&loaded));
        tracing::info!(model, version, "model version loaded");
        Ok(loaded)
    }

    /// How records fill a model's inputs: the matrix columns its `cairn.feature_names` tag
    /// names; else, for a model of one matrix input trained on a feature service, that service's
    /// features; else its inputs' own names.
    async fn layout(
        &self,
        signature: &Signature,
        tags: &std::collections::BTreeMap<String, String>,
        feature_service: Option<&str>,
    ) -> Result<Layout, String> {
        let one_matrix = matches!(signature.inputs.as_slice(),
            [port] if matches!(&port.kind, PortKind::Tensor { shape, .. } if shape.len() == 2));
        let names = match (feature_names(tags), feature_service) {
            (Some(names), _) => Some(names),
            (None, Some(service)) if one_matrix => Some(self.features.names(service).await.map_err(|error| {
                format!("its columns are the features of feature service `{service}`, which cannot be read: {error}")
            })?),
            (None, _) => None,
        };
        Layout::new(signature, names.as_deref()).map_err(|error| error.to_string())
    }

    /// Forgets every version no endpoint serves any more: in-flight requests holding one finish
    /// on it, then it is dropped.
    pub fn retain(&self, in_use: impl Fn(&str, i64) -> bool) {
        self.lock().retain(|(model, version), _| in_use(model, *version));
    }

    fn held(&self, key: &(String, i64)) -> Option<Arc<Loaded>> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Arc<Loaded>>> {
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's bytes: from the cache when it holds them with the right hash, else downloaded,
    /// checked and cached.
    async fn bytes(
        &self,
        model: &str,
        version: i64,
        file: &cairn_api::ModelFile,
    ) -> Result<Vec<u8>, LoadError> {
        let path = self.cache_dir.join(format!("{}.onnx", file.sha256));
        if let Ok(bytes) = tokio::fs::read(&path).await {
            if hex_sha256(&bytes) == file.sha256 {
                return Ok(bytes);
            }
            tracing::warn!(path = %path.display(), "cached model file damaged; downloading it again");
        }
        let bytes = self.registry.artifact(&file.path).await.map_err(|error| match error {
            error if not_found(&error) => LoadError::NoModelFile { model: model.into(), version },
            error => LoadError::Registry(error.to_string()),
        })?;
        let got = hex_sha256(&bytes);
        if got != file.sha256 {
            return Err(LoadError::Corrupt {
                model: model.into(),
                version,
                expected: file.sha256.clone(),
                got,
            });
        }
        let cache = |source| LoadError::Cache { path: path.clone(), source };
        tokio::fs::create_dir_all(&self.cache_dir).await.map_err(cache)?;
        let partial = path.with_extension("onnx.partial");
        tokio::fs::write(&partial, &bytes).await.map_err(cache)?;
        tokio::fs::rename(&partial, &path).await.map_err(cache)?;
        Ok(bytes.to_vec())
    }
}

/// The tag naming the columns of a model's one matrix input, in order: a JSON array of strings,
/// or names separated by commas.
pub const FEATURE_NAMES_TAG: &str = "cairn.feature_names";

/// The tag that makes a version refuse missing values (`refuse`) rather than run them as NaN.
pub const MISSING_VALUES_TAG: &str = "cairn.missing_values";

fn feature_names(tags: &std::collections::BTreeMap<String, String>) -> Option<Vec<String>> {
    let tag = tags.get(FEATURE_NAMES_TAG)?.trim();
    serde_json::from_str::<Vec<String>>(tag).ok().or_else(|| {
        Some(tag.split(',').map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()).collect())
    })
}

fn not_found(error: &ClientError) -> bool {
    matches!(error, ClientError::Api { status: 404, .. } | ClientError::Unexpected { status: 404, .. })
}

fn hex_sha256(bytes: &[u8]) -> String {
    cairn_storage::hex(&Sha256::digest(bytes))
}

/// One run on a row of zeros (empty strings, false), so the first request does not pay ONNX
/// Runtime's lazy initialization. A model may refuse such a row (an encoder that has never seen
/// an empty category): that is logged, and the version serves anyway.
fn warm_up(model: &Model) {
    let inputs: Vec<(String, Tensor)> = model
        .signature()
        .inputs
        .iter()
        .filter_map(|port| match &port.kind {
            PortKind::Tensor { datatype, shape } => {
                let shape: Vec<usize> = shape.iter().map(|dim| dim.unwrap_or(1)).collect();
                let len = Tensor::shape_len(&shape)?;
                Some((port.name.clone(), Tensor::new(shape, zeros(*datatype, len)?)))
            }
            PortKind::SequenceOfMaps { .. } => None,
        })
        .collect();
    if let Err(error) = model.run(&inputs) {
        tracing::info!(%error, "warm-up run refused; the model serves anyway");
    }
}

fn zeros(datatype: DataType, len: usize) -> Option<TensorData> {
    Some(match datatype {
        DataType::Bool => TensorData::Bool(vec![false; len]),
        DataType::Uint8 => TensorData::Uint8(vec![0; len]),
        DataType::Uint16 => TensorData::Uint16(vec![0; len]),
        DataType::Uint32 => TensorData::Uint32(vec![0; len]),
        DataType::Uint64 => TensorData::Uint64(vec![0; len]),
        DataType::Int8 => TensorData::Int8(vec![0; len]),
        DataType::Int16 => TensorData::Int16(vec![0; len]),
        DataType::Int32 => TensorData::Int32(vec![0; len]),
        DataType::Int64 => TensorData::Int64(vec![0; len]),
        DataType::Fp32 => TensorData::Fp32(vec![0.0; len]),
        DataType::Fp64 => TensorData::Fp64(vec![0.0; len]),
        DataType::Bytes => TensorData::Bytes(vec![String::new(); len]),
        DataType::Fp16 => return None,
    })
}
