//! The nodes serving from one store.

use crate::time::Timestamp;

/// A Switchyard node serving from this store, as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// A random id chosen at start.
    pub id: String,
    /// The address its HTTP API listens on.
    pub address: String,
    /// When it started.
    pub started_at: Timestamp,
    /// Its last heartbeat.
    pub heartbeat_at: Timestamp,
}
