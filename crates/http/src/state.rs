//! What every handler can reach: the use cases and the configured identity providers. Built by
//! the server from real adapters, or by a tester from mocks.

use crate::flow::BrowserFlow;
use crate::problem::ApiError;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeropass_domain::{
    AccessTokens, CurrentUser, IdentityProvider, Provider, SignIn, UserRepository,
};

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    pub(crate) sign_in: SignIn,
    pub(crate) current_user: CurrentUser,
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) providers: IdentityProviders,
    pub(crate) browser: BrowserFlow,
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
    #[must_use]
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn AccessTokens>,
        providers: impl IntoIterator<Item = Arc<dyn IdentityProvider>>,
    ) -> Self {
        Self {
            sign_in: SignIn::new(Arc::clone(&users), Arc::clone(&tokens)),
            current_user: CurrentUser::new(Arc::clone(&users), tokens),
            users,
            providers: IdentityProviders(
                providers
                    .into_iter()
                    .map(|provider| (provider.provider(), provider))
                    .collect(),
            ),
            browser: BrowserFlow::local(),
        }
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
