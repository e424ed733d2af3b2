//! What the feature store's benchmarks share: sizes from the environment and the Python peers.

use std::path::Path;
use std::process::Command;

/// `variable` as a number, or `default`.
pub fn size(variable: &str, default: usize) -> usize {
    std::env::var(variable).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `tests/python/<script>` with `python` and reads the one JSON object it prints.
pub fn python_json(python: &Path, script: &str, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python").join(script);
    let output = Command::new(python).arg(script).args(args).output().expect("the peer's Python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the peer prints one JSON object")
}

/// The DuckDB side (data generation, the ASOF join), in the test virtualenv.
pub fn duckdb(args: &[&str]) -> serde_json::Value {
    python_json(&cairn_testkit::python(), "duckdb_asof.py", args)
}

/// The Feast side, in the Feast virtualenv `venv`.
pub fn feast(venv: &Path, args: &[&str]) -> serde_json::Value {
    python_json(&venv.join("bin/python"), "feast_online.py", args)
}
