use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The six Cairn services. The string form is used in configuration keys, event sources,
/// durable consumer names and metrics labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceKind {
    Ingestion,
    FeatureStore,
    Training,
    Registry,
    Serving,
    Monitor,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 6] = [
        ServiceKind::Ingestion,
        ServiceKind::FeatureStore,
        ServiceKind::Training,
        ServiceKind::Registry,
        ServiceKind::Serving,
        ServiceKind::Monitor,
    ];

    /// `feature-store`: used in event sources, consumer names and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Ingestion => "ingestion",
            ServiceKind::FeatureStore => "feature-store",
            ServiceKind::Training => "training",
            ServiceKind::Registry => "registry",
            ServiceKind::Serving => "serving",
            ServiceKind::Monitor => "monitor",
        }
    }

    /// `feature_store`: the form used in configuration keys and environment variables.
    pub fn config_key(self) -> &'static str {
        match self {
            ServiceKind::FeatureStore => "feature_store",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s || kind.config_key() == s)
            .ok_or_else(|| format!("unknown service `{s}`"))
    }
}
