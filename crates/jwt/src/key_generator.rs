//! `RingKeyGenerator`: the [`SigningKeyGenerator`] port with `ring`. It makes a P-256 or
//! Ed25519 key pair, keeps the raw public key, and seals the private key (PKCS#8) for the store
//! with [`crate::sealing`], bound to its `kid` and algorithm, so the plain private key never
//! leaves this crate.

use crate::key_pairs::{KeyPairError, SigningKeyPair};
use crate::sealing::{CannotSeal, Sealer};
use crate::secret::JwtSecret;
use ring::rand::SystemRandom;
use thiserror::Error;
use zeropass_domain::{BoxError, GeneratedKey, KeyId, SigningAlgorithm, SigningKeyGenerator};

/// Makes signing key pairs and seals their private halves under `JWT_SECRET`.
#[derive(Debug)]
pub struct RingKeyGenerator {
    sealer: Sealer,
    random: SystemRandom,
}

/// Why a key pair could not be made. Never carries key material.
#[derive(Debug, Error)]
enum GenerateKeyError {
    #[error(transparent)]
    KeyPair(#[from] KeyPairError),
    #[error(transparent)]
    Seal(#[from] CannotSeal),
}

impl RingKeyGenerator {
    /// A generator sealing with a key derived from `secret` (every instance sharing
    /// `JWT_SECRET` opens what any of them sealed).
    #[must_use]
    pub fn new(secret: &JwtSecret) -> Self {
        Self {
            sealer: Sealer::new(secret),
            random: SystemRandom::new(),
        }
    }

    fn generate_key(
        &self,
        algorithm: SigningAlgorithm,
        kid: &KeyId,
    ) -> Result<GeneratedKey, GenerateKeyError> {
        let pkcs8 = SigningKeyPair::generate_pkcs8(algorithm, &self.random)?;
        let public_key = SigningKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &self.random)?
            .public_key()
            .to_vec();
        let sealed_private_key = self.sealer.seal(algorithm, kid, pkcs8.as_ref())?;
        Ok(GeneratedKey {
            public_key,
            sealed_private_key,
        })
    }
}

impl SigningKeyGenerator for RingKeyGenerator {
    fn generate(&self, algorithm: SigningAlgorithm, kid: &KeyId) -> Result<GeneratedKey, BoxError> {
        self.generate_key(algorithm, kid)
            .map_err(|error| Box::new(error) as BoxError)
    }
}
