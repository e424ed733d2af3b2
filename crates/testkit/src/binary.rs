use std::path::PathBuf;
use std::process::Command;

/// `cairn serve <service>`: the binary built beside the running test or benchmark (the
/// workspace's top package, `target/<profile>/cairn`). Cargo builds a package's own binaries
/// for its tests, not another package's: the test command builds every binary first, and a test
/// run alone needs `cargo build -p cairn` (with `--release` for benchmarks) before it.
pub fn serve(service: &str) -> Command {
    let mut command = Command::new(cairn());
    command.args(["serve", service]);
    command
}

/// The `cairn` binary beside the running test or benchmark (see [`serve`]).
pub fn cairn() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash> → target/<profile>/cairn
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("cairn");
    assert!(
        path.is_file(),
        "no cairn binary at {}: build it first (`cargo build -p cairn`, `--release` for benchmarks)",
        path.display()
    );
    path
}
