//! End-to-end tests: the services together, over real HTTP and a real nats-server.

#![expect(clippy::unwrap_used, reason = "a failed step fails the test")]

mod batches;
mod contract;
mod datasets;
mod errors;
mod exactly_once;
mod features;
mod imports;
mod readiness;
mod streams;

pub use cairn_e2e::{Platform, Store, eventually};
