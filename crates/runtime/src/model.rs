//! A loaded model: its sessions, built once per model version and shared by every request.
//!
//! `ort`'s `Session::run` takes `&mut self` (ONNX Runtime documents `Run` as thread-safe, but
//! `ort`'s authors saw crashes and corruption when one session ran concurrently, and no `unsafe`
//! is allowed here to go around it), so one session runs one request at a time. A
//! model keeps a small pool of sessions, each behind a mutex: a run takes the first free one
//! (round-robin from a moving start, so sessions are used evenly) and waits for one only when
//! every session is busy. With one intra-op thread per run, N sessions serve N requests at once
//! on N cores; measurements in the crate's README.

mod inputs;
mod outputs;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::signature::{Signature, signature};
use crate::{ClassLabels, Runtime, RuntimeError, Tensor};

/// How ONNX Runtime's graph optimizations are applied when a session is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimization {
    Disable,
    /// Constant folding and redundant-node removal.
    Basic,
    /// Basic plus node fusions.
    Extended,
    /// Everything ONNX Runtime has, layout optimizations included.
    All,
}

/// How a model's sessions are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads one run may use within an operator. 1 runs on the calling thread alone, the lowest
    /// latency for small models (trees, linear models); 0 lets ONNX Runtime use every core.
    pub intra_threads: usize,
    /// Threads running independent branches of the graph at once; 1 runs nodes one after
    /// another (ONNX Runtime's sequential mode), more turns on its parallel mode.
    pub inter_threads: usize,
    pub optimization: Optimization,
    /// Sessions kept for the model, so that this many runs proceed at once (at least 1). Each
    /// holds its own copy of the model's weights.
    pub sessions: usize,
}

impl Default for SessionOptions {
    /// Low latency: one thread per run, every optimization, one session per core (at most 4).
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self { intra_threads: 1, inter_threads: 1, optimization: Optimization::All, sessions: cores.min(4) }
    }
}

/// One output of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub tensor: Tensor,
    /// For a ZipMap output (an `FP32` tensor `[rows, classes]`), the label of each column.
    pub classes: Option<ClassLabels>,
}

/// An ONNX model ready to run. `Send + Sync`: share it (`Arc<Model>`) across threads and requests.
#[derive(Debug)]
pub struct Model {
    sessions: Box<[Mutex<Session>]>,
    next: AtomicUsize,
    signature: Signature,
}

impl Model {
    /// Builds the model's sessions from the bytes of an `.onnx` file. Bytes that are not a model
    /// ONNX Runtime can load are [`RuntimeError::Model`]; inputs or outputs of a kind the runtime
    /// does not carry are [`RuntimeError::Unsupported`].
    pub fn load(runtime: &Runtime, bytes: &[u8], options: &SessionOptions) -> Result<Model, RuntimeError> {
        let first = build_session(runtime, bytes, options)?;
        let classes = crate::zipmap::class_labels(bytes);
        let signature = signature(first.inputs(), first.outputs(), |name| classes.get(name).cloned())?;
        let mut sessions = vec![Mutex::new(first)];
        for _ in 1..options.sessions {
            sessions.push(Mutex::new(build_session(runtime, bytes, options)?));
        }
        Ok(Model { sessions: sessions.into_boxed_slice(), next: AtomicUsize::new(0), signature })
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Runs the model on named input tensors and returns every output, in the signature's order.
    /// The inputs are checked against the signature first: a missing, unknown or repeated name,
    /// a wrong datatype, rank or fixed dimension, or an element count that does not fit the
    /// shape is a [`RuntimeError::Input`] naming the input, and nothing runs. ZipMap outputs come
    /// back as `FP32` tensors `[rows, classes]` with their class labels.
    ///
    /// The run happens on the calling thread (plus `intra_threads - 1` of ONNX Runtime's), and
    /// waits while every session of the model is busy.
    pub fn run<S: AsRef<str>>(&self, inputs: &[(S, Tensor)]) -> Result<Vec<Output>, RuntimeError> {
        let ordered = inputs::check(&self.signature, inputs)?;
        let values = inputs::values(&self.signature, &ordered)?;
        // The outputs are ONNX Runtime's own values, which outlive the run: the session is free
        // for the next request while they are copied out.
        let outputs = {
            let mut session = self.session();
            let outputs = session.run(values).map_err(|error| RuntimeError::Run(error.to_string()))?;
            outputs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect::<Vec<_>>()
        };
        outputs::convert(&self.signature, outputs)
    }

    /// How many sessions the model keeps (runs that can proceed at once).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn session(&self) -> MutexGuard<'_, Session> {
        let count = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            match self.sessions[(start + offset) % count].try_lock() {
                Ok(session) => return session,
                // A panic during a run leaves the session as ONNX Runtime left it: usable.
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.sessions[start].lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn build_session(runtime: &Runtime, bytes: &[u8], options: &SessionOptions) -> Result<Session, RuntimeError> {
    let setting = |error: ort::Error<_>| RuntimeError::Environment(format!("session options: {error}"));
    let optimization = match options.optimization {
        Optimization::Disable => GraphOptimizationLevel::Disable,
        Optimization::Basic => GraphOptimizationLevel::Level1,
        Optimization::Extended => GraphOptimizationLevel::Level2,
        Optimization::All => GraphOptimizationLevel::All,
    };
    let mut builder = Session::builder(&runtime.environment)
        .map_err(|error| RuntimeError::Environment(error.to_string()))?
        .with_optimization_level(optimization)
        .map_err(setting)?
        .with_intra_threads(options.intra_threads)
        .map_err(setting)?
        .with_inter_threads(options.inter_threads.max(1))
        .map_err(setting)?
        .with_parallel_execution(options.inter_threads > 1)
        .map_err(setting)?;
    builder.commit_from_memory(bytes).map_err(|error| RuntimeError::Model(error.to_string()))
}
