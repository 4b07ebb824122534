//! Idempotent requests: the key a client sends and the fingerprint of what it asked.

/// An idempotency key and the fingerprint of the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's key, unique within a space.
    pub key: String,
    /// A digest of the request; the same key with another fingerprint is refused.
    pub fingerprint: String,
}
