#![doc = include_str!("../README.md")]

mod connection;
mod database;
pub mod inbox;
mod migrations;
pub mod outbox;
pub mod schema;
mod sql;
mod transaction;

pub use connection::{AnyConnection, Backend, DatabaseUrl, MultiBackend};
pub use database::{Database, DbError};
pub use migrations::Migrations;
pub use sql::{Sql, SqlValue};
pub use transaction::write_transaction;
