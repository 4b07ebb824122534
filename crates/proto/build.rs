//! Compiles `proto/` with protox (a protobuf compiler in Rust), so building needs no `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let file = root.join("switchyard/v1/switchyard.proto");
    println!("cargo:rerun-if-changed={}", root.join("switchyard").display());
    let descriptors = protox::compile([&file], [&root])?;
    tonic_prost_build::configure()
        // Clients bring their own channel (the client crate builds it), so the generated code
        // needs no transport.
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
