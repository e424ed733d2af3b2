#![doc = include_str!("../README.md")]

mod connection;
mod database;
pub mod inbox;
mod migrations;
pub mod outbox;
pub mod schema;
mod transaction;

pub use connection::{AnyConnection, Backend, DatabaseUrl};
pub use database::{Database, DbError};
pub use migrations::Migrations;
pub use transaction::write_transaction;
