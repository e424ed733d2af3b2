//! The online store: the latest row of every entity of a feature view version. NATS JetStream
//! Key-Value is the durable, shared truth (one bucket per view version, so a new version never
//! mixes with values an older one wrote); each process that reads a view keeps an in-memory
//! replica of its bucket, fed by a KV watch, within a memory budget, and asks the KV for what the
//! replica cannot answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;
use cairn_bus::Bus;
use futures::{StreamExt as _, TryStreamExt as _};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use tokio_util::sync::CancellationToken;

use crate::lock;
use crate::value::{OnlineRow, Times};

/// A feature view version's table in the online store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableId {
    pub view: String,
    pub version: i64,
}

impl TableId {
    pub fn new(view: impl Into<String>, version: i64) -> Self {
        Self { view: view.into(), version }
    }

    /// The view version's KV bucket (`cairn_fv_<view>_v<version>`).
    pub fn bucket(&self) -> String {
        format!("cairn_fv_{}_v{}", self.view, self.version)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    #[error("online store: {0}")]
    Store(String),
    #[error("online store: {key}: {source}")]
    Value { key: String, source: super::value::DecodeError },
}

fn store_error(error: impl std::fmt::Display) -> OnlineError {
    OnlineError::Store(error.to_string())
}

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Rows stored.
    pub written: u64,
    /// Rows not stored because the store holds a row as new or newer.
    pub kept_newer: u64,
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, other: Self) {
        self.written += other.written;
        self.kept_newer += other.kept_newer;
    }
}

/// Where online features live. NATS KV is the default; the trait keeps room for others (Redis).
pub trait OnlineStore: Send + Sync + 'static {
    /// Stores each row under its entity key unless the store holds a row of that entity with a
    /// later event time (or the same event time, created as late or later): an older event
    /// never overwrites a newer value, whatever order writers run in.
    fn write(
        &self,
        table: &TableId,
        rows: Vec<(String, OnlineRow)>,
    ) -> impl Future<Output = Result<Written, OnlineError>> + Send;

    /// The rows of these entity keys, in order; none for an entity the table does not hold.
    fn read(
        &self,
        table: &TableId,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<OnlineRow>>, OnlineError>> + Send;
}

/// How many writes to one bucket are in flight at once.
const WRITES_IN_FLIGHT: usize = 512;

/// The NATS KV online store with its in-process replicas.
#[derive(Clone)]
pub struct NatsOnlineStore {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Bus,
    budget: Arc<Budget>,
    tables: Mutex<HashMap<TableId, Arc<Table>>>,
    shutdown: CancellationToken,
    metrics: Option<OnlineMetrics>,
}

/// What the store reports to Prometheus (`cairn_online_*`).
#[derive(Clone)]
pub struct OnlineMetrics {
    replica_bytes: IntGauge,
    kv_reads: IntCounter,
    writes: IntCounterVec,
}

impl OnlineMetrics {
    /// Registers the store's metrics in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let replica_bytes =
            IntGauge::new("online_replica_bytes", "Memory the in-process replicas of online features hold")?;
        let kv_reads = IntCounter::new(
            "online_kv_reads_total",
            "Online reads the replicas could not answer, asked of the NATS KV",
        )?;
        let writes = IntCounterVec::new(
            Opts::new("online_writes_total", "Rows written to the online store, by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(replica_bytes.clone()))?;
        registry.register(Box::new(kv_reads.clone()))?;
        registry.register(Box::new(writes.clone()))?;
        Ok(Self { replica_bytes, kv_reads, writes })
    }
}

struct Table {
    kv: kv::Store,
    /// Started by the first read: replicas are kept of the views a process serves.
    replica: Mutex<Option<Arc<Replica>>>,
}

impl NatsOnlineStore {
    /// A store whose replicas together hold at most `replica_budget_bytes` (keys, values and
    /// bookkeeping); their watches end with `shutdown`.
    pub fn new(bus: Bus, replica_budget_bytes: usize, shutdown: CancellationToken) -> Self {
        Self::with_metrics(bus, replica_budget_bytes, shutdown, None)
    }

    /// [`NatsOnlineStore::new`], reporting to `metrics`.
    pub fn with_metrics(
        bus: Bus,
        replica_budget_bytes: usize,
        shutdown: CancellationToken,
        metrics: Option<OnlineMetrics>,
    ) -> Self {
        let gauge = metrics.as_ref().map(|metrics| metrics.replica_bytes.clone());
        Self {
            inner: Arc::new(Inner {
                bus,
                budget: Arc::new(Budget { limit: replica_budget_bytes, used: AtomicUsize::new(0), gauge }),
                tables: Mutex::new(HashMap::new()),
                shutdown,
                metrics,
            }),
        }
    }

    async fn table(&self, id: &TableId) -> Result<Arc<Table>, OnlineError> {
        if let Some(table) = lock(&self.inner.tables).get(id) {
            return Ok(table.clone());
        }
        let kv = self.inner.bus.create_kv_stream(&id.bucket(), 1).await.map_err(store_error)?;
        let table = Arc::new(Table { kv, replica: Mutex::new(None) });
        Ok(lock(&self.inner.tables).entry(id.clone()).or_insert(table).clone())
    }

    /// The table's replica, started (and its watch spawned) on first use.
    async fn replica(&self, id: &TableId, table: &Table) -> Result<Arc<Replica>, OnlineError> {
        if let Some(replica) = lock(&table.replica).as_ref() {
            return Ok(replica.clone());
        }
        let bucket = id.bucket();
        let mut stream =
            self.inner.bus.jetstream().get_stream(format!("KV_{bucket}")).await.map_err(store_error)?;
        let last = stream.info().await.map_err(store_error)?.state.last_sequence;
        let replica = Arc::new(Replica {
            rows: RwLock::new(HashMap::new()),
            caught_up: AtomicBool::new(last == 0),
            catch_up_at: last,
            complete: AtomicBool::new(true),
            budget: self.inner.budget.clone(),
        });
        {
            let mut slot = lock(&table.replica);
            if let Some(existing) = slot.as_ref() {
                return Ok(existing.clone());
            }
            *slot = Some(replica.clone());
        }
        tokio::spawn(follow(table.kv.clone(), replica.clone(), self.inner.shutdown.clone(), bucket));
        Ok(replica)
    }

    /// Whether the replica of `table` has caught up with the bucket (tests and benchmarks wait
    /// for it before measuring reads).
    pub async fn replica_ready(&self, table: &TableId) -> Result<bool, OnlineError> {
        let handle = self.table(table).await?;
        Ok(self.replica(table, &handle).await?.caught_up.load(Ordering::Acquire))
    }

    async fn write_one(
        table: &Table,
        replica: Option<&Replica>,
        key: String,
        row: OnlineRow,
    ) -> Result<Written, OnlineError> {
        let value = Bytes::from(row.encode());
        // What is stored now: the replica's word when it holds the key, else assume nothing
        // (a create fails if something is there after all, and the loop reads it).
        let mut current: Option<(u64, Times)> = replica.and_then(|replica| replica.revision(&key));
        loop {
            let outcome = match current {
                Some((_, times)) if !row.supersedes(&times) => {
                    return Ok(Written { written: 0, kept_newer: 1 });
                }
                Some((revision, _)) => match table.kv.update(&key, value.clone(), revision).await {
                    Ok(_) => Ok(()),
                    Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => Err(()),
                    Err(error) => return Err(store_error(error)),
                },
                None => match table.kv.create(&key, value.clone()).await {
                    Ok(_) => Ok(()),
                    Err(error) if error.kind() == CreateErrorKind::AlreadyExists => Err(()),
                    Err(error) => return Err(store_error(error)),
                },
            };
            if outcome.is_ok() {
                return Ok(Written { written: 1, kept_newer: 0 });
            }
            // Someone else wrote first: read what is there and decide again.
            current = match table.kv.entry(&key).await.map_err(store_error)? {
                Some(entry) if entry.operation == Operation::Put => {
                    let times = Times::decode(&entry.value)
                        .map_err(|source| OnlineError::Value { key: key.clone(), source })?;
                    Some((entry.revision, times))
                }
                // A deleted key is created again at its next revision.
                Some(entry) => {
                    Some((entry.revision, Times { event_micros: i64::MIN, created_micros: i64::MIN }))
                }
                None => None,
            };
        }
    }
}

impl OnlineStore for NatsOnlineStore {
    async fn write(&self, id: &TableId, rows: Vec<(String, OnlineRow)>) -> Result<Written, OnlineError> {
        let table = self.table(id).await?;
        let replica = lock(&table.replica).clone();
        let table = &table;
        let replica = replica.as_deref();
        futures::stream::iter(rows)
            .map(|(key, row)| Self::write_one(table, replica, key, row))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_fold(Written::default(), |mut total, written| async move {
                total += written;
                Ok(total)
            })
            .await
            .inspect(|written| {
                if let Some(metrics) = &self.inner.metrics {
                    metrics.writes.with_label_values(&["written"]).inc_by(written.written);
                    metrics.writes.with_label_values(&["kept_newer"]).inc_by(written.kept_newer);
                }
            })
    }

    async fn read(&self, id: &TableId, keys: &[String]) -> Result<Vec<Option<OnlineRow>>, OnlineError> {
        let table = self.table(id).await?;
        let replica = self.replica(id, &table).await?;
        let mut found: Vec<Option<OnlineRow>> = Vec::with_capacity(keys.len());
        let mut missing: Vec<usize> = Vec::new();
        {
            let ready = replica.caught_up.load(Ordering::Acquire);
            let complete = replica.complete.load(Ordering::Acquire);
            let rows = replica.rows.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (index, key) in keys.iter().enumerate() {
                match rows.get(key.as_str()) {
                    Some(held) if ready => found.push(Some(decode(key, &held.value)?)),
                    // Not held: absent from the bucket only when the replica holds all of it.
                    None if ready && complete => found.push(None),
                    _ => {
                        found.push(None);
                        missing.push(index);
                    }
                }
            }
        }
        if !missing.is_empty() {
            if let Some(metrics) = &self.inner.metrics {
                metrics.kv_reads.inc_by(missing.len() as u64);
            }
            let fetched =
                futures::future::join_all(missing.iter().map(|&index| table.kv.get(keys[index].as_str())))
                    .await;
            for (index, value) in missing.into_iter().zip(fetched) {
                if let Some(value) = value.map_err(store_error)? {
                    found[index] = Some(decode(&keys[index], &value)?);
                }
            }
        }
        Ok(found)
    }
}

fn decode(key: &str, value: &[u8]) -> Result<OnlineRow, OnlineError> {
    OnlineRow::decode(value).map_err(|source| OnlineError::Value { key: key.to_owned(), source })
}

/// Bytes all replicas of a process may hold together.
struct Budget {
    limit: usize,
    used: AtomicUsize,
    gauge: Option<IntGauge>,
}

impl Budget {
    fn take(&self, bytes: usize) -> bool {
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok();
        self.report();
        taken
    }

    fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.report();
    }

    fn report(&self) {
        if let Some(gauge) = &self.gauge {
            gauge.set(i64::try_from(self.used.load(Ordering::Acquire)).unwrap_or(i64::MAX));
        }
    }
}

/// Per held key: its hash map slot, the key's and value's heap, allocator slack.
const HELD_OVERHEAD: usize = 96;

struct Held {
    value: Bytes,
    revision: u64,
}

/// A bucket's rows, held in memory and kept current by a watch.
struct Replica {
    rows: RwLock<HashMap<String, Held>>,
    /// Set once the watch has delivered the bucket as it was when the replica started.
    caught_up: AtomicBool,
    catch_up_at: u64,
    /// False once a key was left out for want of budget: a key not held may then exist.
    complete: AtomicBool,
    budget: Arc<Budget>,
}

impl Replica {
    fn revision(&self, key: &str) -> Option<(u64, Times)> {
        if !self.caught_up.load(Ordering::Acquire) {
            return None;
        }
        let rows = self.rows.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let held = rows.get(key)?;
        Some((held.revision, Times::decode(&held.value).ok()?))
    }

    fn apply(&self, entry: kv::Entry) {
        let mut rows = self.rows.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entry.operation {
            Operation::Put => match rows.get_mut(entry.key.as_str()) {
                Some(held) => {
                    let (old, new) = (held.value.len(), entry.value.len());
                    if new <= old || self.budget.take(new - old) {
                        self.budget.give(old.saturating_sub(new));
                        *held = Held { value: entry.value, revision: entry.revision };
                    } else {
                        // No room for the larger value: drop the key, the KV answers for it.
                        let size = held.value.len() + entry.key.len() + HELD_OVERHEAD;
                        rows.remove(entry.key.as_str());
                        self.budget.give(size);
                        self.complete.store(false, Ordering::Release);
                    }
                }
                None => {
                    if self.budget.take(entry.value.len() + entry.key.len() + HELD_OVERHEAD) {
                        rows.insert(entry.key, Held { value: entry.value, revision: entry.revision });
                    } else {
                        self.complete.store(false, Ordering::Release);
                    }
                }
            },
            Operation::Delete | Operation::Purge => {
                if let Some(held) = rows.remove(entry.key.as_str()) {
                    self.budget.give(held.value.len() + entry.key.len() + HELD_OVERHEAD);
                }
            }
        }
        if entry.revision >= self.catch_up_at {
            self.caught_up.store(true, Ordering::Release);
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let rows = self.rows.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let size: usize = rows.iter().map(|(key, held)| key.len() + held.value.len() + HELD_OVERHEAD).sum();
        self.budget.give(size);
    }
}

/// Feeds a replica from the bucket's watch until shutdown, starting the watch again (from the
/// next revision) when it breaks.
async fn follow(kv: kv::Store, replica: Arc<Replica>, shutdown: CancellationToken, bucket: String) {
    let mut next = 1u64;
    loop {
        let watch = tokio::select! {
            () = shutdown.cancelled() => return,
            watch = kv.watch_all_from_revision(next) => watch,
        };
        match watch {
            Ok(mut watch) => loop {
                let entry = tokio::select! {
                    () = shutdown.cancelled() => return,
                    entry = watch.next() => entry,
                };
                match entry {
                    Some(Ok(entry)) => {
                        next = entry.revision + 1;
                        replica.apply(entry);
                    }
                    Some(Err(error)) => {
                        tracing::warn!(bucket, %error, "online replica: the watch broke; starting it again");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => tracing::warn!(bucket, %error, "online replica: cannot watch the bucket"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
