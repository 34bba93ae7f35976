//! Generates the vigil.v1 types and gRPC stubs from `proto/` with a vendored
//! protoc, so a fresh machine needs no system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../proto");
    let mut files: Vec<PathBuf> = std::fs::read_dir(proto_root.join("vigil/v1"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();

    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let descriptor = PathBuf::from(std::env::var("OUT_DIR")?).join("vigil_descriptor.bin");
    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor)
        .compile_with_config(config, &files, &[proto_root])?;
    println!("cargo:rerun-if-changed=../../../proto");
    Ok(())
}
