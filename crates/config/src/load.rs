use std::collections::HashMap;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};

use crate::CairnConfig;
use crate::validate::{Problem, validate};

const DEFAULTS: &str = include_str!("defaults.toml");
/// Read from the working directory when no `--config` is given, if it exists.
pub const DEFAULT_FILE: &str = "cairn.toml";
pub const ENV_PREFIX: &str = "CAIRN";
pub const ENV_SEPARATOR: &str = "__";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("cannot load configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration:\n{}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {}: {}", p.key, p.message)).collect::<Vec<_>>().join("\n")
}

/// Loads the configuration from defaults, `path` (or `./cairn.toml`) and the process environment.
pub fn load(path: Option<&Path>) -> Result<CairnConfig, ConfigError> {
    load_from(path, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (tests, embedding).
pub fn load_from(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<CairnConfig, ConfigError> {
    let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
    match path {
        Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
        Some(path) => builder = builder.add_source(File::from(path).format(FileFormat::Toml)),
        None => {
            builder = builder.add_source(File::new(DEFAULT_FILE, FileFormat::Toml).required(false));
        }
    }
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let env: HashMap<String, String> = env.into_iter().filter(|(key, _)| key.starts_with(&prefix)).collect();
    let environment = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .try_parsing(true)
        // Lists from the environment are comma separated.
        .list_separator(",")
        .with_list_parse_key("ingestion.import_roots")
        .with_list_parse_key("registry.approvers")
        .with_list_parse_key("monitor.webhooks")
        .source(Some(env));
    let config: CairnConfig = builder.add_source(environment).build()?.try_deserialize()?;
    let problems = validate(&config);
    if problems.is_empty() { Ok(config) } else { Err(ConfigError::Invalid(problems)) }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use cairn_domain::ServiceKind;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        file
    }

    #[test]
    fn lists_come_from_the_environment_comma_separated() {
        let config = load_from(None, env(&[("CAIRN__INGESTION__IMPORT_ROOTS", "/data/a,/data/b")])).unwrap();
        assert_eq!(config.ingestion.import_roots, [PathBuf::from("/data/a"), PathBuf::from("/data/b")]);
        assert!(load_from(None, env(&[])).unwrap().ingestion.import_roots.is_empty());
    }

    #[test]
    fn registry_users_and_approvers_come_from_the_environment() {
        let config = load_from(
            None,
            env(&[
                ("CAIRN__REGISTRY__TOKENS__ALICE", "s3cret-a"),
                ("CAIRN__REGISTRY__APPROVERS", "bob,carol"),
            ]),
        )
        .unwrap();
        assert_eq!(config.registry.tokens.get("alice").and_then(crate::Secret::expose), Some("s3cret-a"));
        assert_eq!(config.registry.approvers, ["bob", "carol"]);
        assert!(!config.to_redacted_toml().contains("s3cret-a"), "tokens are secrets");
        assert!(load_from(None, env(&[])).unwrap().registry.tokens.is_empty());
    }

    #[test]
    fn defaults_load_and_validate() {
        let config = load_from(None, env(&[])).unwrap();
        assert_eq!(config.services.registry.port, 7440);
        assert_eq!(config.nats.url, "nats://127.0.0.1:7422");
        assert_eq!(config.http.workers, 0, "one HTTP worker per core");
        assert_eq!(
            config.database_url(ServiceKind::FeatureStore).expose(),
            Some("sqlite://.cairn/feature-store.db")
        );
    }

    #[test]
    fn file_overrides_defaults_and_environment_overrides_file() {
        let toml = file("[nats]\nurl = \"nats://file:4222\"\n[services.feature_store]\nport = 9000\n");
        let config = load_from(Some(toml.path()), env(&[])).unwrap();
        assert_eq!(config.nats.url, "nats://file:4222");
        assert_eq!(config.services.feature_store.port, 9000);
        assert_eq!(config.services.registry.port, 7440, "untouched keys keep their default");

        let config = load_from(
            Some(toml.path()),
            env(&[
                ("CAIRN__NATS__URL", "nats://env:4222"),
                ("CAIRN__SERVICES__FEATURE_STORE__PORT", "9100"),
                ("CAIRN__HTTP__WORKERS", "1"),
                ("CAIRN__DATABASE__URL", "postgres://cairn:hunter2@db/cairn"),
                ("OTHER__NATS__URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.nats.url, "nats://env:4222");
        assert_eq!(config.services.feature_store.port, 9100);
        assert_eq!(config.http.workers, 1);
        assert_eq!(
            config.database_url(ServiceKind::Registry).expose(),
            Some("postgres://cairn:hunter2@db/cairn")
        );
    }

    #[test]
    fn secrets_are_redacted_in_every_rendering() {
        let config = load_from(
            None,
            env(&[
                ("CAIRN__DATABASE__URL", "postgres://cairn:hunter2@db/cairn"),
                ("CAIRN__NATS__USER", "cairn"),
                ("CAIRN__NATS__PASSWORD", "hunter2"),
            ]),
        )
        .unwrap();
        for rendered in
            [config.to_redacted_toml(), config.to_redacted_json().to_string(), format!("{config:?}")]
        {
            assert!(!rendered.contains("hunter2"), "{rendered}");
            assert!(rendered.contains("[redacted]"), "{rendered}");
        }
    }

    #[test]
    fn bad_values_name_the_key() {
        let error = load_from(None, env(&[("CAIRN__SERVICES__REGISTRY__PORT", "not-a-port")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("services.registry.port"), "{error}");

        let error = load_from(None, env(&[("CAIRN__DATABASE__URL", "mysql://x")])).unwrap_err().to_string();
        assert!(error.contains("database.url"), "{error}");

        let error = load_from(None, env(&[("CAIRN__NATS__USER", "only-user")])).unwrap_err().to_string();
        assert!(error.contains("nats.password"), "{error}");

        let toml = file("[nats]\nurll = \"typo\"\n");
        let error = load_from(Some(toml.path()), env(&[])).unwrap_err().to_string();
        assert!(error.contains("urll"), "{error}");

        let missing = Path::new("/nonexistent/cairn.toml");
        assert!(matches!(load_from(Some(missing), env(&[])), Err(ConfigError::MissingFile(_))));
    }

    #[test]
    fn the_onnx_runtime_library_comes_from_the_environment_and_must_exist() {
        let config = load_from(None, env(&[])).unwrap();
        assert_eq!(
            config.runtime.onnxruntime_library(),
            None,
            "empty: ORT_DYLIB_PATH, then the setup's path"
        );

        let library = tempfile::NamedTempFile::new().unwrap();
        let path = library.path().to_str().unwrap();
        let config = load_from(None, env(&[("CAIRN__RUNTIME__ONNXRUNTIME", path)])).unwrap();
        assert_eq!(config.runtime.onnxruntime_library().as_deref(), Some(library.path()));

        let error =
            load_from(None, env(&[("CAIRN__RUNTIME__ONNXRUNTIME", "/nonexistent/libonnxruntime.so")]))
                .unwrap_err()
                .to_string();
        assert!(error.contains("runtime.onnxruntime") && error.contains("infra/local/setup"), "{error}");
    }

    #[test]
    fn shipped_example_config_loads() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cairn.example.toml");
        let config = load_from(Some(&example), env(&[])).unwrap();
        assert_eq!(config.services.ingestion.port, 7410);
    }
}
