//! The flow cookie: what `start` must remember until `callback` — the provider, the attempt's
//! secrets and the client's redirect URI — sealed with AES-256-GCM (actix's private cookie
//! jar: encrypted and authenticated), `HttpOnly`, `SameSite=Lax` (the callback is a top-level
//! navigation from the provider), `Secure` over https, and short-lived both in the browser
//! (`Max-Age`) and inside the sealed value (checked at the callback, whatever the browser does).
//! Over https its name carries the `__Host-` prefix, so browsers accept it only if it is
//! `Secure`, on `Path=/` and without `Domain`: a sibling subdomain cannot plant one (a planted
//! cookie would be refused as not authentic anyway, but the prefix stops it from shadowing
//! ours). Plain-http loopback development keeps the unprefixed name, which browsers allow
//! without `Secure`.

use crate::problem::ApiError;
use actix_web::HttpRequest;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};
use zeropass_domain::{AuthorizationFlow, CodeChallenge, Provider};

/// The cookie's name over plain http (loopback development).
const FLOW_COOKIE: &str = "zeropass_flow";
/// The cookie's name over https: `__Host-` binds it to this host (`Secure`, `Path=/`, no
/// `Domain`).
const HOST_FLOW_COOKIE: &str = "__Host-zeropass_flow";
/// Over plain http the cookie is sent to both providers' callbacks (a state minted for one is
/// refused at the other by the provider sealed inside) and nowhere else; over https the
/// `__Host-` prefix demands `Path=/`.
const FLOW_COOKIE_PATH: &str = "/auth/";
const HOST_FLOW_COOKIE_PATH: &str = "/";
/// How long a browser sign-in may take, in seconds.
pub(crate) const FLOW_COOKIE_MAX_AGE: i64 = 600;

/// What the cookie holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct FlowCookie {
    provider: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
    callback_url: String,
    redirect_uri: Option<String>,
    /// Unix seconds when the attempt started.
    issued_at: i64,
    /// The client app's PKCE S256 challenge (base64url), when the flow ends with a one-time
    /// code rather than a token. Absent from cookies sealed before it existed: `None`.
    #[serde(default)]
    code_challenge: Option<String>,
}

impl FlowCookie {
    /// The cookie for a new attempt.
    pub(crate) fn new(
        provider: Provider,
        flow: &AuthorizationFlow,
        redirect_uri: Option<String>,
        now: i64,
    ) -> Self {
        Self {
            provider: provider.as_str().to_owned(),
            state: flow.state.clone(),
            nonce: flow.nonce.clone(),
            pkce_verifier: flow.pkce_verifier.clone(),
            callback_url: flow.callback_url.clone(),
            redirect_uri,
            issued_at: now,
            code_challenge: None,
        }
    }

    /// Binds the flow to the client app's challenge: it will end with a one-time code.
    pub(crate) fn with_code_challenge(mut self, challenge: Option<CodeChallenge>) -> Self {
        self.code_challenge = challenge.map(|challenge| challenge.to_base64url());
        self
    }

    /// The sealed `Set-Cookie`.
    pub(crate) fn seal(&self, key: &Key, secure: bool) -> Result<Cookie<'static>, ApiError> {
        let value =
            serde_json::to_string(self).map_err(|error| ApiError::Internal(Box::new(error)))?;
        let mut jar = CookieJar::new();
        jar.private_mut(key).add(
            base_cookie(value, secure)
                .max_age(CookieDuration::seconds(FLOW_COOKIE_MAX_AGE))
                .finish(),
        );
        jar.get(cookie_name(secure))
            .cloned()
            .ok_or_else(|| ApiError::Internal("sealed cookie missing from its jar".into()))
    }

    /// Opens the request's flow cookie for `provider`: present under the name `seal` gives it
    /// (`secure` as there), authentic, of this provider, not expired.
    pub(crate) fn open(
        request: &HttpRequest,
        key: &Key,
        secure: bool,
        provider: Provider,
        now: i64,
    ) -> Result<Self, ApiError> {
        let name = cookie_name(secure);
        let sealed = request
            .cookie(name)
            .ok_or(ApiError::InvalidState("no flow cookie"))?;
        let mut jar = CookieJar::new();
        jar.add_original(sealed);
        let opened = jar
            .private(key)
            .get(name)
            .ok_or(ApiError::InvalidState("flow cookie not authentic"))?;
        let cookie: Self = serde_json::from_str(opened.value())
            .map_err(|_| ApiError::InvalidState("flow cookie unreadable"))?;
        if cookie.provider != provider.as_str() {
            return Err(ApiError::InvalidState("flow started with another provider"));
        }
        if !(0..=FLOW_COOKIE_MAX_AGE).contains(&(now - cookie.issued_at)) {
            return Err(ApiError::InvalidState("flow expired"));
        }
        Ok(cookie)
    }

    /// The `Set-Cookie` that deletes the flow cookie (attributes matching the original).
    pub(crate) fn removal(secure: bool) -> Cookie<'static> {
        let mut cookie = base_cookie(String::new(), secure).finish();
        cookie.make_removal();
        cookie
    }

    /// The attempt's secrets, for the provider.
    pub(crate) fn flow(&self) -> AuthorizationFlow {
        AuthorizationFlow {
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            pkce_verifier: self.pkce_verifier.clone(),
            callback_url: self.callback_url.clone(),
        }
    }

    pub(crate) fn state(&self) -> &str {
        &self.state
    }

    pub(crate) fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// The client app's challenge, if the flow ends with a one-time code.
    pub(crate) fn code_challenge(&self) -> Result<Option<CodeChallenge>, ApiError> {
        self.code_challenge
            .as_deref()
            .map(CodeChallenge::parse_s256)
            .transpose()
            .map_err(|_| ApiError::InvalidState("flow cookie unreadable"))
    }
}

/// The cookie's name: `__Host-` prefixed over https.
fn cookie_name(secure: bool) -> &'static str {
    if secure {
        HOST_FLOW_COOKIE
    } else {
        FLOW_COOKIE
    }
}

fn base_cookie(value: String, secure: bool) -> actix_web::cookie::CookieBuilder<'static> {
    Cookie::build(cookie_name(secure), value)
        .path(if secure {
            HOST_FLOW_COOKIE_PATH
        } else {
            FLOW_COOKIE_PATH
        })
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn flow() -> AuthorizationFlow {
        AuthorizationFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            callback_url: "http://x/auth/google/callback".into(),
        }
    }

    fn request_with(cookie: Cookie<'static>) -> HttpRequest {
        TestRequest::default().cookie(cookie).to_http_request()
    }

    #[test]
    fn a_sealed_cookie_opens_with_its_key_for_its_provider() {
        let key = Key::generate();
        let sealed = FlowCookie::new(Provider::Google, &flow(), Some("app:/cb".into()), 1000)
            .seal(&key, true)
            .unwrap();
        assert!(sealed.http_only().unwrap_or(false));
        assert_eq!(sealed.same_site(), Some(SameSite::Lax));
        assert_eq!(sealed.secure(), Some(true));
        assert_eq!(sealed.max_age(), Some(CookieDuration::seconds(600)));
        // `__Host-`: Secure, Path=/, no Domain — browsers refuse it otherwise.
        assert_eq!(sealed.name(), "__Host-zeropass_flow");
        assert_eq!(sealed.path(), Some("/"));
        assert_eq!(sealed.domain(), None);
        assert!(
            !sealed.value().contains("app:/cb"),
            "the cookie is not encrypted"
        );
        let opened =
            FlowCookie::open(&request_with(sealed), &key, true, Provider::Google, 1100).unwrap();
        assert_eq!(opened.flow(), flow());
        assert_eq!(opened.redirect_uri(), Some("app:/cb"));
        assert_eq!(opened.code_challenge().unwrap(), None);
    }

    #[test]
    fn a_client_challenge_travels_sealed_from_start_to_callback() {
        let key = Key::generate();
        let challenge =
            CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        let sealed = FlowCookie::new(Provider::Google, &flow(), Some("app:/cb".into()), 1000)
            .with_code_challenge(Some(challenge))
            .seal(&key, true)
            .unwrap();
        assert!(!sealed.value().contains("E9Melhoa2Ow"), "not encrypted");
        let opened =
            FlowCookie::open(&request_with(sealed), &key, true, Provider::Google, 1100).unwrap();
        assert_eq!(opened.code_challenge().unwrap(), Some(challenge));
    }

    #[test]
    fn another_key_another_provider_or_an_old_cookie_is_an_invalid_state() {
        let key = Key::generate();
        let sealed = FlowCookie::new(Provider::Google, &flow(), None, 1000)
            .seal(&key, false)
            .unwrap();
        let open = |key: &Key, provider, now| {
            FlowCookie::open(&request_with(sealed.clone()), key, false, provider, now)
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(
            open(&Key::generate(), Provider::Google, 1000),
            Err("invalid_state")
        );
        assert_eq!(open(&key, Provider::Facebook, 1000), Err("invalid_state"));
        assert_eq!(open(&key, Provider::Google, 1601), Err("invalid_state"));
        assert_eq!(open(&key, Provider::Google, 999), Err("invalid_state"));
        assert_eq!(open(&key, Provider::Google, 1600), Ok(()));
    }

    #[test]
    fn a_tampered_or_missing_cookie_is_an_invalid_state() {
        let key = Key::generate();
        let sealed = FlowCookie::new(Provider::Google, &flow(), None, 1000)
            .seal(&key, false)
            .unwrap();
        let mut value = sealed.value().to_owned();
        let last = value.pop().unwrap();
        value.push(if last == 'A' { 'B' } else { 'A' });
        let tampered = Cookie::new(FLOW_COOKIE, value);
        assert!(
            FlowCookie::open(&request_with(tampered), &key, false, Provider::Google, 1000).is_err()
        );
        let none = TestRequest::default().to_http_request();
        assert!(FlowCookie::open(&none, &key, false, Provider::Google, 1000).is_err());
    }

    #[test]
    fn over_plain_http_the_cookie_keeps_its_plain_name_on_the_auth_path() {
        let key = Key::generate();
        let sealed = FlowCookie::new(Provider::Google, &flow(), None, 1000)
            .seal(&key, false)
            .unwrap();
        assert_eq!(sealed.name(), "zeropass_flow");
        assert_eq!(sealed.path(), Some("/auth/"));
        assert_eq!(sealed.secure(), Some(false));
        let removal = FlowCookie::removal(false);
        assert_eq!(
            (removal.name(), removal.path()),
            ("zeropass_flow", Some("/auth/"))
        );
        let removal = FlowCookie::removal(true);
        assert_eq!(
            (removal.name(), removal.path(), removal.secure()),
            ("__Host-zeropass_flow", Some("/"), Some(true))
        );
    }

    #[test]
    fn over_https_an_unprefixed_cookie_is_not_the_flow_cookie() {
        // What a sibling subdomain could plant: `zeropass_flow` with `Domain=.example.com`.
        let key = Key::generate();
        let plain = FlowCookie::new(Provider::Google, &flow(), None, 1000)
            .seal(&key, false)
            .unwrap();
        let opened = FlowCookie::open(&request_with(plain), &key, true, Provider::Google, 1000);
        assert_eq!(
            opened.map(|_| ()).map_err(|e| e.code()),
            Err("invalid_state")
        );
    }
}
