use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A resource name (dataset, feature view, model, deployment, ...).
///
/// Names end up in NATS subjects, object-store paths and SQL identifiers, so they are restricted
/// to what is safe in all three: 1–63 characters, lowercase ASCII letters, digits, `_` and `-`,
/// starting with a letter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[a-z][a-z0-9_-]{0,62}$")]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name must not be empty")]
    Empty,
    #[error("name `{0}` is longer than 63 characters")]
    TooLong(String),
    #[error("name `{0}` must start with a lowercase letter")]
    BadStart(String),
    #[error("name `{0}` may only contain lowercase letters, digits, `_` and `-`")]
    BadCharacter(String),
}

impl Name {
    pub const MAX_LEN: usize = 63;

    pub fn parse(value: impl Into<String>) -> Result<Self, NameError> {
        let value = value.into();
        let Some(first) = value.chars().next() else {
            return Err(NameError::Empty);
        };
        if value.len() > Self::MAX_LEN {
            return Err(NameError::TooLong(value));
        }
        if !first.is_ascii_lowercase() {
            return Err(NameError::BadStart(value));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if !value.chars().all(allowed) {
            return Err(NameError::BadCharacter(value));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl FromStr for Name {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_names() {
        for ok in ["a", "transactions", "user_7d-count", &"a".repeat(63)] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_unsafe_names() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert!(matches!(Name::parse("a".repeat(64)), Err(NameError::TooLong(_))));
        assert!(matches!(Name::parse("7days"), Err(NameError::BadStart(_))));
        assert!(matches!(Name::parse("Users"), Err(NameError::BadStart(_))));
        for bad in ["a.b", "a b", "a/b", "a>", "a*", "aü"] {
            assert!(matches!(Name::parse(bad), Err(NameError::BadCharacter(_))), "{bad}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<Name>("\"ok_name\"").is_ok());
        assert!(serde_json::from_str::<Name>("\"../etc\"").is_err());
    }
}
