//! The discovery cache: Google's provider metadata (authorization and token endpoints, JWKS
//! location and the key set itself), read once from `{issuer}/.well-known/openid-configuration`
//! and kept for the life of the process. Until discovery succeeds every call fails as
//! unavailable, and a new attempt is made at most once per retry interval, so an outage of
//! Google neither stops zeropass from starting nor turns each sign-in into a discovery.

use crate::clock::Clock;
use crate::http_client::{HttpClient, unavailable, unavailable_because};
use crate::keys::{CacheRecorder, KeyCache};
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{AuthUrl, IssuerUrl, TokenUrl};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OnceCell};
use zeropass_domain::IdentityError;

/// What discovery established about the provider.
#[derive(Debug)]
pub(crate) struct ProviderInfo {
    /// Where the browser is sent.
    pub(crate) authorization_endpoint: AuthUrl,
    /// Where codes are exchanged.
    pub(crate) token_endpoint: TokenUrl,
    /// The signing keys, refreshed on key rotation.
    pub(crate) keys: KeyCache,
}

/// Discovers the provider on first use and remembers the result once it succeeded.
pub(crate) struct Discovery {
    issuer: String,
    retry_interval: Duration,
    jwks_refetch_interval: Duration,
    clock: Clock,
    discovered: OnceCell<Arc<ProviderInfo>>,
    /// When discovery was last attempted; the lock lets one attempt run at a time.
    last_attempt: Mutex<Option<Instant>>,
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovery")
            .field("issuer", &self.issuer)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// A cache for `issuer` (exactly as its `iss` and discovery document spell it).
    pub(crate) fn new(
        issuer: String,
        retry_interval: Duration,
        jwks_refetch_interval: Duration,
        clock: Clock,
    ) -> Self {
        Self {
            issuer,
            retry_interval,
            jwks_refetch_interval,
            clock,
            discovered: OnceCell::new(),
            last_attempt: Mutex::new(None),
        }
    }

    /// Whether discovery has succeeded.
    pub(crate) fn is_ready(&self) -> bool {
        self.discovered.initialized()
    }

    /// The provider's metadata, discovering it now if needed and allowed.
    ///
    /// # Errors
    /// [`IdentityError::Unavailable`] when discovery fails now or failed less than the retry
    /// interval ago.
    pub(crate) async fn get(&self, http: &HttpClient) -> Result<Arc<ProviderInfo>, IdentityError> {
        if let Some(info) = self.discovered.get() {
            return Ok(Arc::clone(info));
        }
        let mut last_attempt = self.last_attempt.lock().await;
        if let Some(info) = self.discovered.get() {
            return Ok(Arc::clone(info));
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.retry_interval) {
            return Err(unavailable_because(
                "Google's discovery failed moments ago; not retried yet",
            ));
        }
        *last_attempt = Some(Instant::now());
        // A failure is logged by the caller, with the rest of what it was doing.
        let info = Arc::new(self.discover(http).await?);
        tracing::info!(issuer = %self.issuer, "Google's OpenID Connect metadata discovered");
        // Only this task, holding the attempt lock, ever sets the cell.
        let _ = self.discovered.set(Arc::clone(&info));
        Ok(info)
    }

    async fn discover(&self, http: &HttpClient) -> Result<ProviderInfo, IdentityError> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|error| unavailable("the issuer URL is not valid", &error))?;
        // Fetches the document, checks that its `issuer` is exactly ours, then fetches the JWKS
        // (last, so the recorder ends up with the JWKS's caching headers).
        let recorder = CacheRecorder::new(http);
        let metadata = CoreProviderMetadata::discover_async(issuer, &recorder)
            .await
            .map_err(|error| unavailable("discovery failed", &error))?;
        let token_endpoint = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| unavailable_because("the provider metadata has no token endpoint"))?;
        Ok(ProviderInfo {
            authorization_endpoint: metadata.authorization_endpoint().clone(),
            token_endpoint,
            keys: KeyCache::new(
                metadata.jwks_uri().clone(),
                metadata.jwks(),
                recorder.max_age(),
                self.jwks_refetch_interval,
                self.clock.clone(),
            ),
        })
    }
}
