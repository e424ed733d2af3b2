use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The runtime variable, not `env!`: a build script binary can be reused by another checkout.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = ["cairn/events/v1/envelope.proto", "cairn/events/v1/events.proto"];
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let descriptors = protox::compile(files, [&root])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
