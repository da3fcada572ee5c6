//! One of Google's RS256 verification keys, taken out of its JWK once, when the key set is
//! fetched, and checked with `ring`. openidconnect's own `verify_signature` did the RSA
//! arithmetic with the pure-Rust `rsa` crate: 2.7 million instructions per id_token, the
//! whole cost of a native sign-in (`docs/performance.md`); `ring` (already built for TLS)
//! does the same check in a fraction of that.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey as _;
use openidconnect::core::CoreJsonWebKey;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use std::sync::Arc;

/// Smallest and largest modulus accepted, in bits: `ring`'s bounds for PKCS#1 v1.5 with
/// SHA-256. Google's keys are 2048 bits.
const MODULUS_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// An RSA public key for RS256 (RSASSA-PKCS1-v1_5 with SHA-256), with its `kid`.
#[derive(Clone)]
pub(crate) struct SigningKey {
    kid: Option<String>,
    /// Big-endian modulus, without leading zero bytes.
    modulus: Arc<[u8]>,
    /// Big-endian public exponent, without leading zero bytes.
    exponent: Arc<[u8]>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("modulus_bits", &modulus_bits(&self.modulus))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key of an RSA JWK, or `None` when its `n` or `e` is missing, not base64url, or the
    /// modulus is outside 2048–8192 bits. Which keys are meant for RS256 signatures at all
    /// (`kty`, `use`, `alg`) is the caller's decision.
    pub(crate) fn from_jwk(jwk: &CoreJsonWebKey) -> Option<Self> {
        // openidconnect keeps `n` and `e` private; its serialisation is the JWK itself.
        let json = serde_json::to_value(jwk).ok()?;
        let component = |name: &str| -> Option<Arc<[u8]>> {
            let bytes = URL_SAFE_NO_PAD.decode(json.get(name)?.as_str()?).ok()?;
            let first = bytes.iter().position(|&b| b != 0)?;
            Some(Arc::from(&bytes[first..]))
        };
        let modulus = component("n")?;
        let exponent = component("e")?;
        MODULUS_BITS
            .contains(&modulus_bits(&modulus))
            .then(|| Self {
                kid: jwk.key_id().map(|kid| kid.as_str().to_owned()),
                modulus,
                exponent,
            })
    }

    /// The key's `kid`, if the JWK had one.
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `signature` is this key's RS256 signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &*self.modulus,
            e: &*self.exponent,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

/// Bits in a big-endian number without leading zero bytes.
fn modulus_bits(modulus: &[u8]) -> usize {
    modulus.first().map_or(0, |&top| {
        (modulus.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwk(n: &[u8], e: &[u8]) -> CoreJsonWebKey {
        serde_json::from_value(json!({
            "kty": "RSA", "kid": "k1",
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }))
        .unwrap()
    }

    #[test]
    fn moduli_outside_2048_to_8192_bits_are_not_keys() {
        let mut n = vec![0xC5_u8; 256];
        assert!(SigningKey::from_jwk(&jwk(&n, &[1, 0, 1])).is_some());
        n[0] = 0x7F; // 2047 bits
        assert!(SigningKey::from_jwk(&jwk(&n, &[1, 0, 1])).is_none());
        assert!(SigningKey::from_jwk(&jwk(&[0xC5; 128], &[1, 0, 1])).is_none());
        assert!(SigningKey::from_jwk(&jwk(&[0xC5; 1025], &[1, 0, 1])).is_none());
    }

    #[test]
    fn leading_zero_bytes_are_not_counted_and_the_kid_is_kept() {
        let mut n = vec![0_u8; 2];
        n.extend([0xC5; 256]);
        let key = SigningKey::from_jwk(&jwk(&n, &[0, 1, 0, 1])).unwrap();
        assert_eq!(key.kid(), Some("k1"));
        assert_eq!(modulus_bits(&key.modulus), 2048);
        assert_eq!(&*key.exponent, &[1, 0, 1]);
    }

    #[test]
    fn an_empty_modulus_or_exponent_is_not_a_key() {
        assert!(SigningKey::from_jwk(&jwk(&[0xC5; 256], &[])).is_none());
        assert!(SigningKey::from_jwk(&jwk(&[], &[1, 0, 1])).is_none());
        assert!(SigningKey::from_jwk(&jwk(&[0; 256], &[1, 0, 1])).is_none());
    }
}
