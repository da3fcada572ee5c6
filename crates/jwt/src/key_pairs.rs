//! The two asymmetric algorithms as `ring` provides them, in one place: making and loading a
//! key pair (PKCS#8), signing in the JWS form (ES256: the 64-byte `r || s`, RFC 7518 §3.4;
//! EdDSA: the 64-byte Ed25519 signature, RFC 8037 §3.1), the verification algorithm of each,
//! the shape of each raw public key, and the public key as a JWK (RFC 7518 §6.2, RFC 8037 §2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, VerificationAlgorithm,
};
use std::fmt;
use thiserror::Error;
use zeropass_domain::{PublicJwk, SigningAlgorithm};

/// Length of a P-256 public key as an uncompressed point (`0x04 || x || y`).
const P256_POINT_BYTES: usize = 65;
/// Length of one P-256 coordinate.
const P256_COORDINATE_BYTES: usize = 32;
/// Length of an Ed25519 public key.
const ED25519_PUBLIC_KEY_BYTES: usize = 32;

/// `ring` refused to make, load or use a key; it says no more than that, and neither do we.
#[derive(Debug, Error)]
#[error("the {0} key pair was refused or could not be made")]
pub(crate) struct KeyPairError(pub(crate) SigningAlgorithm);

/// A private signing key, ready to sign.
pub(crate) enum SigningKeyPair {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl SigningKeyPair {
    /// A new PKCS#8 document for `algorithm`.
    ///
    /// # Errors
    /// [`KeyPairError`] when the random number generator fails.
    pub(crate) fn generate_pkcs8(
        algorithm: SigningAlgorithm,
        random: &SystemRandom,
    ) -> Result<ring::pkcs8::Document, KeyPairError> {
        match algorithm {
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, random)
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(random),
        }
        .map_err(|_| KeyPairError(algorithm))
    }

    /// Loads a PKCS#8 document of `algorithm` (checking that its public key matches).
    ///
    /// # Errors
    /// [`KeyPairError`] when the document is not a valid key of that algorithm.
    pub(crate) fn from_pkcs8(
        algorithm: SigningAlgorithm,
        pkcs8: &[u8],
        random: &SystemRandom,
    ) -> Result<Self, KeyPairError> {
        match algorithm {
            SigningAlgorithm::Es256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, random)
                    .map(Self::Es256)
            }
            SigningAlgorithm::EdDsa => Ed25519KeyPair::from_pkcs8(pkcs8).map(Self::EdDsa),
        }
        .map_err(|_| KeyPairError(algorithm))
    }

    /// The raw public key (65-byte uncompressed point, or 32 bytes).
    pub(crate) fn public_key(&self) -> &[u8] {
        match self {
            Self::Es256(pair) => pair.public_key().as_ref(),
            Self::EdDsa(pair) => pair.public_key().as_ref(),
        }
    }

    /// The JWS signature of `message`.
    ///
    /// # Errors
    /// [`KeyPairError`] when ECDSA's random number generator fails.
    pub(crate) fn sign(
        &self,
        message: &[u8],
        random: &SystemRandom,
    ) -> Result<signature::Signature, KeyPairError> {
        match self {
            Self::Es256(pair) => pair
                .sign(random, message)
                .map_err(|_| KeyPairError(SigningAlgorithm::Es256)),
            Self::EdDsa(pair) => Ok(pair.sign(message)),
        }
    }
}

/// The private key left out.
impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = match self {
            Self::Es256(_) => SigningAlgorithm::Es256,
            Self::EdDsa(_) => SigningAlgorithm::EdDsa,
        };
        write!(f, "SigningKeyPair({algorithm}, [redacted])")
    }
}

/// `ring`'s verification algorithm for `algorithm`'s JWS signatures.
pub(crate) fn verification_algorithm(
    algorithm: SigningAlgorithm,
) -> &'static dyn VerificationAlgorithm {
    match algorithm {
        SigningAlgorithm::Es256 => &ECDSA_P256_SHA256_FIXED,
        SigningAlgorithm::EdDsa => &ED25519,
    }
}

/// Whether `public_key` has the shape of `algorithm`'s raw public keys: an uncompressed
/// P-256 point (65 bytes, `0x04` first) or 32 bytes. (Whether a point is on the curve, `ring`
/// checks at each verification.)
pub(crate) fn is_well_formed(algorithm: SigningAlgorithm, public_key: &[u8]) -> bool {
    match algorithm {
        SigningAlgorithm::Es256 => {
            public_key.len() == P256_POINT_BYTES && public_key.first() == Some(&0x04)
        }
        SigningAlgorithm::EdDsa => public_key.len() == ED25519_PUBLIC_KEY_BYTES,
    }
}

/// The JWK of a well-formed public key ([`is_well_formed`]); `None` otherwise.
pub(crate) fn public_jwk(
    algorithm: SigningAlgorithm,
    kid: &str,
    public_key: &[u8],
) -> Option<PublicJwk> {
    if !is_well_formed(algorithm, public_key) {
        return None;
    }
    let (kty, crv, x, y) = match algorithm {
        SigningAlgorithm::Es256 => {
            let (x, y) = public_key.get(1..)?.split_at(P256_COORDINATE_BYTES);
            ("EC", "P-256", x, Some(URL_SAFE_NO_PAD.encode(y)))
        }
        SigningAlgorithm::EdDsa => ("OKP", "Ed25519", public_key, None),
    };
    Some(PublicJwk {
        kid: kid.to_owned(),
        alg: algorithm.as_str(),
        kty,
        crv,
        x: URL_SAFE_NO_PAD.encode(x),
        y,
    })
}
