//! What every handler can reach: the use cases and the configured identity providers. Built by
//! the server from real adapters, or by a tester from mocks.

use crate::flow::BrowserFlow;
use crate::instrumented::InstrumentedProvider;
use crate::metrics::Metrics;
use crate::middleware::Protection;
use crate::problem::ApiError;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeropass_domain::{
    AccessTokens, CodeGrant, CurrentUser, IdentityProvider, Provider, SignIn, UserRepository,
};

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    pub(crate) sign_in: SignIn,
    pub(crate) current_user: CurrentUser,
    pub(crate) users: Arc<dyn UserRepository>,
    /// For the JWKS (`published_keys`); the use cases hold their own handle.
    pub(crate) tokens: Arc<dyn AccessTokens>,
    pub(crate) providers: IdentityProviders,
    pub(crate) browser: BrowserFlow,
    pub(crate) code_grant: Option<CodeGrant>,
    pub(crate) protection: Protection,
    pub(crate) metrics: Metrics,
    /// Whether [`app`](crate::app) serves `/metrics` itself.
    pub(crate) serves_metrics: bool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over these ports; a provider not in `providers` answers 503 `provider_not_configured`.
    /// The browser flow starts with [`BrowserFlow::local`]; set it with [`Self::with_browser_flow`].
    /// The state has a metrics registry of its own, and every provider is wrapped in an
    /// [`InstrumentedProvider`] recording into it.
    #[must_use]
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn AccessTokens>,
        providers: impl IntoIterator<Item = Arc<dyn IdentityProvider>>,
    ) -> Self {
        let metrics = Metrics::new();
        Self {
            sign_in: SignIn::new(Arc::clone(&users), Arc::clone(&tokens)),
            current_user: CurrentUser::new(Arc::clone(&users), Arc::clone(&tokens)),
            users,
            tokens,
            providers: IdentityProviders(
                providers
                    .into_iter()
                    .map(|provider| {
                        let instrumented: Arc<dyn IdentityProvider> =
                            Arc::new(InstrumentedProvider::new(provider, metrics.clone()));
                        (instrumented.provider(), instrumented)
                    })
                    .collect(),
            ),
            browser: BrowserFlow::local(),
            code_grant: None,
            protection: Protection::default(),
            metrics,
            serves_metrics: true,
        }
    }

    /// Reports the database pool in `zeropass_db_pool_connections`: `pool_state` returns
    /// `(connections, idle)` and is called at each scrape of `/metrics`. Without it the gauges
    /// are absent.
    #[must_use]
    pub fn with_pool_gauge(
        mut self,
        pool_state: impl Fn() -> (u32, u32) + Send + Sync + 'static,
    ) -> Self {
        self.metrics.set_pool_state(Arc::new(pool_state));
        self
    }

    /// This state's metrics (its own registry).
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// `/metrics` is served on a listener of its own ([`metrics_app`](crate::metrics_app) over
    /// [`Self::metrics`]): [`app`](crate::app) answers it 404 like any unknown path, and
    /// still counts every request it answers.
    #[must_use]
    pub fn without_metrics_endpoint(mut self) -> Self {
        self.serves_metrics = false;
        self
    }

    /// The abuse and browser settings: trusted proxies, CORS origins, the sign-in rate limit
    /// (none by default).
    #[must_use]
    pub fn with_protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// The one-time codes of apps that sign in with a PKCE `code_challenge` (the browser flow
    /// ends with `?code=`, redeemed at `POST /auth/token`). Without it those requests fail
    /// with a 500: a wiring mistake, which the server never makes.
    #[must_use]
    pub fn with_code_grant(mut self, code_grant: CodeGrant) -> Self {
        self.code_grant = Some(code_grant);
        self
    }

    /// The one-time code use case.
    pub(crate) fn code_grant(&self) -> Result<&CodeGrant, ApiError> {
        self.code_grant
            .as_ref()
            .ok_or_else(|| ApiError::Internal("no one-time code store is wired".into()))
    }

    /// The browser flow's settings (public URL, cookie key, allowed client redirect URIs).
    #[must_use]
    pub fn with_browser_flow(mut self, browser: BrowserFlow) -> Self {
        self.browser = browser;
        self
    }
}

/// The configured identity providers, by name.
#[derive(Clone, Default)]
pub(crate) struct IdentityProviders(BTreeMap<Provider, Arc<dyn IdentityProvider>>);

impl IdentityProviders {
    /// The adapter for a provider, or 503 `provider_not_configured`.
    pub(crate) fn get(&self, provider: Provider) -> Result<&dyn IdentityProvider, ApiError> {
        self.0
            .get(&provider)
            .map(AsRef::as_ref)
            .ok_or(ApiError::ProviderNotConfigured(provider))
    }

    /// The providers that are configured, in a stable order.
    pub(crate) fn configured(&self) -> impl Iterator<Item = Provider> + '_ {
        self.0.keys().copied()
    }
}

impl std::fmt::Debug for IdentityProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.configured()).finish()
    }
}
