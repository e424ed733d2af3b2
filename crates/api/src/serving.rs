//! The serving service's own API (`/v1/endpoints`): named endpoints that serve a registered
//! model, pinned to a version or following an alias.

use cairn_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// What an endpoint should serve: a model's version, or whichever version an alias points at
/// (followed as it moves). Exactly one of `alias` and `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// An endpoint: what it should serve and what this replica serves now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub name: String,
    pub spec: EndpointSpec,
    pub updated_at: Timestamp,
    /// The version answering requests on this replica (none until one has loaded).
    pub serving: Option<i64>,
    /// `ready`, `loading` (no version has loaded yet) or `failed` (the wanted version could not
    /// load; an earlier one may still serve).
    pub state: String,
    /// Why the wanted version is not serving, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
