use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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

/// Runs `script` with the test Python, `input` on its standard input, and returns what it printed
/// (a reference implementation's answers); its failure fails the caller, with its standard error.
pub fn run_python(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("running the test Python: {error}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).unwrap_or_else(|error| panic!("writing to {script}: {error}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|error| panic!("{script}: {error}"));
    assert!(
        output.status.success(),
        "{script} failed (is the test Python's environment complete? infra/local/test makes it):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The ONNX Runtime library inside the test Python's onnxruntime package, so that a Rust test and
/// Python score with the very same build.
pub fn onnxruntime_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let output = Command::new(python())
            .args([
                "-c",
                "import onnxruntime, pathlib; print(pathlib.Path(onnxruntime.__file__).parent / 'capi')",
            ])
            .output()
            .unwrap_or_else(|error| panic!("running the test Python: {error}"));
        assert!(
            output.status.success(),
            "the test Python has no onnxruntime package (run infra/local/test, or pip install -r \
             tests/python/requirements.txt into CAIRN_TEST_PYTHON's environment):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let capi = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        // The wheel ships `libonnxruntime.so.<version>` (and providers' libraries beside it).
        let library = std::fs::read_dir(&capi)
            .unwrap_or_else(|error| panic!("{}: {error}", capi.display()))
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("libonnxruntime.so"))
            });
        library.unwrap_or_else(|| {
            panic!("no libonnxruntime.so* in {} (onnxruntime wheels ship it from 1.19 on)", capi.display())
        })
    })
}
