#![doc = include_str!("../README.md")]

mod batch;
mod connect;
mod consume;
mod error;
mod headers;
mod publish;
mod topology;
mod work;

pub use batch::{BatchLimits, RawDelivery};
pub use connect::Bus;
pub use consume::{ConsumerHandle, Delivery, Disposition, HandlerError, RETRY_AFTER};
pub use error::BusError;
pub use publish::{Published, RawEvent};
