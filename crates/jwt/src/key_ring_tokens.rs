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

/// A [`KeyRing`] could not be installed; the keys installed before stay in use. Names the key
/// at fault by its (public) `kid`, never by any of its bytes.
#[derive(Debug, Error)]
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
    /// A key's bytes are not a key of its algorithm (or the current key's private half does
    /// not match its public half).
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
    signer: Option<Signer>,
    /// The published keys of the configured algorithm (a handful: searched in order).
    published: Vec<VerifyingKey>,
}

impl Installed {
    fn by_header(&self, header: &str) -> Option<&VerifyingKey> {
        self.published
            .iter()
            .find(|key| key.issued_header_segment == header)
    }

    fn by_kid(&self, kid: &str) -> Option<&VerifyingKey> {
        self.published.iter().find(|key| &*key.kid == kid)
    }
}

/// The current key, ready to sign.
struct Signer {
    kid: KeyId,
    /// The header segment every token it signs starts with.
    header_segment: String,
    key_pair: SigningKeyPair,
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

    /// Installs the keys of a [`KeyRing`] (from `SigningKeys::refresh`): unseals the signing
    /// key, builds the verifying keys of the published keys; cheap when nothing changed (same
    /// signing key, same published keys: nothing is unsealed). Keys of another algorithm than
    /// the configured one are ignored; the signing key is always among the verifying keys. When
    /// a previously published key is gone (revoked or expired), every remembered token is
    /// forgotten. All or nothing: on error the keys installed before stay in use.
    ///
    /// # Errors
    /// [`InstallKeysError`].
    pub fn install(&self, ring: &KeyRing) -> Result<(), InstallKeysError> {
        let signing = ring
            .signing()
            .filter(|key| key.algorithm == self.algorithm)
            .ok_or(InstallKeysError::NoSigningKey)?;
        let mut published: Vec<&StoredSigningKey> = ring
            .published()
            .filter(|key| key.algorithm == self.algorithm)
            .collect();
        if !published.iter().any(|key| key.kid == signing.kid) {
            published.push(signing);
        }

        let current = self.snapshot();
        let unchanged = current
            .signer
            .as_ref()
            .is_some_and(|signer| signer.kid == signing.kid)
            && current.published.len() == published.len()
            && current
                .published
                .iter()
                .zip(&published)
                .all(|(installed, key)| *installed.kid == *key.kid.as_str());
        if unchanged {
            return Ok(());
        }

        let signer = self.signer(signing)?;
        let published = published
            .into_iter()
            .map(VerifyingKey::new)
            .collect::<Result<Vec<_>, _>>()?;
        let unpublished = current
            .published
            .iter()
            .any(|old| published.iter().all(|new| new.kid != old.kid));
        *self
            .installed
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(Installed {
            signer: Some(signer),
            published,
        });
        if unpublished {
            self.verified.clear();
        }
        Ok(())
    }

    fn signer(&self, key: &StoredSigningKey) -> Result<Signer, InstallKeysError> {
        let opened = self
            .sealer
            .open(key.algorithm, &key.kid, &key.sealed_private_key)
            .map_err(|_| InstallKeysError::CannotUnseal {
                kid: key.kid.clone(),
            })?;
        let malformed = || InstallKeysError::MalformedKey {
            kid: key.kid.clone(),
        };
        let key_pair = SigningKeyPair::from_pkcs8(key.algorithm, opened.pkcs8(), &self.random)
            .map_err(|_| malformed())?;
        if key_pair.public_key() != key.public_key.as_slice() {
            return Err(malformed());
        }
        Ok(Signer {
            kid: key.kid.clone(),
            header_segment: issued_header_segment(key.algorithm, key.kid.as_str()),
            key_pair,
        })
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
