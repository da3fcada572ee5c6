//! The cache of Google's signing keys (its JWKS). Only keys zeropass can use are kept (RSA,
//! for signatures, RS256 or no `alg`, a 2048–8192-bit modulus), each turned into a
//! [`SigningKey`] once; anything else in the set (EC, `oct`, encryption keys, other
//! algorithms, keys openidconnect cannot parse) is skipped.
//!
//! The set is refreshed two ways. Once the `Cache-Control: max-age` of its last answer has
//! passed (minus any `Age`, bounded to [`JWKS_MIN_MAX_AGE`, `JWKS_MAX_MAX_AGE`]), the next
//! lookup refreshes it in-line while lookups arriving meanwhile carry on with the set they
//! have — so a key Google withdrew stops being trusted, and no request waits behind another's
//! refresh. And an id_token naming an unknown `kid` refetches the set (key rotation), but at
//! most once per interval whatever the traffic: a flood of forged kids cannot make zeropass
//! hammer Google. A refresh that fails keeps the keys the cache has and is retried after the
//! refetch interval.

use crate::clock::Clock;
use crate::config::{JWKS_DEFAULT_MAX_AGE, JWKS_MAX_MAX_AGE, JWKS_MIN_MAX_AGE};
use crate::http_client::{HttpClient, HttpError, unavailable};
use crate::signing_key::SigningKey;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJsonWebKeyType, CoreJsonWebKeyUse,
    CoreJwsSigningAlgorithm,
};
use openidconnect::http::HeaderMap;
use openidconnect::{
    AsyncHttpClient, HttpRequest, HttpResponse, JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeySetUrl,
};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use zeropass_domain::IdentityError;

/// The one signature algorithm zeropass accepts from Google (fixed here, never read from a
/// token's header).
pub(crate) const SIGNING_ALGORITHM: CoreJwsSigningAlgorithm =
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;

/// One fetched set of keys and how long it may be used without asking again.
struct KeySet {
    keys: Vec<SigningKey>,
    fresh_until: Instant,
}

/// Google's current signing keys, refreshed after their max-age and on demand.
pub(crate) struct KeyCache {
    jwks_uri: JsonWebKeySetUrl,
    keys: RwLock<Arc<KeySet>>,
    /// When the set was last fetched by this cache; the lock also makes one fetch run at a
    /// time (callers for an unknown `kid` wait for it, refreshes after max-age skip it).
    last_fetch: Mutex<Option<Instant>>,
    refetch_interval: Duration,
    clock: Clock,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("jwks_uri", &self.jwks_uri.as_str())
            .field("keys", &self.current().keys.len())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache holding the usable keys of `initial` (the set fetched during discovery, whose
    /// answer said `max_age`).
    pub(crate) fn new(
        jwks_uri: JsonWebKeySetUrl,
        initial: &CoreJsonWebKeySet,
        max_age: Duration,
        refetch_interval: Duration,
        clock: Clock,
    ) -> Self {
        let fresh_until = clock.now() + max_age;
        Self {
            jwks_uri,
            keys: RwLock::new(Arc::new(KeySet {
                keys: usable_keys(initial),
                fresh_until,
            })),
            last_fetch: Mutex::new(None),
            refetch_interval,
            clock,
        }
    }

    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn install(&self, set: KeySet) -> Arc<KeySet> {
        let set = Arc::new(set);
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&set);
        set
    }

    /// Fetches the JWKS now and installs its usable keys with the freshness its answer gives.
    async fn fetch(&self, http: &HttpClient) -> Result<Arc<KeySet>, IdentityError> {
        let recorder = CacheRecorder::new(http);
        let fetched = CoreJsonWebKeySet::fetch_async(&self.jwks_uri, &recorder)
            .await
            .map_err(|error| unavailable("fetching Google's JWKS failed", &error))?;
        Ok(self.install(KeySet {
            keys: usable_keys(&fetched),
            fresh_until: self.clock.now() + recorder.max_age(),
        }))
    }

    /// Refreshes the set in-line if its max-age has passed and no other caller is fetching it
    /// right now (that caller's lookups, and this one, then use the set as it is).
    async fn refresh_if_expired(&self, http: &HttpClient) {
        if self.current().fresh_until > self.clock.now() {
            return;
        }
        let Ok(mut last_fetch) = self.last_fetch.try_lock() else {
            return;
        };
        let stale = self.current();
        let now = self.clock.now();
        if stale.fresh_until > now {
            return;
        }
        *last_fetch = Some(now);
        // Postponed before the fetch: should it fail, or the caller's deadline drop it, the
        // next attempt still waits for the refetch interval instead of following at once.
        self.install(KeySet {
            keys: stale.keys.clone(),
            fresh_until: now + self.refetch_interval,
        });
        match self.fetch(http).await {
            Ok(_) => tracing::debug!("Google's JWKS refreshed after its max-age"),
            Err(error) => {
                let cause = match &error {
                    IdentityError::Unavailable(source) => source.to_string(),
                    other => other.to_string(),
                };
                tracing::warn!(
                    %cause,
                    retry_in_seconds = self.refetch_interval.as_secs(),
                    "refreshing Google's JWKS failed; keeping the keys it had"
                );
            }
        }
    }

    /// The key a token's header designates, from a set refreshed if its max-age has passed.
    /// An unknown `kid` refetches the JWKS first, unless a fetch happened less than the
    /// interval ago.
    ///
    /// # Errors
    /// [`IdentityError::InvalidIdToken`] when no (single) key matches;
    /// [`IdentityError::Unavailable`] when the refetch this lookup needed failed.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        http: &HttpClient,
    ) -> Result<SigningKey, IdentityError> {
        self.refresh_if_expired(http).await;
        let Some(kid) = kid else {
            // OpenID Connect Core 10.1: a `kid` may be left out only when the set holds one key.
            let set = self.current();
            return match set.keys.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(IdentityError::InvalidIdToken(
                    "no key id and not exactly one signing key".into(),
                )),
            };
        };
        if let Some(key) = find(&self.current().keys, kid) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another caller may have fetched while this one waited for the lock.
        if let Some(key) = find(&self.current().keys, kid) {
            return Ok(key);
        }
        let now = self.clock.now();
        if last_fetch.is_some_and(|at| now.saturating_duration_since(at) < self.refetch_interval) {
            tracing::debug!("unknown key id; JWKS fetched recently, not again");
            return Err(unknown_key());
        }
        *last_fetch = Some(now);
        tracing::info!("unknown key id; refetching Google's JWKS");
        let fresh = self.fetch(http).await?;
        find(&fresh.keys, kid).ok_or_else(unknown_key)
    }
}

/// How long an answer may be used, from its `Cache-Control` (`max-age` less `Age`), bounded
/// to [`JWKS_MIN_MAX_AGE`]..=[`JWKS_MAX_MAX_AGE`]: `no-store` and `no-cache` count as zero,
/// an answer without a usable `max-age` gets [`JWKS_DEFAULT_MAX_AGE`].
pub(crate) fn max_age_of(headers: &HeaderMap) -> Duration {
    let directives: Vec<String> = headers
        .get_all(openidconnect::http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase())
        .collect();
    let seconds = |value: &str| value.trim_matches('"').parse::<u64>().ok();
    let max_age = if directives
        .iter()
        .any(|directive| directive == "no-store" || directive == "no-cache")
    {
        Some(0)
    } else {
        directives
            .iter()
            .find_map(|directive| directive.strip_prefix("max-age="))
            .and_then(seconds)
    };
    let Some(max_age) = max_age else {
        return JWKS_DEFAULT_MAX_AGE;
    };
    let age = headers
        .get(openidconnect::http::header::AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(seconds)
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(JWKS_MIN_MAX_AGE, JWKS_MAX_MAX_AGE)
}

/// The HTTP client, remembering how long the last answer it passed on may be used. Discovery
/// fetches the JWKS last, so after discovery it holds the JWKS's.
pub(crate) struct CacheRecorder<'h> {
    http: &'h HttpClient,
    max_age: std::sync::Mutex<Duration>,
}

impl<'h> CacheRecorder<'h> {
    pub(crate) fn new(http: &'h HttpClient) -> Self {
        Self {
            http,
            max_age: std::sync::Mutex::new(JWKS_DEFAULT_MAX_AGE),
        }
    }

    /// [`max_age_of`] the last answer (the default before any).
    pub(crate) fn max_age(&self) -> Duration {
        *self.max_age.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<'c> AsyncHttpClient<'c> for CacheRecorder<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            *self.max_age.lock().unwrap_or_else(PoisonError::into_inner) =
                max_age_of(response.headers());
            Ok(response)
        })
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

    fn cache_control(values: &[(&str, &str)]) -> Duration {
        let mut headers = HeaderMap::new();
        for (name, value) in values {
            headers.append(
                openidconnect::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        max_age_of(&headers)
    }

    #[test]
    fn the_max_age_is_read_from_cache_control_less_the_age() {
        let google = "public, max-age=19008, must-revalidate, no-transform";
        assert_eq!(
            cache_control(&[("cache-control", google)]),
            Duration::from_secs(19008)
        );
        assert_eq!(
            cache_control(&[("cache-control", google), ("age", "1008")]),
            Duration::from_secs(18000)
        );
        assert_eq!(
            cache_control(&[
                ("cache-control", "public"),
                ("cache-control", "Max-Age=600")
            ]),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn the_max_age_honoured_is_bounded_and_defaulted() {
        for short in [
            "max-age=0",
            "max-age=1",
            "no-store",
            "max-age=600, no-cache",
        ] {
            assert_eq!(
                cache_control(&[("cache-control", short)]),
                JWKS_MIN_MAX_AGE,
                "{short}"
            );
        }
        assert_eq!(
            cache_control(&[("cache-control", "max-age=600"), ("age", "9999")]),
            JWKS_MIN_MAX_AGE
        );
        assert_eq!(
            cache_control(&[("cache-control", "max-age=31536000")]),
            JWKS_MAX_MAX_AGE
        );
        for unusable in ["public", "max-age=soon", "max-age=-5", ""] {
            assert_eq!(
                cache_control(&[("cache-control", unusable)]),
                JWKS_DEFAULT_MAX_AGE,
                "{unusable}"
            );
        }
        assert_eq!(cache_control(&[]), JWKS_DEFAULT_MAX_AGE);
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
