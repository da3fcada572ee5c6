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
//! At capacity every other entry (in the map's own, arbitrary order) is dropped before the next
//! one goes in: memory stays bounded, no bookkeeping is kept per entry, the cost is amortised
//! (one pass per half a capacity of new tokens), and a working set larger than the capacity
//! still finds about half of itself remembered instead of nothing. Measured: with 4,096 entries
//! cleared when full, 10,000 clients presenting their tokens in turn made nearly every ES256
//! `/users/me` pay a signature check (0.31 of HS256's throughput).
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

/// Entries kept at most by default: the tokens of 32,768 clients active at once, about 4 MiB
/// at most (some 120 bytes an entry with the map's own overhead).
pub(crate) const DEFAULT_CAPACITY: usize = 32_768;

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

    /// Remembers a verified token, dropping every other entry first when the cache is full.
    pub(crate) fn insert(
        &self,
        fingerprint: Fingerprint,
        claims: AccessTokenClaims,
        kid: Arc<str>,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&fingerprint) {
            let mut keep = false;
            entries.retain(|_, _| {
                keep = !keep;
                keep
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use zeropass_domain::UserId;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            user_id: UserId::new_random(),
            token_id: "jti".to_owned(),
            expires_at: 0,
        }
    }

    fn fingerprint(n: u16) -> Fingerprint {
        let mut fingerprint = [0; SHA256_OUTPUT_LEN];
        fingerprint[..2].copy_from_slice(&n.to_be_bytes());
        fingerprint
    }

    fn remembered(cache: &VerifiedTokens, n: u16) -> bool {
        cache.get(&fingerprint(n), |_| true).is_some()
    }

    fn present_round_robin(cache: &VerifiedTokens, clients: u16, rounds: usize) -> usize {
        let kid: Arc<str> = Arc::from("kid");
        let mut hits = 0;
        for _ in 0..rounds {
            for n in 0..clients {
                if remembered(cache, n) {
                    hits += 1;
                } else {
                    cache.insert(fingerprint(n), claims(), Arc::clone(&kid));
                }
                assert!(cache.len() <= 64);
            }
        }
        hits
    }

    #[test]
    fn clients_up_to_the_capacity_are_all_served_from_memory_after_their_first_call() {
        let cache = VerifiedTokens::new(64);
        assert_eq!(present_round_robin(&cache, 64, 4), 64 * 3);
    }

    #[test]
    fn more_clients_than_the_capacity_still_find_part_of_themselves_remembered() {
        let cache = VerifiedTokens::new(64);
        let hits = present_round_robin(&cache, 80, 10);
        // Cleared when full, a round-robin walk larger than the cache would never hit.
        assert!(hits > 80 * 10 / 5, "{hits} hits of 800");
    }

    #[test]
    fn a_remembered_token_of_a_key_no_longer_published_is_not_answered() {
        let cache = VerifiedTokens::new(4);
        cache.insert(fingerprint(1), claims(), Arc::from("old"));
        assert!(cache.get(&fingerprint(1), |kid| kid != "old").is_none());
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
