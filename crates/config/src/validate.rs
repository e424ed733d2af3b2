use std::collections::HashMap;
use std::path::Path;

use cairn_domain::ServiceKind;

use crate::CairnConfig;

/// One thing wrong with a configuration, named by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

pub(crate) fn validate(config: &CairnConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String| {
        problems.push(Problem { key: key.to_owned(), message });
    };

    let nats = &config.nats;
    if nats.url.trim().is_empty() {
        problem("nats.url", "must not be empty".into());
    }
    for url in nats.url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let scheme_ok = ["nats://", "tls://", "ws://", "wss://"].iter().any(|s| url.starts_with(s));
        if !scheme_ok {
            let url = crate::redact_url(url);
            problem("nats.url", format!("`{url}` must start with nats://, tls://, ws:// or wss://"));
        }
    }
    if nats.user.is_some() != nats.password.is_set() {
        problem("nats.password", "nats.user and nats.password must be set together".into());
    }
    if nats.token.is_set() && nats.user.is_some() {
        problem("nats.token", "use either a token or a user and password, not both".into());
    }
    if nats.tls_cert_file.is_some() != nats.tls_key_file.is_some() {
        problem("nats.tls_key_file", "tls_cert_file and tls_key_file must be set together".into());
    }
    for (key, path) in [
        ("nats.creds_file", &nats.creds_file),
        ("nats.tls_ca_file", &nats.tls_ca_file),
        ("nats.tls_cert_file", &nats.tls_cert_file),
        ("nats.tls_key_file", &nats.tls_key_file),
    ] {
        if let Some(path) = path.as_deref().filter(|path| !Path::exists(path)) {
            problem(key, format!("file {} does not exist", path.display()));
        }
    }

    check_database_url("database.url", config.database.url.expose(), &mut problem);
    if config.database.pool_size == 0 {
        problem("database.pool_size", "must be at least 1".into());
    }
    if config.http.max_body_bytes < 1024 {
        problem("http.max_body_bytes", "must be at least 1024".into());
    }
    if config.serving.max_rows == 0 {
        problem("serving.max_rows", "must be at least 1".into());
    }
    let monitor = &config.monitor;
    if monitor.window_predictions == 0 || monitor.min_window_predictions == 0 || monitor.window_secs == 0 {
        problem(
            "monitor",
            "window_predictions, min_window_predictions and window_secs must be at least 1".into(),
        );
    }
    let shares = std::iter::once(("monitor.drift_share".to_owned(), Some(monitor.drift_share))).chain(
        monitor
            .endpoints
            .iter()
            .map(|(name, endpoint)| (format!("monitor.endpoints.{name}.drift_share"), endpoint.drift_share)),
    );
    for (key, share) in shares {
        if let Some(share) = share.filter(|share| !(*share > 0.0 && *share <= 1.0)) {
            problem(&key, format!("{share} is not in (0, 1]"));
        }
    }
    for url in &monitor.webhooks {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problem("monitor.webhooks", format!("`{url}` must start with http:// or https://"));
        }
    }
    for kind in ServiceKind::ALL {
        let url = &config.services.get(kind).url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            problem(
                &format!("services.{}.url", kind.config_key()),
                format!("`{url}` must start with http:// or https://"),
            );
        }
    }
    let otlp = &config.telemetry.otlp_endpoint;
    if !(otlp.is_empty() || otlp.starts_with("http://") || otlp.starts_with("https://")) {
        problem("telemetry.otlp_endpoint", format!("`{otlp}` must be an http:// or https:// URL"));
    }

    let threshold = config.ingestion.quarantine_threshold;
    if !(0.0..=1.0).contains(&threshold) {
        problem("ingestion.quarantine_threshold", format!("{threshold} is not between 0 and 1"));
    }

    let offline_url = &config.storage.offline_url;
    if !offline_url.is_empty() && !offline_url.starts_with("s3://") {
        problem(
            "storage.offline_url",
            format!("`{offline_url}` must be an s3:// URL (or empty for offline_root)"),
        );
    }
    let artifacts_url = &config.storage.artifacts_url;
    if !artifacts_url.is_empty() && !artifacts_url.starts_with("s3://") {
        problem(
            "storage.artifacts_url",
            format!("`{artifacts_url}` must be an s3:// URL (or empty for <data_dir>/artifacts)"),
        );
    }
    if config.registry.max_artifact_bytes == 0 {
        problem("registry.max_artifact_bytes", "must be at least 1".into());
    }
    if config.storage.s3.secret_access_key.is_set() && config.storage.s3.access_key_id.is_empty() {
        problem("storage.s3.access_key_id", "must be set with storage.s3.secret_access_key".into());
    }
    if let Some(library) = config.runtime.onnxruntime_library().filter(|path| !path.is_file()) {
        problem(
            "runtime.onnxruntime",
            format!(
                "file {} does not exist (infra/local/setup installs ONNX Runtime; leave the key empty to use it)",
                library.display()
            ),
        );
    }
    if config.ingestion.stream_flush_rows == 0 {
        problem("ingestion.stream_flush_rows", "must be at least 1".into());
    }
    if config.ingestion.stream_flush_millis == 0 {
        problem("ingestion.stream_flush_millis", "must be at least 1".into());
    }

    let mut ports: HashMap<u16, ServiceKind> = HashMap::new();
    for kind in ServiceKind::ALL {
        let service = config.services.get(kind);
        let key = format!("services.{}", kind.config_key());
        check_database_url(&format!("{key}.database_url"), service.database_url.expose(), &mut problem);
        if service.port == 0 {
            continue;
        }
        if let Some(other) = ports.insert(service.port, kind) {
            problem(&format!("{key}.port"), format!("port {} is also used by {other}", service.port));
        }
    }
    if config.up.nats_port == 0 {
        problem("up.nats_port", "must not be 0".into());
    }
    problems
}

fn check_database_url(key: &str, url: Option<&str>, problem: &mut impl FnMut(&str, String)) {
    let Some(url) = url else { return };
    let known = ["postgres://", "postgresql://", "sqlite://"].iter().any(|s| url.starts_with(s));
    if !known {
        // Never echo the URL: it may carry a password.
        problem(key, "must start with postgres://, postgresql:// or sqlite://".into());
    }
}
