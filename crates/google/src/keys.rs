//! The cache of Google's signing keys (its JWKS). Only keys zeropass can use are kept (RSA,
//! for signatures, RS256 or no `alg`, a 2048–8192-bit modulus), each turned into a
//! [`SigningKey`] once; anything else in the set (EC, `oct`, encryption keys, other
//! algorithms, keys openidconnect cannot parse) is skipped. Google rotates its keys, so
//! an id_token naming an unknown `kid` refetches the set, but at most once per interval
//! whatever the traffic: a flood of forged kids cannot make zeropass hammer Google.

use crate::http_client::{HttpClient, unavailable};
use crate::signing_key::SigningKey;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJsonWebKeyType, CoreJsonWebKeyUse,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeySetUrl};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use zeropass_domain::IdentityError;

/// The one signature algorithm zeropass accepts from Google (fixed here, never read from a
/// token's header).
pub(crate) const SIGNING_ALGORITHM: CoreJwsSigningAlgorithm =
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;

/// Google's current signing keys, refreshed on demand.
pub(crate) struct KeyCache {
    jwks_uri: JsonWebKeySetUrl,
    keys: RwLock<Arc<Vec<SigningKey>>>,
    /// When an unknown `kid` last caused a refetch; the lock also makes concurrent callers
    /// wait for one refetch instead of starting their own.
    last_refetch: Mutex<Option<Instant>>,
    refetch_interval: Duration,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("jwks_uri", &self.jwks_uri.as_str())
            .field("keys", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache holding the usable keys of `initial` (the set fetched during discovery).
    pub(crate) fn new(
        jwks_uri: JsonWebKeySetUrl,
        initial: &CoreJsonWebKeySet,
        refetch_interval: Duration,
    ) -> Self {
        Self {
            jwks_uri,
            keys: RwLock::new(Arc::new(usable_keys(initial))),
            last_refetch: Mutex::new(None),
            refetch_interval,
        }
    }

    fn current(&self) -> Arc<Vec<SigningKey>> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key a token's header designates. An unknown `kid` refetches the JWKS first, unless
    /// a refetch happened less than the interval ago.
    ///
    /// # Errors
    /// [`IdentityError::InvalidIdToken`] when no (single) key matches;
    /// [`IdentityError::Unavailable`] when the refetch this lookup needed failed.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        http: &HttpClient,
    ) -> Result<SigningKey, IdentityError> {
        let Some(kid) = kid else {
            // OpenID Connect Core 10.1: a `kid` may be left out only when the set holds one key.
            let keys = self.current();
            return match keys.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(IdentityError::InvalidIdToken(
                    "no key id and not exactly one signing key".into(),
                )),
            };
        };
        if let Some(key) = find(&self.current(), kid) {
            return Ok(key);
        }
        let mut last_refetch = self.last_refetch.lock().await;
        // Another caller may have refetched while this one waited for the lock.
        if let Some(key) = find(&self.current(), kid) {
            return Ok(key);
        }
        if last_refetch.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            tracing::debug!("unknown key id; JWKS refetched recently, not again");
            return Err(unknown_key());
        }
        *last_refetch = Some(Instant::now());
        tracing::info!("unknown key id; refetching Google's JWKS");
        let fetched = CoreJsonWebKeySet::fetch_async(&self.jwks_uri, http)
            .await
            .map_err(|error| unavailable("refetching Google's JWKS failed", &error))?;
        let fresh = Arc::new(usable_keys(&fetched));
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&fresh);
        find(&fresh, kid).ok_or_else(unknown_key)
    }
}

fn unknown_key() -> IdentityError {
    IdentityError::InvalidIdToken("unknown signing key".into())
}

fn find(keys: &[SigningKey], kid: &str) -> Option<SigningKey> {
    let mut matching = keys.iter().filter(|key| key.kid() == Some(kid));
    match (matching.next(), matching.next()) {
        (Some(key), None) => Some(key.clone()),
        // Two usable keys under one kid: refuse rather than guess.
        _ => None,
    }
}

/// The keys zeropass can verify an RS256 signature with; the rest are skipped.
pub(crate) fn usable_keys(set: &CoreJsonWebKeySet) -> Vec<SigningKey> {
    set.keys()
        .iter()
        .filter(|key| is_usable(key))
        .filter_map(SigningKey::from_jwk)
        .collect()
}

fn is_usable(key: &CoreJsonWebKey) -> bool {
    *key.key_type() == CoreJsonWebKeyType::RSA
        && key
            .key_use()
            .is_none_or(|key_use| *key_use == CoreJsonWebKeyUse::Signature)
        && match key.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => true,
            JsonWebKeyAlgorithm::Algorithm(alg) => *alg == SIGNING_ALGORITHM,
            JsonWebKeyAlgorithm::Unsupported => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn rsa(extra: serde_json::Value) -> serde_json::Value {
        // A 2048-bit modulus (only its size matters here).
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5_u8; 256]);
        let mut key = json!({"kty": "RSA", "kid": "k", "n": n, "e": "AQAB"});
        for (name, value) in extra.as_object().unwrap() {
            key[name] = value.clone();
        }
        key
    }

    fn set(keys: Vec<serde_json::Value>) -> CoreJsonWebKeySet {
        serde_json::from_value(json!({ "keys": keys })).unwrap()
    }

    fn kids(keys: &[SigningKey]) -> Vec<String> {
        keys.iter()
            .map(|key| key.kid().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn only_rsa_signature_keys_for_rs256_are_kept() {
        let keys = usable_keys(&set(vec![
            rsa(json!({"kid": "plain"})),
            rsa(json!({"kid": "sig", "use": "sig", "alg": "RS256"})),
            rsa(json!({"kid": "enc", "use": "enc"})),
            rsa(json!({"kid": "rs384", "alg": "RS384"})),
            rsa(json!({"kid": "ps256", "alg": "PS256"})),
            rsa(json!({"kid": "rsa-oaep", "alg": "RSA-OAEP"})),
            rsa(
                json!({"kid": "rsa-1024", "n": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5_u8; 128])}),
            ),
            json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}),
            json!({"kty": "oct", "kid": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "XYZ", "kid": "alien"}),
            json!({"kid": "no-type"}),
        ]));
        assert_eq!(kids(&keys), ["plain", "sig"]);
    }

    #[test]
    fn a_kid_shared_by_two_usable_keys_designates_none() {
        let keys = usable_keys(&set(vec![
            rsa(json!({"kid": "twin"})),
            rsa(json!({"kid": "twin"})),
            rsa(json!({"kid": "single"})),
        ]));
        assert!(find(&keys, "twin").is_none());
        assert!(find(&keys, "single").is_some());
        assert!(find(&keys, "other").is_none());
    }
}
