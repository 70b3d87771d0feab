//! gRPC adapter of postfix-enrich.
//!
//! * [`serve`]: the sidecar (`postfix-enrich serve`). It answers our own
//!   `postfix_enrich.v1.Enricher` service (proto/postfix_enrich/v1), Vector's
//!   `vector.Vector` service as a relay stage (enrich, then forward to a Vector
//!   `vector` source), `grpc.health.v1` and server reflection, and exposes
//!   Prometheus metrics.
//! * [`export`]: pushes enriched events from a log reader (the CLI's
//!   `--export URL`) to a Vector `vector` source or an OTLP/gRPC logs endpoint.
//!
//! The core ([`postfix_enrich_core`]) does the enrichment; this crate only
//! moves lines and events across the network.

#![deny(missing_docs)]

pub mod blocklist;
pub mod codec;
pub mod convert;
pub mod export;
pub mod metrics;
pub mod serve;
mod service;
pub mod vector;

/// Generated protobuf and gRPC code.
pub mod pb {
    /// Our API, package `postfix_enrich.v1`.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("postfix_enrich.v1");
    }
    /// Vector's `vector` package (its `event` package is [`crate::vector::wire`]).
    #[allow(missing_docs, clippy::all)]
    pub mod vector {
        tonic::include_proto!("vector");
    }
    /// Encoded `FileDescriptorSet` of everything above, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
}
pub use blocklist::{BlocklistSpec, SharedBlocklists};
pub use export::{ExportArgs, ExportHandle, ExportReport, Exporter, Target};
pub use serve::{serve, serve_blocking, serve_with_config, ServeArgs};
