//! The browser sign-in flow's server-side half: the per-attempt secrets (state, nonce, PKCE
//! verifier) minted at `start`, kept in the browser as an encrypted, signed, short-lived
//! cookie, and checked at `callback`; and the allow-list of client redirect URIs.

mod cookie;
mod random;

pub(crate) use cookie::FlowCookie;
pub(crate) use random::{constant_time_eq, random_token};

use crate::problem::ApiError;
use actix_web::cookie::Key;
use zeropass_domain::{AuthorizationFlow, Provider};

/// Settings of the browser flow.
#[derive(Clone)]
pub struct BrowserFlow {
    public_url: String,
    cookie_key: Key,
    allowed_redirect_uris: Vec<String>,
}

impl std::fmt::Debug for BrowserFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserFlow")
            .field("public_url", &self.public_url)
            .field("allowed_redirect_uris", &self.allowed_redirect_uris)
            .finish_non_exhaustive()
    }
}

impl BrowserFlow {
    /// Flow settings: the server's external base URL (`PUBLIC_URL`, no trailing slash), 64
    /// bytes of key material for the flow cookie (encryption and signature), and the client
    /// redirect URIs accepted at `start` (exact match).
    #[must_use]
    pub fn new(
        public_url: impl Into<String>,
        cookie_key: &[u8; 64],
        allowed_redirect_uris: Vec<String>,
    ) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            cookie_key: Key::from(cookie_key),
            allowed_redirect_uris,
        }
    }

    /// Local defaults for tests and examples: `http://127.0.0.1:8080`, a random cookie key, no
    /// client redirect URIs.
    #[must_use]
    pub fn local() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            cookie_key: Key::generate(),
            allowed_redirect_uris: Vec::new(),
        }
    }

    /// The fresh secrets of a new attempt with `provider`.
    pub(crate) fn new_attempt(&self, provider: Provider) -> Result<AuthorizationFlow, ApiError> {
        Ok(AuthorizationFlow {
            state: random_token()?,
            nonce: random_token()?,
            pkce_verifier: random_token()?,
            callback_url: format!("{}/auth/{provider}/callback", self.public_url),
        })
    }

    /// The client redirect URI if it is allowed (exact, byte-for-byte match).
    pub(crate) fn allowed_redirect_uri(&self, requested: &str) -> Result<String, ApiError> {
        self.allowed_redirect_uris
            .iter()
            .find(|allowed| allowed.as_str() == requested)
            .cloned()
            .ok_or(ApiError::RedirectUriNotAllowed)
    }

    /// Whether cookies must be `Secure` (the server is reached over https).
    pub(crate) fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub(crate) fn cookie_key(&self) -> &Key {
        &self.cookie_key
    }
}
