//! Switchyard's gRPC schema, `switchyard.v1` (`proto/switchyard/v1/switchyard.proto`),
//! compiled to Rust: the messages, a server trait and a client per service.
//!
//! Invariant: the schema only grows (see `tests/compatibility.rs`, which checks it against the
//! previous release's copy under `proto/baseline`).

/// The `switchyard.v1` package.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("switchyard.v1");
}
