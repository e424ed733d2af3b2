#![doc = include_str!("../README.md")]

mod serve;
mod store;
mod value;

pub use cairn_api::{FeatureVector, FieldStatus, OnlineRequest, OnlineResponse, ResponseMetadata};
pub use serve::{Catalog, Group, OnlineFeatures, OnlineRequestError, ReadOptions, Wanted};
pub use store::{NatsOnlineStore, OnlineError, OnlineMetrics, OnlineStore, TableId, Written};
pub use value::{DecodeError, KeyPart, OnlineRow, Times, Value, push_key, to_json};

/// A mutex's guard; a panic elsewhere while it was held leaves data that is still usable here
/// (every critical section leaves it whole), so poisoning is ignored.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
