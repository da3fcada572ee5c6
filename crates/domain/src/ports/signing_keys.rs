//! The signing-key ports: where zeropass's asymmetric signing keys (`JWT_ALGORITHM` `ES256` or
//! `EdDSA`) are kept, and who makes new ones. A store keeps rows and hands them back; the rules
//! (which key signs, which are published, when a new one is due) are the
//! [`SigningKeys`](crate::use_cases::signing_keys::SigningKeys) use case's. Key material is
//! opaque here: the public key is raw bytes (a P-256 point, uncompressed, 65 bytes; or an
//! Ed25519 key, 32 bytes) and the private key is sealed (encrypted and authenticated) by the
//! generator's adapter, so neither the domain nor the store ever holds a usable private key.

use crate::error::BoxError;
use crate::ports::user_repository::RepositoryError;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use thiserror::Error;

/// The asymmetric algorithms zeropass signs with (`JWT_ALGORITHM`; `HS256` has no stored keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

/// A name that is not `ES256` or `EdDSA` (exact spelling, as in a JWT header).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a signing algorithm zeropass stores keys for (ES256 or EdDSA)")]
pub struct UnknownSigningAlgorithm;

impl SigningAlgorithm {
    /// The name in a JWT header, a JWK's `alg` and the store: `ES256` or `EdDSA`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = UnknownSigningAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "ES256" => Ok(Self::Es256),
            "EdDSA" => Ok(Self::EdDsa),
            _ => Err(UnknownSigningAlgorithm),
        }
    }
}

/// A key's `kid`: 22 characters of unpadded base64url (128 random bits). Public: it is in
/// every token header and in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

/// The text is not a `kid` zeropass could have made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a key id (22 characters of unpadded base64url)")]
pub struct InvalidKeyId;

impl KeyId {
    /// A fresh random key id.
    ///
    /// # Errors
    /// The operating system's random number generator failed.
    pub fn random() -> Result<Self, BoxError> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes).map_err(|error| Box::new(error) as BoxError)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses a key id typed by an operator or read back from storage.
    ///
    /// # Errors
    /// [`InvalidKeyId`] unless it is 22 characters of unpadded base64url encoding 16 bytes.
    pub fn parse(text: &str) -> Result<Self, InvalidKeyId> {
        if text.len() != 22 {
            return Err(InvalidKeyId);
        }
        match URL_SAFE_NO_PAD.decode(text) {
            Ok(bytes) if bytes.len() == 16 => Ok(Self(text.to_owned())),
            _ => Err(InvalidKeyId),
        }
    }

    /// The key id as written in headers, the JWKS and the store.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A private key sealed by the [`SigningKeyGenerator`]'s adapter (for zeropass: AES-256-GCM
/// under a key derived from `JWT_SECRET`, with the `kid` and algorithm as associated data).
/// Opaque bytes to everyone else; its `Debug` is redacted all the same.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPrivateKey(pub Vec<u8>);

impl std::fmt::Debug for SealedPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedPrivateKey(..)")
    }
}

/// One stored signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Its `kid`, unique.
    pub kid: KeyId,
    /// The algorithm it signs with.
    pub algorithm: SigningAlgorithm,
    /// Its place in the sequence of keys, unique across all keys whatever their algorithm: a
    /// key of a higher generation supersedes every lower one once it activates. The store's
    /// uniqueness of this number is what makes "a new key" happen once when several instances
    /// decide it at the same moment.
    pub generation: i64,
    /// The raw public key (P-256: the 65-byte uncompressed point; Ed25519: 32 bytes).
    pub public_key: Vec<u8>,
    /// The private key, sealed.
    pub sealed_private_key: SealedPrivateKey,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it may start signing (it is published from `created_at`).
    pub activates_at: DateTime<Utc>,
    /// When an operator revoked it (`zeropass keys revoke`): from then on it is neither
    /// published nor used. The row stays (a tombstone) while older keys remain, so that a key
    /// it superseded can never sign again.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where signing keys are kept, shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every stored key, in increasing `generation`.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, RepositoryError>;

    /// Stores `key` unless a key with the same `generation` (or `kid`) is stored already:
    /// `Ok(true)` when stored, `Ok(false)` when another writer got there first (nothing was
    /// changed; the caller reloads and decides again). Atomic: of any number of concurrent
    /// inserts of one generation, from any number of instances, exactly one returns `true`.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool, RepositoryError>;

    /// Marks the key `kid` revoked at `at`: `Ok(true)` when it was stored and not revoked yet,
    /// `Ok(false)` otherwise (nothing changed).
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn revoke_signing_key(
        &self,
        kid: &KeyId,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Deletes the key `kid`: `Ok(true)` when it was stored, `Ok(false)` when it was not.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn delete_signing_key(&self, kid: &KeyId) -> Result<bool, RepositoryError>;
}

/// A new key pair: the public half in the clear, the private half sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    /// The raw public key (see [`StoredSigningKey::public_key`]).
    pub public_key: Vec<u8>,
    /// The private key, sealed with `kid` and the algorithm bound to it.
    pub sealed_private_key: SealedPrivateKey,
}

/// Makes new key pairs (the cryptography lives in the adapter).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SigningKeyGenerator: Send + Sync {
    /// A fresh key pair for `algorithm`, its private half sealed for `kid`.
    ///
    /// # Errors
    /// When the random number generator or the sealing fails.
    fn generate(&self, algorithm: SigningAlgorithm, kid: &KeyId) -> Result<GeneratedKey, BoxError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_key_id_parses_back_and_other_text_does_not() {
        let kid = KeyId::random().unwrap_or_else(|_| KeyId("x".repeat(22)));
        assert_eq!(KeyId::parse(kid.as_str()), Ok(kid.clone()));
        for other in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(KeyId::parse(other), Err(InvalidKeyId), "{other:?}");
        }
    }

    #[test]
    fn algorithm_names_are_exact() {
        assert_eq!("ES256".parse(), Ok(SigningAlgorithm::Es256));
        assert_eq!("EdDSA".parse(), Ok(SigningAlgorithm::EdDsa));
        for other in ["es256", "EDDSA", "HS256", "none", "ES384", ""] {
            assert_eq!(
                other.parse::<SigningAlgorithm>(),
                Err(UnknownSigningAlgorithm)
            );
        }
    }
}
