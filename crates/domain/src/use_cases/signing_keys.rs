//! The signing-key rules (`JWT_ALGORITHM` `ES256` or `EdDSA`): which stored key signs, which
//! are published in the JWKS, when a new key is made, and when an old one disappears. The same
//! rules serve every instance and the `zeropass keys` commands; the time comes from a
//! [`Clock`], so the whole timeline is tested without sleeping.
//!
//! The timeline of one key `K`, with `N` the JWKS `max-age`, `R` the bound on how late an
//! instance picks up a change from the store (60 s) and `S` the clock difference tolerated
//! between hosts (30 s, the tokens' own leeway):
//! 1. **made** at `created_at` and published from then on (state `next`);
//! 2. **signs** from `activates_at`, which is `created_at + N + R + S` (to the next whole
//!    second) for a scheduled rotation (so that every verifier's cached JWKS holds it first), or
//!    `created_at` for the very first key, for `keys rotate --now`, and whenever no key signs
//!    (state `current`: the activated key of the configured algorithm that no later key has
//!    superseded);
//! 3. **retired** when a key of a higher generation, of either algorithm, activates
//!    (`superseded_at`, state `retired`); a retired key never signs again, whatever happens to
//!    the keys after it;
//! 4. **unpublished and deleted** at `expires_at = superseded_at + R + token lifetime (TTL +
//!    leeway) + N + S`: the last token it can have signed (an instance may sign with it for up
//!    to `R` after a `--now` rotation) has expired, and every cached JWKS has been refetched
//!    since.
//!
//! **Revoked** (`keys revoke`): unpublished at once and never used again (`expires_at` is the
//! revocation time). The row stays as a tombstone while any older key is stored, because it is
//! what keeps those older keys retired: deleting it would let the key before it sign again.
//!
//! Keys of another algorithm than the configured one are never used nor published (tokens of
//! the previous algorithm are refused after a switch); they are deleted by the same expiry.

use crate::clock::Clock;
use crate::error::BoxError;
use crate::ports::signing_keys::{
    KeyId, SigningAlgorithm, SigningKeyGenerator, SigningKeyStore, StoredSigningKey,
};
use crate::ports::user_repository::RepositoryError;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::sync::Arc;
use thiserror::Error;

/// How long an instance may take to pick up a key change from the store (the contract's 60 s).
pub const KEY_PICKUP_BOUND_SECONDS: i64 = 60;

/// How far apart the clocks of the hosts sharing the keys (instances, the operator's `zeropass
/// keys`) may be: the timeline adds it to the publication lead and to the retirement tail. The
/// same 30 s as the tokens' leeway; NTP keeps real hosts far closer.
pub const CLOCK_SKEW_SECONDS: i64 = 30;

/// The instance's settings that the rules depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// `JWT_ALGORITHM`.
    pub algorithm: SigningAlgorithm,
    /// `JWT_KEY_ROTATION_DAYS` as a duration; `None` for `0` (never automatically).
    pub rotation: Option<Duration>,
    /// The JWKS `Cache-Control: max-age` (`N` above).
    pub jwks_max_age: Duration,
    /// How long a token stays acceptable after it is issued: `JWT_TTL_SECONDS` plus the leeway.
    pub token_lifetime: Duration,
}

impl KeyPolicy {
    /// How long before it signs a scheduled key is published: `N + R + S`.
    #[must_use]
    pub fn publication_lead(&self) -> Duration {
        self.jwks_max_age + Duration::seconds(KEY_PICKUP_BOUND_SECONDS + CLOCK_SKEW_SECONDS)
    }

    /// How long a superseded key stays published: `R + token lifetime + N + S`.
    #[must_use]
    pub fn retirement_tail(&self) -> Duration {
        Duration::seconds(KEY_PICKUP_BOUND_SECONDS + CLOCK_SKEW_SECONDS)
            + self.token_lifetime
            + self.jwks_max_age
    }
}

/// Where a key is in its life (the contract's `keys list` states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// The one key that signs.
    Current,
    /// Superseded (or of another algorithm); published until `expires_at` if any.
    Retired,
}

impl KeyState {
    /// `next`, `current` or `retired`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
        }
    }
}

/// One key as the rules see it at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    /// The stored key.
    pub key: StoredSigningKey,
    /// Its state.
    pub state: KeyState,
    /// When it stops (or stopped) being published: `None` while no key supersedes or revokes
    /// it.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the JWKS lists it (and tokens signed by it are accepted).
    pub published: bool,
}

/// The stored keys at one instant, in increasing generation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyRing {
    /// Every stored key with its status.
    pub keys: Vec<KeyStatus>,
}

impl KeyRing {
    /// Applies the timeline in the module documentation to `keys` at `now`.
    #[must_use]
    pub fn at(mut keys: Vec<StoredSigningKey>, now: DateTime<Utc>, policy: &KeyPolicy) -> Self {
        keys.sort_by_key(|key| key.generation);
        // Walking down the generations, the earliest activation seen so far among the higher
        // generations (of either algorithm) is when the next lower key was superseded. A key
        // revoked before it activated never signed, so it supersedes nothing.
        let mut superseded: Vec<Option<DateTime<Utc>>> = vec![None; keys.len()];
        let mut earliest_activation_above: Option<DateTime<Utc>> = None;
        for (index, key) in keys.iter().enumerate().rev() {
            superseded[index] = earliest_activation_above;
            let signed = key.activates_at <= now
                && key
                    .revoked_at
                    .is_none_or(|revoked| key.activates_at <= revoked);
            if signed {
                earliest_activation_above = Some(
                    earliest_activation_above.map_or(key.activates_at, |t| t.min(key.activates_at)),
                );
            }
        }
        let keys = keys
            .into_iter()
            .zip(superseded)
            .map(|(key, superseded_at)| {
                let configured = key.algorithm == policy.algorithm;
                let expires_at = key.revoked_at.or_else(|| {
                    // Out of chrono's range (a hand-edited row): published for ever rather
                    // than a panic; `keys revoke` ends it.
                    superseded_at.and_then(|at| at.checked_add_signed(policy.retirement_tail()))
                });
                let state = if !configured || key.revoked_at.is_some() || superseded_at.is_some() {
                    KeyState::Retired
                } else if key.activates_at <= now {
                    KeyState::Current
                } else {
                    KeyState::Next
                };
                KeyStatus {
                    published: configured && expires_at.is_none_or(|expiry| now < expiry),
                    key,
                    state,
                    expires_at,
                }
            })
            .collect();
        Self { keys }
    }

    /// The key that signs, if any.
    #[must_use]
    pub fn signing(&self) -> Option<&StoredSigningKey> {
        self.keys
            .iter()
            .find(|status| status.state == KeyState::Current)
            .map(|status| &status.key)
    }

    /// The keys the JWKS lists and whose tokens are accepted.
    pub fn published(&self) -> impl Iterator<Item = &StoredSigningKey> {
        self.keys
            .iter()
            .filter(|status| status.published)
            .map(|status| &status.key)
    }
}

/// A signing-key operation failed.
#[derive(Debug, Error)]
pub enum SigningKeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RepositoryError),
    /// A key could not be generated or sealed.
    #[error("a signing key could not be generated")]
    Generation(#[source] BoxError),
    /// Other writers kept taking the next generation first (several attempts in a row).
    #[error("other instances kept changing the signing keys at the same moment")]
    Contended,
}

/// The signing-key use case: every instance's periodic refresh and the operator's commands.
pub struct SigningKeys {
    store: Arc<dyn SigningKeyStore>,
    generator: Arc<dyn SigningKeyGenerator>,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// The use case over these ports.
    #[must_use]
    pub fn new(
        store: Arc<dyn SigningKeyStore>,
        generator: Arc<dyn SigningKeyGenerator>,
        clock: Arc<dyn Clock>,
        policy: KeyPolicy,
    ) -> Self {
        Self {
            store,
            generator,
            clock,
            policy,
        }
    }

    /// The policy the rules apply.
    #[must_use]
    pub const fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// What a serving instance does at start-up and every reload: reads the keys, deletes
    /// those past `expires_at`, makes the first key (active at once) when no key of the
    /// configured algorithm can sign, makes the next key (active after the publication lead)
    /// when automatic rotation is due and none is scheduled, and returns the ring at now.
    /// Every new key takes the next generation, so when several instances decide the same at
    /// the same moment exactly one key is made; the others reload and use it.
    ///
    /// # Errors
    /// [`SigningKeyError`].
    #[tracing::instrument(name = "keys.refresh", level = "debug", skip_all)]
    pub async fn refresh(&self) -> Result<KeyRing, SigningKeyError> {
        for _ in 0..WRITE_ATTEMPTS {
            let now = self.clock.now();
            let listed = self.store.list_signing_keys().await?;
            let next_generation = next_generation(&listed);
            let ring = KeyRing::at(listed, now, &self.policy);
            let mut kept: Vec<StoredSigningKey> = Vec::with_capacity(ring.keys.len());
            for status in ring.keys {
                // In increasing generation: `kept` holds the older keys still stored, which a
                // revoked key's tombstone keeps retired.
                let tombstone_needed = status.key.revoked_at.is_some() && !kept.is_empty();
                if status.expires_at.is_some_and(|expiry| expiry <= now) && !tombstone_needed {
                    if self.store.delete_signing_key(&status.key.kid).await? {
                        tracing::info!(kid = %status.key.kid, "expired signing key deleted");
                    }
                } else {
                    kept.push(status.key);
                }
            }
            let ring = KeyRing::at(kept, now, &self.policy);
            let Some(activates_at) = self.due_activation(&ring, now) else {
                return Ok(ring);
            };
            if let Some(made) = self.make_key(next_generation, activates_at, now).await? {
                tracing::info!(
                    kid = %made.kid,
                    generation = made.generation,
                    activates_at = %made.activates_at,
                    "signing key made"
                );
                let reloaded = self.store.list_signing_keys().await?;
                return Ok(KeyRing::at(reloaded, now, &self.policy));
            }
            tracing::debug!("another instance made the signing key first; deciding again");
        }
        Err(SigningKeyError::Contended)
    }

    /// When a key made now should activate, if one is due: at once when no key of the
    /// configured algorithm signs; after the publication lead (and not before the rotation
    /// period is over) when automatic rotation is due and no later key is stored already.
    fn due_activation(&self, ring: &KeyRing, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Some(current) = ring.signing() else {
            return Some(now);
        };
        let period = self.policy.rotation?;
        let scheduled = ring.keys.iter().any(|status| {
            status.key.algorithm == self.policy.algorithm
                && status.key.revoked_at.is_none()
                && status.key.generation > current.generation
        });
        let lead = self.policy.publication_lead();
        // Past chrono's range (a hand-edited row): never due, rather than a panic.
        let rotation_due = current.activates_at.checked_add_signed(period)?;
        let earliest = now.checked_add_signed(lead)?;
        (!scheduled && now >= rotation_due.checked_sub_signed(lead)?)
            .then(|| earliest.max(rotation_due))
    }

    /// Generates a key of the configured algorithm and offers it to the store as `generation`:
    /// `Ok(None)` when another writer took that generation (or that `kid`) first. Its times
    /// are whole seconds, as every store keeps them (so a key reads back as it was made):
    /// `created_at` and an immediate activation are rounded down, a scheduled activation up,
    /// which never shortens the publication lead.
    async fn make_key(
        &self,
        generation: i64,
        activates_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredSigningKey>, SigningKeyError> {
        let kid = KeyId::random().map_err(SigningKeyError::Generation)?;
        let generated = self
            .generator
            .generate(self.policy.algorithm, &kid)
            .map_err(SigningKeyError::Generation)?;
        let key = StoredSigningKey {
            kid,
            algorithm: self.policy.algorithm,
            generation,
            public_key: generated.public_key,
            sealed_private_key: generated.sealed_private_key,
            created_at: whole_second_floor(now),
            revoked_at: None,
            activates_at: if activates_at <= now {
                whole_second_floor(activates_at)
            } else {
                whole_second_ceil(activates_at)
            },
        };
        Ok(self.store.insert_signing_key(&key).await?.then_some(key))
    }

    /// The ring at now, without changing anything (`keys list`).
    ///
    /// # Errors
    /// [`SigningKeyError::Store`].
    #[tracing::instrument(name = "keys.list", level = "debug", skip_all)]
    pub async fn list(&self) -> Result<KeyRing, SigningKeyError> {
        let keys = self.store.list_signing_keys().await?;
        Ok(KeyRing::at(keys, self.clock.now(), &self.policy))
    }

    /// `keys rotate`: makes a new key of the configured algorithm, signing after the
    /// publication lead, or at once with `immediately` (after a compromise) or when no key signs
    /// (none made yet, or the signing one revoked). Returns its status.
    ///
    /// # Errors
    /// [`SigningKeyError`].
    #[tracing::instrument(name = "keys.rotate", skip(self))]
    pub async fn rotate(&self, immediately: bool) -> Result<KeyStatus, SigningKeyError> {
        for _ in 0..WRITE_ATTEMPTS {
            let now = self.clock.now();
            let listed = self.store.list_signing_keys().await?;
            // With no key signing (none made yet, or the current one revoked) there is nothing to
            // hand over from: the new key signs at once, as the first key does.
            let nothing_signs = KeyRing::at(listed.clone(), now, &self.policy)
                .signing()
                .is_none();
            let activates_at = if immediately || nothing_signs {
                now
            } else {
                now + self.policy.publication_lead()
            };
            let Some(made) = self
                .make_key(next_generation(&listed), activates_at, now)
                .await?
            else {
                tracing::debug!("another writer took the generation first; trying the next");
                continue;
            };
            tracing::info!(
                kid = %made.kid,
                generation = made.generation,
                activates_at = %made.activates_at,
                "signing key rotated"
            );
            let reloaded = self.store.list_signing_keys().await?;
            let kid = made.kid.clone();
            let keys = if reloaded.iter().any(|key| key.kid == kid) {
                reloaded
            } else {
                // Revoked between the insert and the reload: its status among the keys then.
                let mut keys = listed;
                keys.push(made);
                keys
            };
            // The ring has a status for every key it is given, so the search cannot fail.
            return KeyRing::at(keys, now, &self.policy)
                .keys
                .into_iter()
                .find(|status| status.key.kid == kid)
                .ok_or(SigningKeyError::Contended);
        }
        Err(SigningKeyError::Contended)
    }

    /// `keys revoke`: marks the key revoked now: it is unpublished and never used again
    /// (instances drop it within the pickup bound, and tokens it signed are refused from then);
    /// when it was the signing key, the next refresh makes one that signs at once. `Ok(false)`
    /// when no such key is stored or it was revoked already.
    ///
    /// # Errors
    /// [`SigningKeyError::Store`].
    #[tracing::instrument(name = "keys.revoke", skip_all, fields(kid = %kid))]
    pub async fn revoke(&self, kid: &KeyId) -> Result<bool, SigningKeyError> {
        let revoked = self.store.revoke_signing_key(kid, self.clock.now()).await?;
        if revoked {
            tracing::info!("signing key revoked");
        }
        Ok(revoked)
    }
}

/// How many times a write that lost a race is decided again before giving up.
const WRITE_ATTEMPTS: usize = 3;

fn whole_second_floor(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(Duration::seconds(1)).unwrap_or(time)
}

fn whole_second_ceil(time: DateTime<Utc>) -> DateTime<Utc> {
    let floor = whole_second_floor(time);
    if floor < time {
        floor + Duration::seconds(1)
    } else {
        floor
    }
}

/// The generation after every stored one (whatever its algorithm).
fn next_generation(keys: &[StoredSigningKey]) -> i64 {
    keys.iter()
        .map(|key| key.generation)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
}

#[cfg(test)]
#[path = "signing_keys_tests.rs"]
mod tests;
