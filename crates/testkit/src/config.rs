use std::path::Path;

use cairn_config::CairnConfig;

/// A configuration for services under test: the given NATS and database (`None`: a SQLite file
/// per service under `data_dir`), every HTTP port 0, quiet logs. `extra` are more `CAIRN__…`
/// variables.
pub fn config(
    nats_url: &str,
    database_url: Option<&str>,
    data_dir: &Path,
    extra: &[(&str, &str)],
) -> CairnConfig {
    let mut env: Vec<(String, String)> = vec![
        ("CAIRN__NATS__URL".into(), nats_url.into()),
        ("CAIRN__NATS__CONNECT_TIMEOUT_SECS".into(), "10".into()),
        ("CAIRN__DATABASE__URL".into(), database_url.unwrap_or_default().into()),
        ("CAIRN__DATABASE__POOL_SIZE".into(), "4".into()),
        ("CAIRN__DATA_DIR".into(), data_dir.display().to_string()),
        ("CAIRN__TELEMETRY__LOG_LEVEL".into(), "warn".into()),
        ("CAIRN__HTTP__SHUTDOWN_TIMEOUT_SECS".into(), "5".into()),
    ];
    for service in ["ingestion", "feature_store", "training", "registry", "serving", "monitor"] {
        env.push((format!("CAIRN__SERVICES__{}__PORT", service.to_uppercase()), "0".into()));
    }
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    // No cairn.toml is read: tests must not depend on the working directory.
    let empty = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    cairn_config::load_from(Some(empty.path()), env).unwrap()
}
