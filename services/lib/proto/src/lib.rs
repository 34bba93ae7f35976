//! Vigil's wire format, generated at build time from `proto/vigil/v1`.
//!
//! Every service speaks these types: edge agents publish [`v1::Detection`]
//! and [`v1::Heartbeat`], the enricher publishes [`v1::EnrichedDetection`],
//! [`v1::Alert`] and [`v1::DlqRecord`], and the API serves
//! [`v1::query_service_server::QueryService`].

mod short_name;

/// The `vigil.v1` protobuf package.
#[allow(missing_debug_implementations, unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("vigil.v1");

    /// Encoded file descriptors of the whole package, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("vigil_descriptor");
}

/// Version stamped into the `vigil-schema` Kafka header of every record, so
/// consumers can tell wire-format generations apart.
pub const SCHEMA_VERSION: &str = "vigil.v1";
