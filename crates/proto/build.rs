//! Compiles `proto/feedback/v1/*.proto` with protox (no system `protoc`) and generates the
//! prost messages and the tonic clients and servers, plus the descriptor set for reflection.

use prost::Message;
use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "feedback/v1/common.proto",
    "feedback/v1/intake.proto",
    "feedback/v1/tickets.proto",
    "feedback/v1/audit.proto",
    "feedback/v1/reports.proto",
    "feedback/v1/events.proto",
    "feedback/v1/selfservice.proto",
    "feedback/v1/customers.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let file_descriptor_set = protox::compile(PROTO_FILES, [&proto_root])?;
    std::fs::write(
        out_dir.join("feedback_v1_descriptor.bin"),
        file_descriptor_set.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(file_descriptor_set)?;
    Ok(())
}
