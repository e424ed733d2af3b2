#![doc = include_str!("../README.md")]

mod location;
mod streams;

pub use location::{ObjectsError, open_local, open_store, s3_bucket};
pub use object_store::path::Path as ObjectPath;
pub use object_store::{ObjectStore, ObjectStoreExt};
pub use streams::{PutError, Written, delete_if_present, get_verified, hex, put_stream};
