//! Spaces: the records of the spaces that exist and of what deleting one removed.

use serde::{Deserialize, Serialize};

use crate::SpaceName;
use crate::time::Timestamp;

/// A space, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceRecord {
    /// Its name.
    pub name: SpaceName,
    /// When something was first written into it.
    pub created_at: Timestamp,
}

/// What deleting a space removed, counted per kind; the payload of its `space.deleted` record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceDeletion {
    /// Machines, by name (every version of each went).
    pub machines: u64,
    /// Instances, deleted ones included.
    pub instances: u64,
    /// KV buckets.
    pub kv_buckets: u64,
    /// KV keys, deleted ones (tombstones) included.
    pub kv_keys: u64,
    /// Durable subscriptions (their pending records and dead letters went with them).
    pub subscriptions: u64,
    /// Functions, by name (every version of each went).
    pub functions: u64,
    /// Invocation records.
    pub invocations: u64,
    /// Log records of the space.
    pub log_records: u64,
    /// Idempotency records.
    pub idempotency_keys: u64,
}
