//! A fake Google OpenID Connect issuer: discovery, JWKS, the authorization endpoint and the
//! token endpoint of the code flow (with PKCE and both client authentication methods), shaped
//! like `accounts.google.com` and signing RS256 id_tokens with public test keys. Tests hold a
//! [`FakeGoogle`] to choose who signs in and to script what goes wrong; the handlers live in
//! `routes`, the keys in `keys`.

mod keys;
mod routes;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::web;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::server::Running;
use keys::Keys;

/// A running fake Google issuer on loopback; dropping it stops the server.
///
/// Everything it hands out (codes, tokens, keys) is fake: only zeropass's tests and manual
/// trials should ever talk to it.
pub struct FakeGoogle {
    shared: Arc<Shared>,
    server: Running,
}

/// The person an authorization code signs in, as the id_token will describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGoogleUser {
    /// Google's stable subject identifier (`sub`).
    pub sub: String,
    /// `email`; `None` leaves the claim out.
    pub email: Option<String>,
    /// `email_verified`; `None` leaves the claim out.
    pub email_verified: Option<bool>,
}

impl Default for FakeGoogleUser {
    /// Alice: sub `fake-google-sub-alice`, verified email `alice@example.com`.
    fn default() -> Self {
        Self {
            sub: "fake-google-sub-alice".to_owned(),
            email: Some("alice@example.com".to_owned()),
            email_verified: Some(true),
        }
    }
}

/// The fake Google's endpoints, for [`FakeGoogle::set_failure`] and [`FakeGoogle::requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /.well-known/openid-configuration`
    Discovery,
    /// `GET /oauth2/v3/certs` (the JWKS)
    Jwks,
    /// `GET /o/oauth2/v2/auth`
    Authorize,
    /// `POST /token`
    Token,
}

impl Endpoint {
    /// The endpoint's path on the fake (Google's own paths, apart from the token endpoint).
    pub fn path(self) -> &'static str {
        match self {
            Self::Discovery => "/.well-known/openid-configuration",
            Self::Jwks => "/oauth2/v3/certs",
            Self::Authorize => "/o/oauth2/v2/auth",
            Self::Token => "/token",
        }
    }
}

/// What the token endpoint last received: the parsed form and how the client authenticated.
/// Missing form fields are empty strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `grant_type`
    pub grant_type: String,
    /// `code`
    pub code: String,
    /// `redirect_uri`
    pub redirect_uri: String,
    /// `code_verifier` (PKCE), if sent.
    pub code_verifier: Option<String>,
    /// The client id from the Basic credentials, else from the form.
    pub client_id: String,
    /// How the client authenticated.
    pub client_auth: ClientAuth,
}

/// How a client authenticated at the token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` with form-urlencoded `client_id:client_secret` (even malformed).
    Basic,
    /// `client_secret` in the form (`client_secret_post`).
    Post,
    /// No client secret at all.
    None,
}

/// Rewrites the claims of the id_tokens the token endpoint returns.
type Tamper = Arc<dyn Fn(&mut Value) + Send + Sync>;

/// What the handle and the handlers share.
struct Shared {
    issuer: String,
    keys: Keys,
    state: Mutex<State>,
}

/// The fake's mutable state.
#[derive(Default)]
struct State {
    user: FakeGoogleUser,
    deny: bool,
    /// Index into `keys.all` of the published key; cycles below `keys::ROTATING`.
    current_key: usize,
    tamper: Option<Tamper>,
    jwks_extra: Vec<Value>,
    /// The `max-age` the JWKS is served with; `None`: no `Cache-Control` header.
    jwks_max_age: Option<u64>,
    failures: HashMap<Endpoint, Failure>,
    requests: HashMap<Endpoint, usize>,
    last_token_request: Option<TokenRequest>,
    /// Authorization codes not used yet.
    codes: HashMap<String, Grant>,
}

/// What an authorization code stands for.
struct Grant {
    user: FakeGoogleUser,
    nonce: Option<String>,
    redirect_uri: String,
    /// `code_challenge` and its method (`S256` or `plain`), if the client used PKCE.
    code_challenge: Option<(String, String)>,
    expires_at: Instant,
}

impl Shared {
    /// Locks the state; a test that panicked while holding it does not make the fake unusable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The claims of an id_token for `user`, issued now for an hour.
    fn id_token_claims(&self, user: &FakeGoogleUser, audience: &str, nonce: Option<&str>) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let mut claims = json!({
            "iss": self.issuer, "azp": audience, "aud": audience, "sub": user.sub,
            "iat": now, "exp": now + 3600,
        });
        if let Some(email) = &user.email {
            claims["email"] = json!(email);
        }
        if let Some(verified) = user.email_verified {
            claims["email_verified"] = json!(verified);
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    }

    /// Signs with the current key under the header Google uses (`alg`, `kid`, `typ`).
    fn sign_current(&self, claims: &Value) -> Result<String, ring::error::Unspecified> {
        let key = &self.keys.all[self.lock().current_key];
        key.sign(
            json!({"alg": "RS256", "kid": key.kid, "typ": "JWT"}),
            claims,
        )
    }
}

impl FakeGoogle {
    /// The client id the fake accepts (shaped like a real Google web client id).
    pub const CLIENT_ID: &'static str = "fake-google-client-id.apps.googleusercontent.com";
    /// The client secret the fake accepts.
    pub const CLIENT_SECRET: &'static str = "fake-google-client-secret";
    /// The `max-age` the JWKS is served with until a test sets another (Google's is hours).
    pub const JWKS_MAX_AGE: u64 = 19_008;

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
            Err(error) => panic!("the fake Google could not start: {error}"),
        }
    }

    /// Starts a fake listening on `addr` (port 0 picks a free port).
    ///
    /// # Errors
    /// When `addr` cannot be bound, or the server thread cannot start.
    pub fn start_on(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let shared = Arc::new(Shared {
            issuer: format!("http://{}", listener.local_addr()?),
            keys: Keys::load()?,
            state: Mutex::new(State {
                jwks_max_age: Some(Self::JWKS_MAX_AGE),
                ..State::default()
            }),
        });
        let data = web::Data::from(Arc::clone(&shared));
        let server = Running::serve(listener, move |config| {
            routes::configure(config, data.clone())
        })?;
        Ok(Self { shared, server })
    }

    /// The issuer URL, `http://127.0.0.1:PORT` without a trailing slash; also the tokens' `iss`.
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The full URL of `endpoint`.
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.shared.issuer, endpoint.path())
    }

    /// Who the next authorization codes sign in (the default user until set).
    pub fn set_user(&self, user: FakeGoogleUser) {
        self.shared.lock().user = user;
    }

    /// While `true`, the authorization endpoint answers `error=access_denied` as if the person
    /// had refused consent (a single request can ask for that with `deny=1`).
    pub fn set_deny(&self, deny: bool) {
        self.shared.lock().deny = deny;
    }

    /// A valid RS256 id_token for `user`, signed with the current key (its `kid` in the
    /// header): `iss` = [`issuer`](Self::issuer), `aud` = `azp` = `audience`, `iat` now,
    /// `exp` an hour later, `sub`, `email`, `email_verified`, and `nonce` when given.
    /// Not affected by [`set_tamper`](Self::set_tamper).
    pub fn id_token_for(
        &self,
        user: &FakeGoogleUser,
        audience: &str,
        nonce: Option<&str>,
    ) -> String {
        signed(
            self.shared
                .sign_current(&self.shared.id_token_claims(user, audience, nonce)),
        )
    }

    /// `claims` signed RS256 with the current key under `header` as given, except that `alg`
    /// and `kid` default to `RS256` and the current kid when absent: a header claiming
    /// `"alg": "none"` or `"HS256"` keeps that claim over an RS256 signature.
    pub fn sign_claims(&self, header: Value, claims: Value) -> String {
        // The lock only for the index: signing under it would serialise concurrent signers.
        let current = self.shared.lock().current_key;
        signed(self.shared.keys.all[current].sign(header, &claims))
    }

    /// `claims` signed RS256 with a test key that the JWKS never publishes (nor its kid).
    pub fn sign_with_unpublished_key(&self, claims: Value) -> String {
        signed(self.shared.keys.all[keys::UNPUBLISHED].sign(json!({"typ": "JWT"}), &claims))
    }

    /// The kid of the current signing key.
    pub fn current_kid(&self) -> String {
        self.shared.keys.all[self.shared.lock().current_key]
            .kid
            .to_owned()
    }

    /// Makes the next key current: from now on tokens carry its kid and the JWKS publishes it
    /// instead of the old one. Two keys take turns, so rotating twice restores the first.
    pub fn rotate_key(&self) {
        let mut state = self.shared.lock();
        state.current_key = (state.current_key + 1) % keys::ROTATING;
    }

    /// Applies `f` to the claims of every id_token the token endpoint returns from now on
    /// (after the fake has filled them in, before signing), e.g. to send a wrong `nonce`.
    pub fn set_tamper(&self, f: impl Fn(&mut Value) + Send + Sync + 'static) {
        self.shared.lock().tamper = Some(Arc::new(f));
    }

    /// Publishes these JWK entries after the current key, e.g. EC or `oct` keys that a client
    /// must skip. Replaces the previous extras.
    pub fn set_jwks_extra(&self, keys: Vec<Value>) {
        self.shared.lock().jwks_extra = keys;
    }

    /// Serves the JWKS with `Cache-Control: public, max-age=SECONDS, must-revalidate,
    /// no-transform`, as Google does (`None`: without `Cache-Control`). Until set:
    /// [`JWKS_MAX_AGE`](Self::JWKS_MAX_AGE).
    pub fn set_jwks_max_age(&self, seconds: Option<u64>) {
        self.shared.lock().jwks_max_age = seconds;
    }

    /// Makes `endpoint` answer with `failure` instead of normally (`None`: normal again).
    pub fn set_failure(&self, endpoint: Endpoint, failure: Option<Failure>) {
        let failures = &mut self.shared.lock().failures;
        match failure {
            Some(failure) => failures.insert(endpoint, failure),
            None => failures.remove(&endpoint),
        };
    }

    /// How many requests `endpoint` has received, failed ones included.
    pub fn requests(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .requests
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// What the token endpoint last received, whether it accepted it or not.
    pub fn last_token_request(&self) -> Option<TokenRequest> {
        self.shared.lock().last_token_request.clone()
    }

    /// The JWKS document the fake currently publishes.
    pub fn jwks(&self) -> Value {
        routes::jwks_document(&self.shared)
    }
}

impl std::fmt::Debug for FakeGoogle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGoogle")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

/// Unwraps a signature for the public signing helpers, whose callers are tests.
#[allow(
    clippy::panic,
    reason = "test tooling: the shipped test keys always sign"
)]
fn signed(token: Result<String, ring::error::Unspecified>) -> String {
    token.unwrap_or_else(|error| panic!("the fake Google could not sign a token: {error}"))
}
