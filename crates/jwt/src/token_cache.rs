//! A bounded memory of tokens already verified by the ES256/EdDSA verifier, so that a client
//! presenting the same token on every call pays one signature check, not one per call: an
//! ECDSA or Ed25519 verification costs tens of microseconds where HS256 costs under one, and
//! `/users/me` must stay within 85% of HS256's throughput.
//!
//! Entries are keyed by the SHA-256 of the whole token (the token itself is not kept), and hold
//! the verified claims and the `kid` that signed them. Only tokens that passed every check are
//! entered, so the cache cannot be filled by forgeries. A hit is still checked by the caller:
//! `exp` (with the leeway) on every hit, and the `kid` against the keys published *now*, so a
//! revoked key's tokens fail even if they were entered after the revocation cleared the cache.
//! At capacity the whole map is cleared before the next entry: memory stays bounded, no
//! bookkeeping is kept per entry, and the cost is one signature check per live token afterwards.
//!
//! The lock is a std `RwLock`: hits (nearly every call) take it shared and hold it for one
//! hash lookup and a clone, so concurrent requests do not wait on each other; writes (a new
//! token, a clear) are rare. A poisoned lock is taken over: the map is valid after any panic
//! inside it (every operation is a single insert, lookup or clear).

use ring::digest::{SHA256, SHA256_OUTPUT_LEN, digest};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use zeropass_domain::AccessTokenClaims;

/// Entries kept at most by default: far more than the tokens one instance sees re-presented
/// within a token lifetime on a busy day, and about a megabyte at most.
pub(crate) const DEFAULT_CAPACITY: usize = 4096;

/// The SHA-256 of a whole token.
pub(crate) type Fingerprint = [u8; SHA256_OUTPUT_LEN];

/// What is remembered of a verified token.
struct Entry {
    claims: AccessTokenClaims,
    kid: Arc<str>,
}

/// The bounded cache described in the module documentation.
pub(crate) struct VerifiedTokens {
    entries: RwLock<HashMap<Fingerprint, Entry>>,
    capacity: usize,
}

impl VerifiedTokens {
    /// An empty cache of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The fingerprint a token is remembered by.
    pub(crate) fn fingerprint(token: &str) -> Fingerprint {
        let mut fingerprint = [0_u8; SHA256_OUTPUT_LEN];
        fingerprint.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        fingerprint
    }

    /// The claims remembered for this fingerprint, if its `kid` is still `published`.
    /// (`exp` is the caller's to check.)
    pub(crate) fn get(
        &self,
        fingerprint: &Fingerprint,
        published: impl Fn(&str) -> bool,
    ) -> Option<AccessTokenClaims> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(fingerprint)
            .filter(|entry| published(&entry.kid))
            .map(|entry| entry.claims.clone())
    }

    /// Remembers a verified token, clearing the cache first when it is full.
    pub(crate) fn insert(
        &self,
        fingerprint: Fingerprint,
        claims: AccessTokenClaims,
        kid: Arc<str>,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&fingerprint) {
            entries.clear();
        }
        entries.insert(fingerprint, Entry { claims, kid });
    }

    /// Forgets every token (a key was unpublished).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many tokens are remembered.
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Sizes only: the claims name users.
impl fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}
