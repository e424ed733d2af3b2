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

/// `url` with any `user:password@` part replaced by `[redacted]@`, for messages and logs.
/// Works on comma-separated lists of URLs too.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| match (one.find("://"), one.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}{REDACTED}{}", &one[..scheme + 3], &one[at..])
            }
            _ => one.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(redact_url("nats://cairn:s3cret@nats:4222"), "nats://[redacted]@nats:4222");
        assert_eq!(redact_url("nats://a:4222,tls://t0ken@b:4222"), "nats://a:4222,tls://[redacted]@b:4222");
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
