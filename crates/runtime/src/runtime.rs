//! ONNX Runtime itself: the shared library, loaded once per process from a path the user
//! configures (or the one the setup installs to), and the environment every session shares.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

use crate::{LibrarySource, RuntimeError};

/// The file name the setup installs the library as, under [`default_library_dir`].
pub const LIBRARY_FILE: &str = "libonnxruntime.so";

/// How to find ONNX Runtime.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// The shared library (`libonnxruntime.so`). `None`: `ORT_DYLIB_PATH` when set, else where
    /// `infra/local/setup` installs it ([`default_library_path`]).
    pub library: Option<PathBuf>,
}

/// ONNX Runtime, loaded. Cheap to clone; every clone is the same process-wide environment.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) environment: Environment,
    library: PathBuf,
}

/// The one runtime of the process: ONNX Runtime allows a single environment per process, and the
/// library, once loaded, stays.
static LOADED: Mutex<Option<Runtime>> = Mutex::new(None);

impl Runtime {
    /// Loads ONNX Runtime from the configured library, or returns the runtime already loaded from
    /// the same file. A missing file is an error that says how to install it; so is a library
    /// older than the API version `ort` needs.
    pub fn init(config: &RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let (path, from) = resolve(config)?;
        if !path.is_file() {
            return Err(RuntimeError::LibraryMissing { path, from });
        }
        // Absolute, so that `ort` does not look for a relative path beside the executable first.
        let path = path.canonicalize().unwrap_or(path);
        let mut loaded = LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(runtime) = loaded.as_ref() {
            return if same_file(&runtime.library, &path) {
                Ok(runtime.clone())
            } else {
                Err(RuntimeError::AlreadyLoaded { loaded: runtime.library.clone(), requested: path })
            };
        }
        let builder = ort::init_from(&path).map_err(|error| RuntimeError::Library {
            path: path.clone(),
            from,
            message: error.to_string(),
        })?;
        let environment = builder
            .with_name("cairn")
            .with_telemetry(false)
            .build()
            .map_err(|error| RuntimeError::Environment(error.to_string()))?;
        let runtime = Runtime { environment, library: path };
        *loaded = Some(runtime.clone());
        Ok(runtime)
    }

    /// The library this runtime was loaded from.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// ONNX Runtime's version and build (`ORT Build Info: git-branch=rel-1.32.0, …`).
    pub fn build_info(&self) -> &'static str {
        ort::info()
    }
}

fn resolve(config: &RuntimeConfig) -> Result<(PathBuf, LibrarySource), RuntimeError> {
    if let Some(path) = config.library.as_ref().filter(|path| !path.as_os_str().is_empty()) {
        return Ok((path.clone(), LibrarySource::Configured));
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|path| !path.is_empty()) {
        return Ok((PathBuf::from(path), LibrarySource::Environment));
    }
    default_library_path()
        .map(|path| (path, LibrarySource::SetupDefault))
        .ok_or(RuntimeError::LibraryUnconfigured)
}

/// Where `infra/local/setup` installs ONNX Runtime: `$XDG_CACHE_HOME/cairn/onnxruntime`, or
/// `~/.cache/cairn/onnxruntime` — outside the checkout and the data directory, so every checkout
/// and every `data_dir` finds it.
pub fn default_library_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME").filter(|dir| !dir.is_empty()).map(PathBuf::from).or_else(
        || std::env::var_os("HOME").filter(|dir| !dir.is_empty()).map(|home| Path::new(&home).join(".cache")),
    )?;
    Some(cache.join("cairn").join("onnxruntime"))
}

/// [`default_library_dir`]`/libonnxruntime.so`.
pub fn default_library_path() -> Option<PathBuf> {
    default_library_dir().map(|dir| dir.join(LIBRARY_FILE))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
