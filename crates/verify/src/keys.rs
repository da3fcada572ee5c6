//! zeropass's published key set, reduced to the keys this crate will verify with. The JWK
//! members are read by `jsonwebtoken` (its `jwk::Jwk` and `DecodingKey::from_jwk`); this
//! module decides which of them are usable: a key needs a `kid`, `use` absent or `sig`, and
//! an `alg` of ES256 (on `kty: EC`, `crv: P-256`) or EdDSA (on `kty: OKP`, `crv: Ed25519`).
//! Every other entry — an HS256 `oct` key, an RSA key, a key whose `alg` contradicts its
//! type — is skipped, never an error, so a set that a later zeropass extends with a key type
//! this version does not know still works for the keys it does know.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// One usable public key and the only algorithm it verifies.
#[derive(Debug)]
pub(crate) struct PublicKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The usable keys of one fetched JWKS, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<PublicKey>>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The usable keys of a JWKS body. The first key with a given `kid` wins.
    ///
    /// # Errors
    /// When the body is not a JSON object with a `keys` array.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        let document: Document = serde_json::from_slice(body)?;
        let mut keys = HashMap::new();
        for entry in document.keys {
            match usable(entry) {
                Ok((kid, key)) => {
                    keys.entry(kid).or_insert_with(|| Arc::new(key));
                }
                Err(reason) => tracing::debug!(reason, "a JWKS entry was skipped"),
            }
        }
        Ok(Self { keys })
    }

    /// The key named `kid`, if usable.
    pub(crate) fn get(&self, kid: &str) -> Option<Arc<PublicKey>> {
        self.keys.get(kid).cloned()
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The `kid` and key of one JWKS entry, or why it cannot be used.
fn usable(entry: serde_json::Value) -> Result<(String, PublicKey), &'static str> {
    let jwk: Jwk = serde_json::from_value(entry).map_err(|_| "not a JWK")?;
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| !matches!(usage, PublicKeyUse::Signature))
    {
        return Err("not a signing key");
    }
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::ES256), AlgorithmParameters::EllipticCurve(params))
            if params.curve == EllipticCurve::P256 =>
        {
            // jsonwebtoken concatenates the coordinates unchecked; a wrong length would only
            // fail later, at every verification.
            if coordinate_len(&params.x) != Some(32) || coordinate_len(&params.y) != Some(32) {
                return Err("a P-256 coordinate is not 32 bytes");
            }
            Algorithm::ES256
        }
        (Some(KeyAlgorithm::EdDSA), AlgorithmParameters::OctetKeyPair(params))
            if params.curve == EllipticCurve::Ed25519 =>
        {
            // jsonwebtoken 11 slices the first 32 bytes of `x` without checking its length:
            // a shorter `x` would panic inside verification.
            if coordinate_len(&params.x) != Some(32) {
                return Err("an Ed25519 public key is not 32 bytes");
            }
            Algorithm::EdDSA
        }
        (Some(KeyAlgorithm::ES256 | KeyAlgorithm::EdDSA), _) => {
            return Err("the key type does not match alg");
        }
        (Some(_), _) => return Err("alg is neither ES256 nor EdDSA"),
        (None, _) => return Err("no alg"),
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unreadable key material")?;
    Ok((kid, PublicKey { algorithm, key }))
}

/// The decoded length of a base64url member, `None` when it is not base64url.
fn coordinate_len(member: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(member).ok().map(|bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const X32: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn parse(keys: serde_json::Value) -> KeySet {
        KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn an_hmac_key_is_never_usable_whatever_its_alg_says() {
        let set = parse(json!([{ "kty": "oct", "k": "c2VjcmV0", "kid": "h", "alg": "HS256" }]));
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn an_ed25519_key_shorter_than_32_bytes_is_skipped_instead_of_panicking_later() {
        let set = parse(json!([
            { "kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short", "alg": "EdDSA" },
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "kid": "ok", "alg": "EdDSA", "use": "sig" },
        ]));
        assert!(set.get("short").is_none());
        assert!(set.get("ok").is_some());
    }

    #[test]
    fn a_key_whose_alg_contradicts_its_type_or_use_is_skipped() {
        let set = parse(json!([
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "kid": "a", "alg": "ES256" },
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "kid": "b", "alg": "EdDSA", "use": "enc" },
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "kid": "c" },
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "alg": "EdDSA" },
        ]));
        assert_eq!(set.len(), 0);
    }

    #[test]
    fn an_entry_of_an_unknown_shape_does_not_spoil_the_set() {
        let set = parse(json!([
            "not an object",
            { "kty": "future", "kid": "f", "alg": "ML-DSA-44" },
            { "kty": "OKP", "crv": "Ed25519", "x": X32, "kid": "ok", "alg": "EdDSA" },
        ]));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_body_without_a_keys_array_is_not_a_key_set() {
        assert!(KeySet::parse(b"{\"keys\": {}}").is_err());
        assert!(KeySet::parse(b"<html>").is_err());
    }
}
