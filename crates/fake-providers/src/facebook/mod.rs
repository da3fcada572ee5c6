//! A fake Facebook: the Login dialog and the three Graph API calls zeropass makes
//! (`oauth/access_token`, `debug_token`, `me`), shaped like `www.facebook.com` and
//! `graph.facebook.com` — Graph error objects, single-use codes, PKCE, `appsecret_proof` — under one
//! versioned base URL. Tests hold a [`FakeFacebook`] to choose who signs in, to mint user access
//! tokens for the native flow and to script what goes wrong; the handlers live in `routes`.

mod routes;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::web;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::failure::Failure;
use crate::random::random_token;
use crate::server::Running;

/// A running fake Facebook on loopback; dropping it stops the server.
///
/// Everything it hands out (codes, tokens) is fake: only zeropass's tests and manual trials
/// should ever talk to it.
pub struct FakeFacebook {
    shared: Arc<Shared>,
    server: Running,
}

/// The person a dialog code or a minted token signs in, as `/me` describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFacebookUser {
    /// The app-scoped user id (`id` of `/me`, `user_id` of `debug_token`).
    pub id: String,
    /// `email`; `None` leaves the field out of `/me`, as for an account without one.
    pub email: Option<String>,
}

impl Default for FakeFacebookUser {
    /// Alice: id `10000000000000001`, email `alice@example.com`.
    fn default() -> Self {
        Self {
            id: "10000000000000001".to_owned(),
            email: Some("alice@example.com".to_owned()),
        }
    }
}

/// The fake Facebook's endpoints, for [`FakeFacebook::set_failure`] and
/// [`FakeFacebook::requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacebookEndpoint {
    /// `GET /v21.0/dialog/oauth` (the Login dialog)
    Dialog,
    /// `GET /v21.0/oauth/access_token` (code exchange; POST accepted too)
    AccessToken,
    /// `GET /v21.0/debug_token`
    DebugToken,
    /// `GET /v21.0/me`
    Me,
}

impl FacebookEndpoint {
    /// The endpoint's path on the fake, Graph version included.
    pub fn path(self) -> &'static str {
        match self {
            Self::Dialog => "/v21.0/dialog/oauth",
            Self::AccessToken => "/v21.0/oauth/access_token",
            Self::DebugToken => "/v21.0/debug_token",
            Self::Me => "/v21.0/me",
        }
    }
}

/// What `oauth/access_token` last received, whether it accepted it or not. Missing parameters
/// are empty strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    /// `client_id`
    pub client_id: String,
    /// `redirect_uri`
    pub redirect_uri: String,
    /// `code`
    pub code: String,
    /// Whether `client_secret` was [`FakeFacebook::APP_SECRET`] (the secret itself is not kept).
    pub client_secret_ok: bool,
    /// `code_verifier` (PKCE), if sent.
    pub code_verifier: Option<String>,
}

/// Rewrites the `data` object of `debug_token` answers.
type Tamper = Arc<dyn Fn(&mut Value) + Send + Sync>;

/// What the handle and the handlers share.
struct Shared {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    base: String,
    state: Mutex<State>,
}

/// The fake's mutable state.
#[derive(Default)]
struct State {
    user: FakeFacebookUser,
    deny: bool,
    /// Whether the dialog refuses a request without a PKCE `code_challenge`.
    require_pkce: bool,
    tamper: Option<Tamper>,
    failures: HashMap<FacebookEndpoint, Failure>,
    requests: HashMap<FacebookEndpoint, usize>,
    without_valid_proof: usize,
    last_code_exchange: Option<CodeExchange>,
    /// Dialog codes, kept once used so that a second try says "has been used".
    codes: HashMap<String, Grant>,
    /// User access tokens the fake has issued or minted.
    tokens: HashMap<String, UserToken>,
}

/// What a dialog code stands for.
struct Grant {
    user: FakeFacebookUser,
    /// Exactly as the dialog received it: the exchange must send the same string.
    redirect_uri: String,
    /// `code_challenge` and its method (`S256` or `plain`), if the dialog was given one: the
    /// exchange must then send the matching `code_verifier`.
    code_challenge: Option<(String, String)>,
    expires_at: Instant,
    used: bool,
}

/// A user access token as `debug_token` describes it.
struct UserToken {
    user: FakeFacebookUser,
    app_id: String,
    issued_at: u64,
    expires_at: u64,
}

/// Lifetime of a user access token from a code exchange (what Facebook answers: ~60 days).
const USER_TOKEN_LIFETIME: u64 = 5_183_944;

impl Shared {
    /// Locks the state; a test that panicked while holding it does not make the fake unusable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mints a user access token for `user` and `app_id`, issued at `issued_at`, remembered so
    /// `debug_token` and `/me` know it.
    fn issue(
        &self,
        user: &FakeFacebookUser,
        app_id: &str,
        issued_at: u64,
    ) -> Result<String, getrandom::Error> {
        let token = format!("EAA{}", random_token()?);
        let issued = UserToken {
            user: user.clone(),
            app_id: app_id.to_owned(),
            issued_at,
            expires_at: issued_at + USER_TOKEN_LIFETIME,
        };
        self.lock().tokens.insert(token.clone(), issued);
        Ok(token)
    }
}

/// Seconds since the Unix epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Lowercase hex HMAC-SHA256 of `access_token` under the app secret, or `None` if HMAC could
/// not be keyed (it takes any key length, so never).
fn proof_of(access_token: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(FakeFacebook::APP_SECRET.as_bytes()).ok()?;
    mac.update(access_token.as_bytes());
    let digest = mac.finalize().into_bytes();
    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

impl FakeFacebook {
    /// The app id the fake accepts (shaped like a real one).
    pub const APP_ID: &'static str = "1234567890123456";
    /// The app secret the fake accepts.
    pub const APP_SECRET: &'static str = "fake-facebook-app-secret";
    /// The Graph API version in every path.
    pub const GRAPH_VERSION: &'static str = "v21.0";

    /// Starts a fake on `127.0.0.1` and a free port; returns once it accepts connections.
    /// Works from sync code and from inside an async runtime (it runs on its own thread).
    ///
    /// # Panics
    /// If no loopback port can be bound: test tooling should stop loudly there.
    #[allow(
        clippy::panic,
        reason = "test tooling: a fake that cannot start must fail the test"
    )]
    pub fn start() -> Self {
        match Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) {
            Ok(fake) => fake,
            Err(error) => panic!("the fake Facebook could not start: {error}"),
        }
    }

    /// Starts a fake listening on `addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// When `addr` cannot be bound, or the server thread cannot start.
    pub fn start_on(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let shared = Arc::new(Shared {
            base: format!("http://{}", listener.local_addr()?),
            state: Mutex::default(),
        });
        let data = web::Data::from(Arc::clone(&shared));
        let server = Running::serve(listener, move |config| {
            routes::configure(config, data.clone())
        })?;
        Ok(Self { shared, server })
    }

    /// The Graph API base, `http://127.0.0.1:PORT/v21.0` (for `FACEBOOK_GRAPH_URL`).
    pub fn graph_url(&self) -> String {
        format!("{}/{}", self.shared.base, Self::GRAPH_VERSION)
    }

    /// The Login dialog, `http://127.0.0.1:PORT/v21.0/dialog/oauth` (for `FACEBOOK_DIALOG_URL`).
    pub fn dialog_url(&self) -> String {
        self.url(FacebookEndpoint::Dialog)
    }

    /// The full URL of `endpoint`.
    pub fn url(&self, endpoint: FacebookEndpoint) -> String {
        format!("{}{}", self.shared.base, endpoint.path())
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The app access token `debug_token` wants: `{APP_ID}|{APP_SECRET}`.
    pub fn app_access_token() -> String {
        format!("{}|{}", Self::APP_ID, Self::APP_SECRET)
    }

    /// The `appsecret_proof` of `access_token`: lowercase hex HMAC-SHA256 keyed with
    /// [`APP_SECRET`](Self::APP_SECRET).
    pub fn appsecret_proof(access_token: &str) -> String {
        proof_of(access_token).unwrap_or_default()
    }

    /// Who the dialog's next codes sign in (the default user until set).
    pub fn set_user(&self, user: FakeFacebookUser) {
        self.shared.lock().user = user;
    }

    /// While `true`, the dialog redirects back with `error=access_denied` (and Facebook's
    /// `error_code`, `error_description`, `error_reason`) as if the person had cancelled.
    pub fn set_deny(&self, deny: bool) {
        self.shared.lock().deny = deny;
    }

    /// While `true`, the dialog refuses a request without a PKCE `code_challenge` (redirecting
    /// back with `error=invalid_request`), as Facebook would for an app that must use PKCE.
    /// Codes the dialog issued with a challenge always need the matching `code_verifier`.
    pub fn set_require_pkce(&self, require: bool) {
        self.shared.lock().require_pkce = require;
    }

    /// A valid user access token for `user` issued to [`APP_ID`](Self::APP_ID), as the
    /// Facebook SDK of a native app would hand over.
    pub fn user_token_for(&self, user: &FakeFacebookUser) -> String {
        self.user_token_for_app(user, Self::APP_ID)
    }

    /// A valid user access token for `user`, but issued to `app_id`: `debug_token` says
    /// `is_valid: true` with that `app_id`, and `/me` refuses it.
    pub fn user_token_for_app(&self, user: &FakeFacebookUser, app_id: &str) -> String {
        issued(self.shared.issue(user, app_id, now()))
    }

    /// A user access token of [`APP_ID`](Self::APP_ID) for `user` that expired an hour ago.
    pub fn expired_user_token_for(&self, user: &FakeFacebookUser) -> String {
        let issued_at = now().saturating_sub(USER_TOKEN_LIFETIME + 3600);
        issued(self.shared.issue(user, Self::APP_ID, issued_at))
    }

    /// Applies `f` to the `data` object of every `debug_token` answer from now on (after the
    /// fake has filled it in), e.g. to claim another `app_id` or `user_id`.
    pub fn set_debug_token_tamper(&self, f: impl Fn(&mut Value) + Send + Sync + 'static) {
        self.shared.lock().tamper = Some(Arc::new(f));
    }

    /// Makes `endpoint` answer with `failure` instead of normally (`None`: normal again).
    pub fn set_failure(&self, endpoint: FacebookEndpoint, failure: Option<Failure>) {
        let failures = &mut self.shared.lock().failures;
        match failure {
            Some(failure) => failures.insert(endpoint, failure),
            None => failures.remove(&endpoint),
        };
    }

    /// How many requests `endpoint` has received, failed ones included.
    pub fn requests(&self, endpoint: FacebookEndpoint) -> usize {
        self.shared
            .lock()
            .requests
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// How many `debug_token` or `/me` calls came without an `appsecret_proof` or with a wrong
    /// one (calls answered by a scripted failure are not looked at).
    pub fn graph_requests_without_valid_proof(&self) -> usize {
        self.shared.lock().without_valid_proof
    }

    /// What `oauth/access_token` last received, whether it accepted it or not.
    pub fn last_code_exchange(&self) -> Option<CodeExchange> {
        self.shared.lock().last_code_exchange.clone()
    }
}

impl std::fmt::Debug for FakeFacebook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeFacebook")
            .field("graph_url", &self.graph_url())
            .finish_non_exhaustive()
    }
}

/// Unwraps a minted token for the public minting helpers, whose callers are tests.
#[allow(
    clippy::panic,
    reason = "test tooling: a fake without randomness must fail the test"
)]
fn issued(token: Result<String, getrandom::Error>) -> String {
    token.unwrap_or_else(|error| panic!("the fake Facebook could not mint a token: {error}"))
}
