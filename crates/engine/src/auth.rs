//! Tokens: minting, hashing, and the cache of authenticated ones.
//!
//! Secrets are never stored: only their SHA-256 digest. Authenticated tokens are cached for
//! [`TOKEN_CACHE_TTL`] so a request does not read the store; a change through this engine
//! evicts at once, one through another node sharing the store takes effect within the TTL.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::access::Principal;

/// How long an authenticated token is trusted without asking the store again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(5);

/// Hex SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret (`sy_` and 48 hex digits: 192 bits) and a new token id.
pub fn mint() -> (String, String) {
    let mut rng = rand::rng();
    let mut secret = [0u8; 24];
    rng.fill_bytes(&mut secret);
    let mut id = [0u8; 8];
    rng.fill_bytes(&mut id);
    (format!("sy_{}", hex::encode(secret)), format!("tok_{}", hex::encode(id)))
}

/// Authenticated tokens by secret digest.
///
/// `generation` is bumped by every eviction: a lookup that read the store before a revoke must
/// not put the stale answer back, so an insert only happens if no eviction came in between.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<String, (Arc<Principal>, Instant)>>,
    generation: AtomicU64,
}

impl TokenCache {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, hash: &str) -> Option<Arc<Principal>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(hash).filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL).map(|(p, _)| p.clone())
    }

    /// Caches `principal` unless an eviction happened since `generation` was read.
    pub fn insert(&self, hash: String, principal: Arc<Principal>, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        // Bounded: expired entries go whenever the map grows large.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        entries.insert(hash, (principal, Instant::now()));
    }

    pub fn evict_token(&self, token_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (p, _)| p.token_id != token_id);
    }

    /// Evicts every token of a principal (its grants changed).
    pub fn evict_principal(&self, principal: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (p, _)| p.id != principal);
    }

    /// Evicts everything (a role changed).
    pub fn evict_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}
