use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A configuration value that must never be printed or logged.
///
/// `Debug`, `Display` and `Serialize` all show `[redacted]`; only `expose()` gives the value.
#[derive(Clone, Default)]
pub struct Secret(Option<SecretString>);

const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        if value.is_empty() { Self(None) } else { Self(Some(SecretString::from(value))) }
    }

    pub fn expose(&self) -> Option<&str> {
        self.0.as_ref().map(|secret| secret.expose_secret())
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { REDACTED } else { "" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.is_set() { REDACTED } else { "" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}
