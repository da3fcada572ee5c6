//! Sealing the private halves of the signing keys for the store: AES-256-GCM (`ring`) under a
//! key derived from `JWT_SECRET` for this purpose alone (`"signing-key-encryption"`), a fresh
//! random 96-bit nonce per seal, stored as `nonce || ciphertext || tag`. The associated data
//! binds the algorithm and the `kid` (`zeropass-signing-key-v1|ES256|<kid>`), so a sealed key
//! copied to another row, or read as the other algorithm, does not open. Opened keys live in
//! zeroizing memory until they are turned into a `ring` key pair.

use crate::secret::JwtSecret;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, ExposeSecretMut, SecretSlice};
use std::fmt;
use thiserror::Error;
use zeropass_domain::{KeyId, SealedPrivateKey, SigningAlgorithm};

/// The purpose label of the sealing key in [`JwtSecret::derive_key`].
const PURPOSE: &str = "signing-key-encryption";

/// A sealed key could not be opened: another `JWT_SECRET`, another row's key, or damage.
#[derive(Debug, Error)]
#[error("the sealed key does not open")]
pub(crate) struct DoesNotOpen;

/// A key could not be sealed (the random number generator failed).
#[derive(Debug, Error)]
#[error("the signing key could not be sealed: no randomness for the nonce")]
pub(crate) struct CannotSeal;

/// The AES-256-GCM key, built once from the secret.
pub(crate) struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl Sealer {
    /// The sealer of keys under `secret`.
    pub(crate) fn new(secret: &JwtSecret) -> Self {
        let mut derived = secret.derive_key(PURPOSE);
        let key = UnboundKey::new(&AES_256_GCM, &derived[..32])
            .unwrap_or_else(|_| unreachable!("an AES-256 key is 32 bytes"));
        derived.zeroize();
        Self {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        }
    }

    /// Seals `private_key` for `kid` and `algorithm` (a copy is encrypted in place, so no
    /// second plain copy is left behind).
    ///
    /// # Errors
    /// [`CannotSeal`] when the random number generator fails.
    pub(crate) fn seal(
        &self,
        algorithm: SigningAlgorithm,
        kid: &KeyId,
        private_key: &[u8],
    ) -> Result<SealedPrivateKey, CannotSeal> {
        let mut nonce = [0_u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| CannotSeal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + private_key.len() + AES_256_GCM.tag_len());
        sealed.extend_from_slice(&nonce);
        let mut in_out = private_key.to_vec();
        let outcome = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(algorithm, kid)),
            &mut in_out,
        );
        if outcome.is_err() {
            // Only for absurd lengths; the buffer may still hold the key.
            in_out.zeroize();
            return Err(CannotSeal);
        }
        sealed.extend_from_slice(&in_out);
        Ok(SealedPrivateKey(sealed))
    }

    /// Opens a key sealed by [`Self::seal`] for the same `algorithm` and `kid` under the same
    /// secret. The plain key is in zeroizing memory.
    ///
    /// # Errors
    /// [`DoesNotOpen`] when anything differs or the bytes were altered.
    pub(crate) fn open(
        &self,
        algorithm: SigningAlgorithm,
        kid: &KeyId,
        sealed: &SealedPrivateKey,
    ) -> Result<OpenedKey, DoesNotOpen> {
        let (nonce, ciphertext) = sealed
            .0
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(DoesNotOpen)?;
        let mut buffer = SecretSlice::from(ciphertext.to_vec());
        let length = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(associated_data(algorithm, kid)),
                buffer.expose_secret_mut(),
            )
            .map_err(|_| DoesNotOpen)?
            .len();
        Ok(OpenedKey { buffer, length })
    }
}

/// Keys left out.
impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

/// An opened private key (PKCS#8), zeroed when dropped.
pub(crate) struct OpenedKey {
    buffer: SecretSlice<u8>,
    length: usize,
}

impl OpenedKey {
    /// The PKCS#8 document.
    pub(crate) fn pkcs8(&self) -> &[u8] {
        self.buffer
            .expose_secret()
            .get(..self.length)
            .unwrap_or(&[])
    }
}

impl fmt::Debug for OpenedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenedKey([redacted])")
    }
}

/// What the seal is bound to besides the secret.
fn associated_data(algorithm: SigningAlgorithm, kid: &KeyId) -> Vec<u8> {
    format!("zeropass-signing-key-v1|{algorithm}|{kid}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "the zeropass sealing test key, over 32 bytes";

    fn sealer(secret: &str) -> Sealer {
        Sealer::new(&JwtSecret::new(secret).unwrap())
    }

    fn kid(n: u8) -> KeyId {
        KeyId::parse(&format!("{}{}", char::from(b'A' + n), "A".repeat(21))).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_with_the_same_secret_algorithm_and_kid() {
        let sealed = sealer(KEY)
            .seal(SigningAlgorithm::Es256, &kid(0), b"private bytes")
            .unwrap();
        let opened = sealer(KEY)
            .open(SigningAlgorithm::Es256, &kid(0), &sealed)
            .unwrap();
        assert_eq!(opened.pkcs8(), b"private bytes");
    }

    #[test]
    fn a_sealed_key_is_nonce_then_ciphertext_then_tag_and_hides_the_key() {
        let sealer = sealer(KEY);
        let first = sealer
            .seal(SigningAlgorithm::EdDsa, &kid(0), b"private bytes")
            .unwrap();
        let second = sealer
            .seal(SigningAlgorithm::EdDsa, &kid(0), b"private bytes")
            .unwrap();
        assert_eq!(first.0.len(), 12 + 13 + 16);
        assert_ne!(first.0[..12], second.0[..12], "a fresh nonce per seal");
        assert!(!first.0.windows(7).any(|window| window == b"private"));
    }

    #[test]
    fn a_sealed_key_does_not_open_under_another_secret_kid_or_algorithm() {
        let sealed = sealer(KEY)
            .seal(SigningAlgorithm::Es256, &kid(0), b"private bytes")
            .unwrap();
        let other_secret = "another sealing test key, over 32 bytes";
        assert!(
            sealer(other_secret)
                .open(SigningAlgorithm::Es256, &kid(0), &sealed)
                .is_err()
        );
        assert!(
            sealer(KEY)
                .open(SigningAlgorithm::Es256, &kid(1), &sealed)
                .is_err()
        );
        assert!(
            sealer(KEY)
                .open(SigningAlgorithm::EdDsa, &kid(0), &sealed)
                .is_err()
        );
    }

    #[test]
    fn an_altered_or_truncated_sealed_key_does_not_open() {
        let sealer = sealer(KEY);
        let sealed = sealer
            .seal(SigningAlgorithm::Es256, &kid(0), b"private bytes")
            .unwrap();
        for index in [0, 12, sealed.0.len() - 1] {
            let mut altered = sealed.clone();
            altered.0[index] ^= 1;
            assert!(
                sealer
                    .open(SigningAlgorithm::Es256, &kid(0), &altered)
                    .is_err()
            );
        }
        for length in [0, 11, 12, 27] {
            let truncated = SealedPrivateKey(sealed.0[..length].to_vec());
            assert!(
                sealer
                    .open(SigningAlgorithm::Es256, &kid(0), &truncated)
                    .is_err()
            );
        }
    }
}
