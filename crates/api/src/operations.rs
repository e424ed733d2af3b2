use serde::{Deserialize, Serialize};

/// `GET /healthz`: the process is alive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub service: String,
    pub status: String,
    pub version: String,
}

/// `GET /readyz`: whether the service can serve, and if not, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readiness {
    pub service: String,
    pub ready: bool,
    /// Why the service is not ready (empty when it is).
    pub reasons: Vec<String>,
    /// How a ready service is degraded: what it does without (empty when nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// The answering process's id, so a supervisor such as `cairn up` can tell its own child
    /// from another process that holds the port.
    pub pid: u32,
}
