//! A decorator that times and counts every call of an identity provider, so that each adapter
//! (Google, Facebook, a fake, a mock) is measured the same way without knowing about metrics.
//! [`AppState::new`](crate::AppState::new) wraps every provider it is given in one.

use crate::metrics::{Metrics, ProviderFailure, ProviderOperation};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use zeropass_domain::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential, Provider,
    VerifiedIdentity,
};

/// An [`IdentityProvider`] that records each call's latency in
/// `zeropass_identity_provider_duration_seconds` and each failure in
/// `zeropass_identity_provider_failures_total`, then answers exactly as the wrapped one.
pub struct InstrumentedProvider {
    inner: Arc<dyn IdentityProvider>,
    provider: Provider,
    metrics: Metrics,
}

impl std::fmt::Debug for InstrumentedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedProvider")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl InstrumentedProvider {
    /// Wraps `inner`, recording into `metrics`; its series start at zero.
    #[must_use]
    pub fn new(inner: Arc<dyn IdentityProvider>, metrics: Metrics) -> Self {
        let provider = inner.provider();
        metrics.initialise_provider(provider);
        Self {
            inner,
            provider,
            metrics,
        }
    }

    async fn observe<T>(
        &self,
        operation: ProviderOperation,
        call: impl Future<Output = Result<T, IdentityError>>,
    ) -> Result<T, IdentityError> {
        let started = Instant::now();
        let result = call.await;
        let failure = result.as_ref().err().map(|error| match error {
            IdentityError::Unavailable(_) => ProviderFailure::Unavailable,
            IdentityError::InvalidIdToken(_)
            | IdentityError::InvalidAccessToken(_)
            | IdentityError::InvalidAuthorizationCode(_)
            | IdentityError::EmailNotVerified
            | IdentityError::EmailRequired => ProviderFailure::Rejected,
        });
        self.metrics
            .observe_provider_call(self.provider, operation, started.elapsed(), failure);
        result
    }
}

#[async_trait]
impl IdentityProvider for InstrumentedProvider {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn authorization_url(&self, flow: &AuthorizationFlow) -> Result<String, IdentityError> {
        self.observe(
            ProviderOperation::AuthorizationUrl,
            self.inner.authorization_url(flow),
        )
        .await
    }

    async fn complete_authorization(
        &self,
        code: &str,
        flow: &AuthorizationFlow,
    ) -> Result<VerifiedIdentity, IdentityError> {
        self.observe(
            ProviderOperation::CompleteAuthorization,
            self.inner.complete_authorization(code, flow),
        )
        .await
    }

    async fn verify_native_credential(
        &self,
        credential: &NativeCredential,
    ) -> Result<VerifiedIdentity, IdentityError> {
        self.observe(
            ProviderOperation::VerifyNativeCredential,
            self.inner.verify_native_credential(credential),
        )
        .await
    }

    async fn is_ready(&self) -> bool {
        self.inner.is_ready().await
    }
}
