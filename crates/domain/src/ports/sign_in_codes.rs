//! The `SignInCodes` port: where one-time sign-in codes wait between the browser flow's callback
//! and the app's `POST /auth/token`. The store keeps only what redemption needs — the code's
//! SHA-256, the user, the client's PKCE challenge and the expiry — so that any instance sharing
//! it can redeem a code another issued. The rules (expiry, single use, the verifier check) are
//! the `CodeGrant` use case's; a store only keeps rows and hands each out at most once.

use crate::ports::user_repository::RepositoryError;
use crate::user::UserId;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The SHA-256 of a one-time code: what the store keys its rows by. A code has 256 bits of
/// entropy, so a plain (unsalted, fast) hash is enough: nobody can search the code space.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeHash([u8; 32]);

impl CodeHash {
    /// The hash of a code as the client presents it.
    #[must_use]
    pub fn of(code: &str) -> Self {
        Self(Sha256::digest(code.as_bytes()).into())
    }

    /// A hash read back from storage.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes to store.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Redacted: a hash of a live code is as good as a handle on it in a log.
impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHash(..)")
    }
}

/// A client's PKCE challenge with method `S256` (RFC 7636 §4.2): the 32 bytes of
/// SHA-256(code_verifier), sent as 43 characters of unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeChallenge([u8; 32]);

/// The `code_challenge` is not the base64url of a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the code_challenge is not 43 characters of unpadded base64url encoding 32 bytes")]
pub struct InvalidCodeChallenge;

/// Shortest and longest `code_verifier` (RFC 7636 §4.1).
const VERIFIER_LENGTHS: std::ops::RangeInclusive<usize> = 43..=128;

impl CodeChallenge {
    /// Parses an S256 challenge as the client sent it.
    ///
    /// # Errors
    /// [`InvalidCodeChallenge`] unless it is exactly 43 characters of unpadded base64url whose
    /// 32 bytes could be a SHA-256 digest.
    pub fn parse_s256(raw: &str) -> Result<Self, InvalidCodeChallenge> {
        if raw.len() != 43 {
            return Err(InvalidCodeChallenge);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| InvalidCodeChallenge)?;
        bytes.try_into().map(Self).map_err(|_| InvalidCodeChallenge)
    }

    /// A challenge read back from storage.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes to store.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The challenge in its wire form (43 characters of unpadded base64url).
    #[must_use]
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Whether `verifier` is a well-formed RFC 7636 code verifier (43–128 characters of
    /// `A-Z a-z 0-9 - . _ ~`) whose SHA-256 is this challenge. The digests are compared in
    /// constant time.
    #[must_use]
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let well_formed = VERIFIER_LENGTHS.contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let digest: [u8; 32] = Sha256::digest(verifier.as_bytes()).into();
        well_formed && bool::from(digest.ct_eq(&self.0))
    }
}

impl std::fmt::Debug for CodeChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeChallenge(..)")
    }
}

/// One stored code: everything redemption needs, and nothing from which the code itself could
/// be recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignInCode {
    /// SHA-256 of the code; unique.
    pub hash: CodeHash,
    /// The user the code signs in.
    pub user_id: UserId,
    /// The client's challenge; the redeeming request must bring its verifier.
    pub challenge: CodeChallenge,
    /// Unix seconds from which the code is no longer accepted.
    pub expires_at: i64,
}

/// Storage of one-time sign-in codes, shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SignInCodes: Send + Sync {
    /// Stores a new code.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails (nothing was stored then); a hash that is
    /// already stored (a 256-bit collision: never in practice) MUST be an error too, never an
    /// overwrite.
    async fn store(&self, code: &StoredSignInCode) -> Result<(), RepositoryError>;

    /// Removes the code with this hash and returns it — whether expired or not, judging is the
    /// caller's. It MUST be atomic: of any number of concurrent calls for one hash, from any
    /// instance, exactly one gets the code and all others `Ok(None)`; once it returned the
    /// code, every later call returns `Ok(None)`.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails; the code may then still be stored.
    async fn take(&self, hash: &CodeHash) -> Result<Option<StoredSignInCode>, RepositoryError>;

    /// Deletes at most `limit` codes whose `expires_at` is at or before `now` (unix seconds);
    /// returns how many went. Bounded so that a cleanup never holds the store for long.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn delete_expired(&self, now: i64, limit: u32) -> Result<u64, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_example_verifier_meets_its_challenge() {
        let challenge = CodeChallenge::parse_s256(RFC_CHALLENGE).unwrap();
        assert!(challenge.is_met_by(RFC_VERIFIER));
        assert_eq!(challenge.to_base64url(), RFC_CHALLENGE);
    }

    #[test]
    fn another_or_a_malformed_verifier_does_not_meet_it() {
        let challenge = CodeChallenge::parse_s256(RFC_CHALLENGE).unwrap();
        let mut other = RFC_VERIFIER.to_owned();
        other.replace_range(0..1, "e");
        assert!(!challenge.is_met_by(&other));
        assert!(!challenge.is_met_by(""));
        assert!(!challenge.is_met_by(&RFC_VERIFIER[..42]));
    }

    #[test]
    fn a_verifier_outside_rfc_7636_syntax_is_refused_even_if_its_hash_matches() {
        for verifier in [
            "short",
            &"a".repeat(129),
            "has space has space has space has space has",
        ] {
            let challenge = CodeChallenge::from_bytes(Sha256::digest(verifier.as_bytes()).into());
            assert!(!challenge.is_met_by(verifier), "{verifier:?}");
        }
        let longest = "~".repeat(128);
        let challenge = CodeChallenge::from_bytes(Sha256::digest(longest.as_bytes()).into());
        assert!(challenge.is_met_by(&longest));
    }

    #[test]
    fn a_challenge_must_be_43_characters_of_base64url() {
        for raw in [
            "",
            &RFC_CHALLENGE[..42],
            &format!("{RFC_CHALLENGE}A"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
        ] {
            assert_eq!(
                CodeChallenge::parse_s256(raw),
                Err(InvalidCodeChallenge),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_code_hash_is_the_sha256_of_the_code_and_is_redacted() {
        assert_eq!(
            CodeHash::of("abc").as_bytes()[..4],
            [0xba, 0x78, 0x16, 0xbf]
        );
        assert_eq!(format!("{:?}", CodeHash::of("abc")), "CodeHash(..)");
    }
}
