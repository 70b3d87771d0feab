//! Compiles the project's protos (our Enricher API and Vector's protocol) with
//! protox, a pure-Rust protobuf compiler, so building needs no system
//! `protoc`. The encoded descriptor set is also written to OUT_DIR for server
//! reflection, so reflection serves exactly what was compiled.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        root.join("postfix_enrich/v1/enricher.proto"),
        root.join("vector/vector.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!("cargo:rerun-if-changed={}", root.join("vector/event.proto").display());

    let fds = protox::compile(&files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptor.bin"), prost::Message::encode_to_vec(&fds))?;

    tonic_prost_build::configure()
        // Vector's `event` package is hand-written (src/vector/wire.rs) so the
        // relay can carry metrics, traces and metadata as opaque bytes:
        // decoding them would drop fields this build does not know.
        .extern_path(".event", "crate::vector::wire")
        // The relay reads pushed events as encoded bytes (src/vector/raw.rs).
        .extern_path(".vector.PushEventsRequest", "crate::vector::raw::RawPush")
        // Proper status codes for oversized and malformed requests (src/codec.rs).
        .codec_path("crate::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
