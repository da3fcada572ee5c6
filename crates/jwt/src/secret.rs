//! `JwtSecret`: the HMAC key that signs and verifies access tokens, as a type that cannot be
//! printed, serialised, cloned or read from outside this crate, so it can reach neither a log
//! line nor an error body. It is zeroed when dropped (through `secrecy`).

use secrecy::{ExposeSecret, ExposeSecretMut, SecretSlice};
use std::fmt;
use thiserror::Error;

/// Shortest key accepted, in bytes: HS256 computes a 32-byte MAC, and RFC 7518 §3.2 requires a
/// key at least that long; a shorter one only makes brute-forcing the key easier.
pub const MIN_SECRET_BYTES: usize = 32;

/// The HS256 key of zeropass's access tokens (`JWT_SECRET`), at least [`MIN_SECRET_BYTES`]
/// long. Its `Debug` is redacted and it exposes its bytes to nothing but this crate.
pub struct JwtSecret(SecretSlice<u8>);

/// The key offered to [`JwtSecret::new`] is shorter than [`MIN_SECRET_BYTES`]. Only the length
/// is kept, never the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("must be at least {MIN_SECRET_BYTES} bytes, got {length}")]
pub struct SecretTooShort {
    /// Length of the refused key, in bytes.
    pub length: usize,
}

/// The operating system could not provide random bytes for [`JwtSecret::generate`]. This
/// happens on no healthy system; the caller should stop rather than fall back to a weaker key.
#[derive(Debug, Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessUnavailable(getrandom::Error);

impl JwtSecret {
    /// Takes a key as bytes (a `JWT_SECRET` string's UTF-8 bytes are fine: the key is used as
    /// is, not decoded).
    ///
    /// # Errors
    /// [`SecretTooShort`] when the key has fewer than [`MIN_SECRET_BYTES`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, SecretTooShort> {
        let secret = SecretSlice::from(bytes.into());
        let length = secret.expose_secret().len();
        if length < MIN_SECRET_BYTES {
            return Err(SecretTooShort { length });
        }
        Ok(Self(secret))
    }

    /// A fresh random key of [`MIN_SECRET_BYTES`] bytes from the operating system, for a
    /// server started without `JWT_SECRET` (its tokens do not survive a restart).
    ///
    /// # Errors
    /// [`RandomnessUnavailable`] when the operating system's generator fails. This is an error
    /// rather than a panic so that start-up can report it on one line like any bad setting.
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        let mut secret = SecretSlice::from(vec![0_u8; MIN_SECRET_BYTES]);
        getrandom::fill(secret.expose_secret_mut()).map_err(RandomnessUnavailable)?;
        Ok(Self(secret))
    }

    /// A 64-byte key for another purpose (e.g. `"flow-cookie"`), derived from this secret as
    /// HMAC-SHA512(secret, "zeropass/" + purpose): each purpose gets an independent key, the
    /// secret itself never leaves this crate, and every instance sharing `JWT_SECRET` derives
    /// the same keys.
    #[must_use]
    pub fn derive_key(&self, purpose: &str) -> [u8; 64] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha512> as Mac>::new_from_slice(self.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(b"zeropass/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key's bytes, for building the signing and verifying keys.
    pub(crate) fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// Redacted, and the length too: a log line learns nothing about the key.
impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_the_purpose_and_the_secret_and_are_stable() {
        let secret = JwtSecret::new(vec![7_u8; 32]).unwrap();
        let same = JwtSecret::new(vec![7_u8; 32]).unwrap();
        let other = JwtSecret::new(vec![8_u8; 32]).unwrap();
        assert_eq!(
            secret.derive_key("flow-cookie"),
            same.derive_key("flow-cookie")
        );
        assert_ne!(secret.derive_key("flow-cookie"), secret.derive_key("other"));
        assert_ne!(
            secret.derive_key("flow-cookie"),
            other.derive_key("flow-cookie")
        );
        assert!(
            !secret
                .derive_key("flow-cookie")
                .windows(32)
                .any(|window| window == [7_u8; 32])
        );
    }

    #[test]
    fn a_secret_of_10_bytes_is_refused_and_the_error_says_why() {
        let refused = JwtSecret::new(b"0123456789".to_vec()).unwrap_err();
        assert_eq!(refused, SecretTooShort { length: 10 });
        assert_eq!(refused.to_string(), "must be at least 32 bytes, got 10");
    }

    #[test]
    fn a_secret_one_byte_short_of_32_is_refused() {
        assert!(JwtSecret::new(vec![b'k'; MIN_SECRET_BYTES - 1]).is_err());
    }

    #[test]
    fn a_secret_of_32_bytes_is_accepted_as_is() {
        let key = b"0123456789abcdef0123456789abcdef";
        assert_eq!(JwtSecret::new(*key).unwrap().expose(), key);
    }

    #[test]
    fn a_secret_can_be_taken_from_a_string() {
        let key = "a passphrase of well over 32 bytes, as JWT_SECRET";
        assert_eq!(JwtSecret::new(key).unwrap().expose(), key.as_bytes());
    }

    #[test]
    fn generated_secrets_are_long_enough_and_differ() {
        let first = JwtSecret::generate().unwrap();
        let second = JwtSecret::generate().unwrap();
        assert!(first.expose().len() >= MIN_SECRET_BYTES);
        assert_ne!(first.expose(), second.expose());
        assert_ne!(first.expose(), [0_u8; MIN_SECRET_BYTES]);
    }

    #[test]
    fn the_debug_of_a_secret_does_not_show_the_key() {
        let key = "sekrit-sekrit-sekrit-sekrit-sekrit";
        let printed = format!(
            "{:?} {:#?}",
            JwtSecret::new(key).unwrap(),
            JwtSecret::new(key)
        );
        assert!(!printed.contains("sekrit"), "{printed}");
        assert!(!printed.contains("115, 101, 107"), "{printed}"); // "sek" as a byte list
        assert!(printed.contains("redacted"), "{printed}");
    }
}
