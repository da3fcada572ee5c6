//! `KeyRingAccessTokens`: the `AccessTokens` adapter for `JWT_ALGORITHM` `ES256` or `EdDSA`.
//! It signs with the current key of a [`KeyRing`] (installed by the server after every
//! [`SigningKeys::refresh`](zeropass_domain::SigningKeys::refresh)), verifies with any of its
//! published keys, and lists those keys for the JWKS. Issued tokens carry
//! `{"alg":"ES256"|"EdDSA","typ":"JWT","kid":"..."}` and the same claims as HS256.
//!
//! Verification trusts nothing the token says about itself. The rules, in order (each failure
//! a fixed reason that never quotes the token):
//! 1. exactly three dot-separated segments;
//! 2. the header: the exact segment we issue for one of the published keys, or one passing
//!    [`crate::header`]'s rules with `alg` pinned to the configured algorithm (so HS256, `none`
//!    and the other asymmetric algorithm are refused whatever the signature), a `kid` present
//!    and naming a published key of that algorithm;
//! 3. the signature: unpadded base64url, verified by `ring` with that key over
//!    `header.payload`;
//! 4. the claims: [`crate::claim_rules`], shared with the HS256 verifier.
//!
//! A token that passed is remembered ([`crate::token_cache`]) and answered from memory the next
//! times, its `exp` and `kid` re-checked on every hit; installing a ring that unpublishes a key
//! forgets every remembered token.
//!
//! Installing a ring trusts the store no more than a token: a published key verifies only once
//! this instance has checked it is authentic, that is its sealed private key opens under
//! `JWT_SECRET` and derives exactly its stored public key (so a row written by someone who can
//! write to the database but lacks `JWT_SECRET` never verifies anything). Each key is checked
//! once, when first met with that `kid` and public key; a key that fails is left out (one WARN
//! naming its `kid`) and the rest of the ring installed all the same, so a bad row never delays
//! a revocation. Only the ring's current key signs: when it fails, nothing signs (issuing fails)
//! rather than a key the ring no longer signs with.

use crate::claim_rules::{ClaimRules, Rejection, check_expiry, decode_segment, segments};
use crate::claims::Claims;
use crate::header;
use crate::key_pairs::{self, SigningKeyPair};
use crate::sealing::Sealer;
use crate::secret::JwtSecret;
use crate::token_cache::{DEFAULT_CAPACITY, VerifiedTokens};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ring::rand::SystemRandom;
use ring::signature::UnparsedPublicKey;
use serde::Serialize;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{
    AccessTokenClaims, AccessTokens, IssueTokenError, IssuedToken, KeyId, KeyRing, PublicJwk,
    SigningAlgorithm, StoredSigningKey, TokenRejection, User,
};

/// What the adapter needs besides `JWT_SECRET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRingConfig {
    /// `JWT_ALGORITHM`: the only algorithm signed with and accepted.
    pub algorithm: SigningAlgorithm,
    /// The `iss` written into and required of every token: `PUBLIC_URL`.
    pub issuer: String,
    /// Lifetime of issued tokens (`JWT_TTL_SECONDS`); whole seconds, a fraction is dropped.
    pub ttl: Duration,
}

/// The current key of an installed [`KeyRing`] cannot sign: the ring's verifying keys were
/// installed all the same, and no key signs until a ring whose current key can is installed.
/// Names the key at fault by its (public) `kid`, never by any of its bytes.
#[derive(Debug, Clone, Error)]
pub enum InstallKeysError {
    /// No key of the configured algorithm is current.
    #[error("no stored signing key of the configured algorithm can sign")]
    NoSigningKey,
    /// The current key's sealed private key does not open: another `JWT_SECRET` sealed it, or
    /// it was altered or copied from another row.
    #[error("JWT_SECRET does not open stored signing key {kid}")]
    CannotUnseal {
        /// The key that does not open.
        kid: KeyId,
    },
    /// A key's bytes are not a key of its algorithm, or its private half does not match its
    /// public half.
    #[error("stored signing key {kid} is malformed")]
    MalformedKey {
        /// The malformed key.
        kid: KeyId,
    },
}

/// Issues and verifies zeropass's ES256 or EdDSA access tokens with the keys of a [`KeyRing`].
pub struct KeyRingAccessTokens {
    algorithm: SigningAlgorithm,
    rules: ClaimRules,
    issuer: String,
    ttl_seconds: u64,
    sealer: Sealer,
    random: SystemRandom,
    /// Replaced whole by `install`; readers clone the `Arc` and let go of the lock at once.
    installed: RwLock<Arc<Installed>>,
    verified: VerifiedTokens,
}

/// The keys in use: one snapshot, replaced whole by `install`.
#[derive(Debug, Default)]
struct Installed {
    /// The ring's current key, when it could be unsealed.
    signer: Option<Arc<Signer>>,
    /// The published keys of the configured algorithm found authentic (a handful: searched in
    /// order).
    published: Vec<Arc<VerifyingKey>>,
    /// The rows of the ring found not authentic, so that they are neither unsealed nor logged
    /// again while they stay exactly the same.
    refused: Vec<RefusedKey>,
}

impl Installed {
    fn by_header(&self, header: &str) -> Option<&VerifyingKey> {
        self.published
            .iter()
            .find(|key| key.issued_header_segment == header)
            .map(Arc::as_ref)
    }

    fn by_kid(&self, kid: &str) -> Option<&VerifyingKey> {
        self.published
            .iter()
            .find(|key| &*key.kid == kid)
            .map(Arc::as_ref)
    }

    /// The verifying key of `row`, if this row's key (same `kid`, same public key) was found
    /// authentic before.
    fn authentic(&self, row: &StoredSigningKey) -> Option<&Arc<VerifyingKey>> {
        self.published.iter().find(|key| key.is_of(row))
    }

    /// Why `row` was refused, if exactly this row was refused before.
    fn refusal(&self, row: &StoredSigningKey) -> Option<&InstallKeysError> {
        self.refused
            .iter()
            .find(|refused| refused.row == *row)
            .map(|refused| &refused.error)
    }
}

/// A row found not authentic, and why.
struct RefusedKey {
    row: StoredSigningKey,
    error: InstallKeysError,
}

/// The kid is enough.
impl fmt::Debug for RefusedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusedKey")
            .field("kid", &self.row.kid.as_str())
            .finish_non_exhaustive()
    }
}

/// The current key, ready to sign.
struct Signer {
    kid: KeyId,
    /// The header segment every token it signs starts with.
    header_segment: String,
    key_pair: SigningKeyPair,
}

impl Signer {
    /// Whether `row` is this signer's key (same `kid`, same public key).
    fn is_of(&self, row: &StoredSigningKey) -> bool {
        self.kid == row.kid && self.key_pair.public_key() == row.public_key.as_slice()
    }
}

/// The private key left out.
impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid.as_str())
            .finish_non_exhaustive()
    }
}

/// One published key.
struct VerifyingKey {
    kid: Arc<str>,
    /// The header segment of the tokens it signs, accepted without parsing.
    issued_header_segment: String,
    key: UnparsedPublicKey<Vec<u8>>,
    jwk: PublicJwk,
}

impl VerifyingKey {
    /// Whether `row` is this key (same `kid`, same public key).
    fn is_of(&self, row: &StoredSigningKey) -> bool {
        *self.kid == *row.kid.as_str() && self.key.as_ref() == row.public_key.as_slice()
    }

    /// The verifying key of a row of well-formed public key (not yet known to be authentic).
    fn new(key: &StoredSigningKey) -> Result<Self, InstallKeysError> {
        let jwk = key_pairs::public_jwk(key.algorithm, key.kid.as_str(), &key.public_key).ok_or(
            InstallKeysError::MalformedKey {
                kid: key.kid.clone(),
            },
        )?;
        Ok(Self {
            kid: Arc::from(key.kid.as_str()),
            issued_header_segment: issued_header_segment(key.algorithm, key.kid.as_str()),
            key: UnparsedPublicKey::new(
                key_pairs::verification_algorithm(key.algorithm),
                key.public_key.clone(),
            ),
            jwk,
        })
    }
}

/// The kid is enough (the key itself is public, but long and of no use in a log).
impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The header of the tokens we sign, in the order written.
#[derive(Serialize)]
struct IssuedHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

fn issued_header_segment(algorithm: SigningAlgorithm, kid: &str) -> String {
    let header = IssuedHeader {
        alg: algorithm.as_str(),
        typ: "JWT",
        kid,
    };
    // A struct of three strings always serialises.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default())
}

impl KeyRingAccessTokens {
    /// An adapter with no keys yet: it issues nothing and accepts nothing until
    /// [`install`](Self::install) succeeds. `secret` opens the stored private keys.
    #[must_use]
    pub fn new(secret: &JwtSecret, config: KeyRingConfig) -> Self {
        Self::with_cache_capacity(secret, config, DEFAULT_CAPACITY)
    }

    fn with_cache_capacity(secret: &JwtSecret, config: KeyRingConfig, capacity: usize) -> Self {
        Self {
            algorithm: config.algorithm,
            rules: ClaimRules::new(config.issuer.clone()),
            issuer: config.issuer,
            ttl_seconds: config.ttl.as_secs(),
            sealer: Sealer::new(secret),
            random: SystemRandom::new(),
            installed: RwLock::new(Arc::new(Installed::default())),
            verified: VerifiedTokens::new(capacity),
        }
    }

    /// Installs the keys of a [`KeyRing`] (from `SigningKeys::refresh`). Keys of another
    /// algorithm than the configured one are ignored. Every published key (and the current one)
    /// found authentic becomes a verifying key; one that is not (malformed, or its sealed
    /// private key does not open or does not derive its public key) is left out with a WARN
    /// naming its `kid`. A key is checked once, when first met with that `kid` and public key,
    /// so installing an unchanged ring again unseals nothing. The current key signs; the signer
    /// installed before is kept only while it is the same key (it is then still published and
    /// still current). When a previously verifying key is gone (revoked, expired, or no longer
    /// authentic), every remembered token is forgotten.
    ///
    /// # Errors
    /// [`InstallKeysError`] when the ring's current key cannot sign: the verifying keys are
    /// installed all the same and nothing signs (issuing fails) until a ring whose current key
    /// can sign is installed. The caller logs it.
    pub fn install(&self, ring: &KeyRing) -> Result<(), InstallKeysError> {
        let signing = ring.signing().filter(|key| key.algorithm == self.algorithm);
        let mut rows: Vec<&StoredSigningKey> = ring
            .published()
            .filter(|key| key.algorithm == self.algorithm)
            .collect();
        if let Some(signing) = signing
            && !rows.iter().any(|key| key.kid == signing.kid)
        {
            rows.push(signing);
        }

        let current = self.snapshot();
        let mut next = Installed::default();
        let mut signing_key_pair = None;
        for row in rows {
            let is_signing = signing.is_some_and(|key| key.kid == row.kid);
            if let Some(known) = current.authentic(row) {
                next.published.push(Arc::clone(known));
            } else if let Some(error) = current.refusal(row) {
                next.refused.push(RefusedKey {
                    row: row.clone(),
                    error: error.clone(),
                });
            } else {
                match self.authenticate(row) {
                    Ok((key, key_pair)) => {
                        next.published.push(Arc::new(key));
                        if is_signing {
                            signing_key_pair = Some(key_pair);
                        }
                    }
                    Err(error) => {
                        if !is_signing {
                            // The current key's error is returned instead, for the caller to log.
                            tracing::warn!(
                                kid = %row.kid,
                                %error,
                                "published signing key skipped: it does not verify tokens"
                            );
                        }
                        next.refused.push(RefusedKey {
                            row: row.clone(),
                            error,
                        });
                    }
                }
            }
        }

        let signed = signing
            .ok_or(InstallKeysError::NoSigningKey)
            .and_then(|row| self.signer(&current, &next, row, signing_key_pair));
        next.signer = signed.as_ref().ok().map(Arc::clone);

        let unpublished = current
            .published
            .iter()
            .any(|old| !next.published.iter().any(|new| Arc::ptr_eq(old, new)));
        *self
            .installed
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        if unpublished {
            self.verified.clear();
        }
        signed.map(|_| ())
    }

    /// The signer of the current key `row`, `next` being the keys being installed and
    /// `key_pair` its key pair if it was unsealed just now.
    fn signer(
        &self,
        current: &Installed,
        next: &Installed,
        row: &StoredSigningKey,
        key_pair: Option<SigningKeyPair>,
    ) -> Result<Arc<Signer>, InstallKeysError> {
        if let Some(error) = next.refusal(row) {
            return Err(error.clone());
        }
        if let Some(signer) = current.signer.as_ref().filter(|signer| signer.is_of(row)) {
            return Ok(Arc::clone(signer));
        }
        let key_pair = match key_pair {
            Some(key_pair) => key_pair,
            // Found authentic before, but not signing yet: unsealed again to sign.
            None => self.authenticate(row)?.1,
        };
        Ok(Arc::new(Signer {
            kid: row.kid.clone(),
            header_segment: issued_header_segment(row.algorithm, row.kid.as_str()),
            key_pair,
        }))
    }

    /// Checks that `row` is authentic: its public key well formed, its sealed private key
    /// opening under `JWT_SECRET` (bound to its `kid` and algorithm) and deriving exactly that
    /// public key. Returns its verifying key and its key pair.
    fn authenticate(
        &self,
        row: &StoredSigningKey,
    ) -> Result<(VerifyingKey, SigningKeyPair), InstallKeysError> {
        let key = VerifyingKey::new(row)?;
        let opened = self
            .sealer
            .open(row.algorithm, &row.kid, &row.sealed_private_key)
            .map_err(|_| InstallKeysError::CannotUnseal {
                kid: row.kid.clone(),
            })?;
        let malformed = || InstallKeysError::MalformedKey {
            kid: row.kid.clone(),
        };
        let key_pair = SigningKeyPair::from_pkcs8(row.algorithm, opened.pkcs8(), &self.random)
            .map_err(|_| malformed())?;
        if key_pair.public_key() != row.public_key.as_slice() {
            return Err(malformed());
        }
        Ok((key, key_pair))
    }

    fn snapshot(&self) -> Arc<Installed> {
        Arc::clone(
            &self
                .installed
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// [`AccessTokens::issue`] at `issued_at` (seconds since the Unix epoch).
    fn issue_at(&self, user: &User, issued_at: i64) -> Result<IssuedToken, IssueTokenError> {
        let installed = self.snapshot();
        let signer = installed
            .signer
            .as_ref()
            .ok_or_else(|| IssueTokenError(Box::new(IssueError::NoKeyInstalled)))?;
        let expires_at = i64::try_from(self.ttl_seconds)
            .ok()
            .and_then(|ttl| issued_at.checked_add(ttl))
            .ok_or_else(|| IssueTokenError(Box::new(IssueError::LifetimeTooLong)))?;
        let claims = Claims::new(user, &self.issuer, issued_at, expires_at, Uuid::new_v4());
        let payload =
            serde_json::to_vec(&claims).map_err(|error| IssueTokenError(Box::new(error)))?;

        let mut token = String::with_capacity(signer.header_segment.len() + payload.len() * 2);
        token.push_str(&signer.header_segment);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = signer
            .key_pair
            .sign(token.as_bytes(), &self.random)
            .map_err(|error| IssueTokenError(Box::new(error)))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(IssuedToken {
            token,
            expires_in: self.ttl_seconds,
        })
    }

    /// [`AccessTokens::verify`] at `now` (seconds since the Unix epoch): the rules in the
    /// module's documentation.
    fn verify_at(&self, token: &str, now: i64) -> Result<AccessTokenClaims, Rejection> {
        let (header, payload, signature) = segments(token)?;
        let installed = self.snapshot();

        let fingerprint = VerifiedTokens::fingerprint(token);
        if let Some(claims) = self
            .verified
            .get(&fingerprint, |kid| installed.by_kid(kid).is_some())
        {
            check_expiry(claims.expires_at, now)?;
            return Ok(claims);
        }

        let key = match installed.by_header(header) {
            Some(key) => key,
            None => {
                let kid = header::check(header, self.algorithm.as_str())?
                    .ok_or(Rejection::Invalid("no key id"))?;
                installed
                    .by_kid(&kid)
                    .ok_or(Rejection::Invalid("unknown key id"))?
            }
        };
        let signature = decode_segment(signature)?;
        // `header.payload`, as signed: the token up to its second dot.
        let signed = token
            .get(..header.len() + 1 + payload.len())
            .ok_or(Rejection::Invalid("not three dot-separated segments"))?;
        key.key
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| Rejection::Invalid("bad signature"))?;

        let claims = self.rules.read(payload, now)?;
        self.verified
            .insert(fingerprint, claims.clone(), Arc::clone(&key.kid));
        Ok(claims)
    }
}

/// Keys left out (the private one is secret, the public ones are in `published_keys`).
impl fmt::Debug for KeyRingAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRingAccessTokens")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("installed", &self.snapshot())
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl AccessTokens for KeyRingAccessTokens {
    fn issue(&self, user: &User) -> Result<IssuedToken, IssueTokenError> {
        self.issue_at(user, Utc::now().timestamp())
    }

    fn verify(&self, token: &str) -> Result<AccessTokenClaims, TokenRejection> {
        self.verify_at(token, Utc::now().timestamp())
            .map_err(|rejection| match rejection {
                Rejection::Expired => TokenRejection::Expired,
                Rejection::Invalid(reason) => TokenRejection::Invalid(reason.to_owned()),
            })
    }

    fn published_keys(&self) -> Vec<PublicJwk> {
        self.snapshot()
            .published
            .iter()
            .map(|key| key.jwk.clone())
            .collect()
    }
}

/// Why a token could not be issued.
#[derive(Debug, Error)]
enum IssueError {
    #[error("no signing key is installed")]
    NoKeyInstalled,
    #[error("the access token lifetime is too long to compute an expiry")]
    LifetimeTooLong,
}

#[cfg(test)]
mod tests;
