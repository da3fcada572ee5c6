//! [`GoogleIdentityProvider`]: the `IdentityProvider` port for Google, tying together the
//! discovery cache, the key cache, the OAuth 2 exchange and the id_token rules, under one
//! deadline per operation so that a sign-in never waits on Google for more than
//! [`TOTAL_TIMEOUT`](crate::TOTAL_TIMEOUT).

use crate::config::{GoogleConfig, GoogleSetupError, Tuning, accepted_issuers, issuer_identifier};
use crate::http_client::{HttpClient, unavailable_because};
use crate::metadata::{Discovery, ProviderInfo};
use crate::oauth;
use crate::verify::{self, Expectations, NonceRule};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeropass_domain::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential, Provider,
    VerifiedIdentity,
};

/// Google as an identity provider. Cheap to clone (the state is shared); usually held as
/// `Arc<dyn IdentityProvider>`.
#[derive(Clone)]
pub struct GoogleIdentityProvider {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: String,
    client_secret: SecretString,
    /// Accepted `aud`/`azp` in the redirect flow: our web client only.
    web_audiences: Vec<String>,
    /// Accepted `aud`/`azp` of native credentials: the web client and the extra ones.
    native_audiences: Vec<String>,
    issuers: Vec<String>,
    http: HttpClient,
    discovery: Discovery,
    deadline: Duration,
}

/// Redacted: shows what is configured, never the secret.
impl fmt::Debug for GoogleIdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleIdentityProvider")
            .field("client_id", &self.inner.client_id)
            .field("native_audiences", &self.inner.native_audiences)
            .field("issuers", &self.inner.issuers)
            .field("discovery", &self.inner.discovery)
            .finish_non_exhaustive()
    }
}

impl GoogleIdentityProvider {
    /// Builds the adapter and its HTTP client. Performs no network I/O: Google being down
    /// cannot make this fail (discovery happens in [`warm_up`](Self::warm_up) or on first use).
    ///
    /// # Errors
    /// [`GoogleSetupError`] when the client id is empty, the issuer URL is unusable, or the
    /// HTTP client cannot be built.
    pub fn new(config: GoogleConfig) -> Result<Self, GoogleSetupError> {
        Self::with_tuning(config, Tuning::default())
    }

    /// [`new`](Self::new) with other limits; for tests that cannot wait for real timeouts.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    #[doc(hidden)]
    pub fn with_tuning(config: GoogleConfig, tuning: Tuning) -> Result<Self, GoogleSetupError> {
        let client_id = config.client_id.trim().to_owned();
        if client_id.is_empty() {
            return Err(GoogleSetupError::EmptyClientId);
        }
        let issuer = issuer_identifier(&config.issuer_url)?;
        let http = HttpClient::new(&tuning, &config.issuer_url)
            .map_err(|error| GoogleSetupError::HttpClient(Box::new(error)))?;
        let mut native_audiences = vec![client_id.clone()];
        for extra in &config.extra_audiences {
            let extra = extra.trim();
            if !extra.is_empty() && !native_audiences.iter().any(|known| known == extra) {
                native_audiences.push(extra.to_owned());
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                web_audiences: vec![client_id.clone()],
                native_audiences,
                issuers: accepted_issuers(&issuer),
                discovery: Discovery::new(
                    issuer,
                    tuning.discovery_retry_interval,
                    tuning.jwks_refetch_interval,
                    tuning.clock.clone(),
                ),
                client_id,
                client_secret: config.client_secret,
                http,
                deadline: tuning.limits.total_timeout,
            }),
        })
    }

    /// Tries discovery (metadata and keys) once; meant to run in the background at start-up.
    /// A failure is only logged: the next call that needs Google tries again.
    pub async fn warm_up(&self) {
        match self.within_deadline(self.discovered()).await {
            Ok(_) => tracing::debug!("Google is ready"),
            Err(error) => {
                let cause = match &error {
                    IdentityError::Unavailable(source) => source.to_string(),
                    other => other.to_string(),
                };
                tracing::warn!(
                    %cause,
                    "Google is not reachable yet; discovery will be retried on use"
                );
            }
        }
    }

    /// Whether Google's metadata has been discovered (for `/health`).
    pub async fn is_ready(&self) -> bool {
        self.inner.discovery.is_ready()
    }

    /// Reads Google's discovery document (and its JWKS) now if it has not been read yet,
    /// within the adapter's deadline: whether Google can be reached from here, for the
    /// operator's `zeropass check`.
    ///
    /// # Errors
    /// [`IdentityError::Unavailable`] with the cause when discovery fails.
    pub async fn check_reachable(&self) -> Result<(), IdentityError> {
        self.within_deadline(self.discovered()).await.map(|_| ())
    }

    async fn discovered(&self) -> Result<Arc<ProviderInfo>, IdentityError> {
        self.inner.discovery.get(&self.inner.http).await
    }

    /// Runs one operation under the overall deadline.
    async fn within_deadline<T>(
        &self,
        operation: impl Future<Output = Result<T, IdentityError>>,
    ) -> Result<T, IdentityError> {
        tokio::time::timeout(self.inner.deadline, operation)
            .await
            .unwrap_or_else(|_| Err(unavailable_because("Google did not answer in time")))
    }

    async fn verify_id_token(
        &self,
        info: &ProviderInfo,
        token: &str,
        audiences: &[String],
        nonce: NonceRule<'_>,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let unverified = verify::decode(token)?;
        let key = info
            .keys
            .key_for(unverified.kid(), &self.inner.http)
            .await?;
        let claims = unverified.verify_signature(&key)?;
        verify::check_claims(
            claims,
            &Expectations {
                issuers: &self.inner.issuers,
                audiences,
                nonce,
                now: unix_now(),
            },
        )
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Logs how an operation ended: refusals at info with their reason, unavailability at warn,
/// success at debug; never a token, code, secret or email.
fn log_outcome<T>(operation: &'static str, result: &Result<T, IdentityError>) {
    match result {
        Ok(_) => tracing::debug!(operation, "Google operation succeeded"),
        Err(error @ IdentityError::Unavailable(source)) => {
            tracing::warn!(operation, %error, cause = %source, "Google is unavailable");
        }
        Err(error) => tracing::info!(operation, reason = %error, "Google sign-in refused"),
    }
}

#[async_trait]
impl IdentityProvider for GoogleIdentityProvider {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn is_ready(&self) -> bool {
        self.inner.discovery.is_ready()
    }

    #[tracing::instrument(skip_all, fields(provider = "google"))]
    async fn authorization_url(&self, flow: &AuthorizationFlow) -> Result<String, IdentityError> {
        let result = self
            .within_deadline(async {
                let info = self.discovered().await?;
                oauth::authorization_url(
                    &self.inner.client_id,
                    &info.authorization_endpoint,
                    &info.token_endpoint,
                    flow,
                )
            })
            .await;
        log_outcome("authorization_url", &result);
        result
    }

    #[tracing::instrument(skip_all, fields(provider = "google"))]
    async fn complete_authorization(
        &self,
        code: &str,
        flow: &AuthorizationFlow,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let result = self
            .within_deadline(async {
                let info = self.discovered().await?;
                let id_token = oauth::exchange_code(
                    &self.inner.client_id,
                    self.inner.client_secret.expose_secret(),
                    &info.authorization_endpoint,
                    &info.token_endpoint,
                    code,
                    flow,
                    &self.inner.http,
                )
                .await?;
                self.verify_id_token(
                    &info,
                    &id_token,
                    &self.inner.web_audiences,
                    NonceRule::Exactly(&flow.nonce),
                )
                .await
            })
            .await;
        log_outcome("complete_authorization", &result);
        result
    }

    #[tracing::instrument(skip_all, fields(provider = "google"))]
    async fn verify_native_credential(
        &self,
        credential: &NativeCredential,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let result = self
            .within_deadline(async {
                let info = self.discovered().await?;
                self.verify_id_token(
                    &info,
                    &credential.token,
                    &self.inner.native_audiences,
                    NonceRule::posted(credential.nonce.as_deref()),
                )
                .await
            })
            .await;
        log_outcome("verify_native_credential", &result);
        result
    }
}
