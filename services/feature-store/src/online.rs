//! Online features: the store (NATS KV with in-process replicas), the values it holds, and reads
//! in the shapes of Feast's feature server.

mod serve;
mod store;
pub(crate) mod value;

pub use cairn_api::{FeatureVector, FieldStatus, OnlineRequest, OnlineResponse, ResponseMetadata};
pub use serve::{Catalog, OnlineFeatures, OnlineRequestError, ReadOptions};
pub(crate) use serve::{Group, Wanted};
pub use store::{NatsOnlineStore, OnlineError, OnlineMetrics, OnlineStore, TableId, Written};
pub use value::{KeyPart, OnlineRow, Value, push_key};
