//! End-to-end tests: the services together, over real HTTP and a real nats-server.

mod contract;
mod datasets;
mod errors;
mod exactly_once;
mod readiness;

pub use cairn_e2e::{Platform, Store, eventually};
