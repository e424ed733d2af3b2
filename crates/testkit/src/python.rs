use std::path::PathBuf;

/// The Python interpreter of the test virtualenv (`CAIRN_TEST_PYTHON`, default `.venv/bin/python`
/// at the workspace root), which the test setup (`infra/local/test`) creates with the packages
/// the contract tests need.
pub fn python() -> PathBuf {
    let path = std::env::var_os("CAIRN_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "no Python test environment at {}; run infra/local/test (it creates .venv) or set CAIRN_TEST_PYTHON",
        path.display()
    );
    path
}
