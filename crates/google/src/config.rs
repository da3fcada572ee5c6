//! What the Google adapter is told (client credentials, issuer, extra audiences) and the fixed
//! limits it works within (timeouts, response-size cap, retry and refetch intervals, clock
//! leeway). The limits are constants; [`Tuning`] only exists so tests can shorten them.

use crate::clock::Clock;
use secrecy::SecretString;
use std::fmt;
use std::time::Duration;
use thiserror::Error;
use url::Url;
use zeropass_outbound_http::{Limits, check_scheme};

/// The issuer Google's own tokens name; its legacy scheme-less form is accepted too.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The scheme-less `iss` Google documents as equivalent to [`GOOGLE_ISSUER`].
const GOOGLE_ISSUER_ALIAS: &str = "accounts.google.com";

/// The limits of every call to Google (connect and total timeouts, response-size cap) are
/// those of zeropass's bounded outbound client; the total timeout is also the deadline of every
/// operation of the adapter (discovery + exchange + key refetch together), so a sign-in never
/// waits on Google for longer than it.
pub use zeropass_outbound_http::{CONNECT_TIMEOUT, MAX_RESPONSE_BYTES, TOTAL_TIMEOUT};
/// After a failed discovery, the next attempt waits at least this long (calls in between fail
/// fast as unavailable instead of each hitting Google).
pub const DISCOVERY_RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// An id_token with an unknown `kid` refetches the JWKS at most once per this interval,
/// however many such tokens arrive.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// The JWKS is refreshed once the `Cache-Control: max-age` of its last answer has passed, but
/// never sooner than this after a fetch, whatever the answer says (`max-age=0`, `no-store`):
/// an issuer cannot turn every sign-in into a JWKS fetch.
pub const JWKS_MIN_MAX_AGE: Duration = Duration::from_secs(5);
/// ... and never later than this: a key Google withdrew stops being trusted within a day even
/// if an answer asked to be cached for longer.
pub const JWKS_MAX_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a JWKS answer without a usable `max-age` is used before it is refreshed.
pub const JWKS_DEFAULT_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Clock skew tolerated on `exp` and `iat`, in seconds (the same as zeropass's own tokens).
pub const LEEWAY_SECONDS: i64 = 30;

const _: () = assert!(LEEWAY_SECONDS <= 30, "the leeway must stay at 30 s or less");

/// The Google OAuth client zeropass signs people in with.
#[derive(Clone)]
pub struct GoogleConfig {
    /// The web client id (`GOOGLE_CLIENT_ID`): the `client_id` of the redirect flow and an
    /// accepted `aud` at both doors.
    pub client_id: String,
    /// The web client's secret (`GOOGLE_CLIENT_SECRET`), sent only to the token endpoint.
    pub client_secret: SecretString,
    /// The OpenID Connect issuer (`GOOGLE_ISSUER_URL`); discovery is read from
    /// `{issuer_url}/.well-known/openid-configuration` and must name this same issuer.
    pub issuer_url: Url,
    /// Further client ids (`GOOGLE_EXTRA_AUDIENCES`: iOS, Android) accepted as `aud` of
    /// id_tokens that native apps post; never used in the redirect flow.
    pub extra_audiences: Vec<String>,
}

/// Redacted: the secret never reaches a log.
impl fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("issuer_url", &self.issuer_url.as_str())
            .field("extra_audiences", &self.extra_audiences)
            .finish()
    }
}

/// Why the adapter could not be built. Nothing here depends on Google being reachable.
#[derive(Debug, Error)]
pub enum GoogleSetupError {
    /// `client_id` is empty.
    #[error("the Google client id is empty")]
    EmptyClientId,
    /// The issuer URL cannot be an OpenID Connect issuer.
    #[error("the Google issuer URL is not usable: {0}")]
    InvalidIssuer(&'static str),
    /// The HTTP client could not be built (TLS initialisation).
    #[error("the HTTP client for Google could not be built")]
    HttpClient(#[source] zeropass_domain::BoxError),
}

/// The adapter's limits. Production uses [`Tuning::default`] (the constants of this module);
/// tests shorten them so that a timeout or a retry does not take seconds.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Tuning {
    /// See [`CONNECT_TIMEOUT`], [`TOTAL_TIMEOUT`] and [`MAX_RESPONSE_BYTES`].
    pub limits: Limits,
    /// See [`DISCOVERY_RETRY_INTERVAL`].
    pub discovery_retry_interval: Duration,
    /// See [`JWKS_REFETCH_INTERVAL`].
    pub jwks_refetch_interval: Duration,
    /// The clock of the key cache; tests move it forward.
    pub clock: Clock,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            discovery_retry_interval: DISCOVERY_RETRY_INTERVAL,
            jwks_refetch_interval: JWKS_REFETCH_INTERVAL,
            clock: Clock::default(),
        }
    }
}

/// The issuer as tokens and discovery spell it: `url::Url` adds a `/` to a bare host
/// (`https://accounts.google.com/`), which no `iss` carries, so a root path is dropped.
///
/// # Errors
/// [`GoogleSetupError::InvalidIssuer`] for anything but an `http(s)` URL with a host and no
/// query or fragment, and for plain `http` to a host other than loopback.
pub(crate) fn issuer_identifier(url: &Url) -> Result<String, GoogleSetupError> {
    check_scheme(url).map_err(GoogleSetupError::InvalidIssuer)?;
    if url.host().is_none() {
        return Err(GoogleSetupError::InvalidIssuer("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(GoogleSetupError::InvalidIssuer(
            "an issuer has no query, fragment or user info",
        ));
    }
    let raw = url.as_str();
    Ok(if url.path() == "/" {
        raw.trim_end_matches('/').to_owned()
    } else {
        raw.to_owned()
    })
}

/// The `iss` values accepted for a configured issuer: Google's both spellings for Google,
/// exactly the configured one for anything else.
pub(crate) fn accepted_issuers(issuer: &str) -> Vec<String> {
    let mut accepted = vec![issuer.to_owned()];
    if issuer == GOOGLE_ISSUER {
        accepted.push(GOOGLE_ISSUER_ALIAS.to_owned());
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn the_issuer_loses_the_slash_url_adds_to_a_bare_host() {
        assert_eq!(
            issuer_identifier(&url("https://accounts.google.com")).unwrap(),
            "https://accounts.google.com"
        );
        assert_eq!(
            issuer_identifier(&url("https://accounts.google.com/")).unwrap(),
            "https://accounts.google.com"
        );
        assert_eq!(
            issuer_identifier(&url("https://id.example.com/tenant")).unwrap(),
            "https://id.example.com/tenant"
        );
        assert_eq!(
            issuer_identifier(&url("http://127.0.0.1:4321")).unwrap(),
            "http://127.0.0.1:4321"
        );
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        assert!(issuer_identifier(&url("http://accounts.google.com")).is_err());
        assert!(issuer_identifier(&url("http://localhost:9")).is_ok());
        assert!(issuer_identifier(&url("http://[::1]:9")).is_ok());
        assert!(issuer_identifier(&url("ftp://accounts.google.com")).is_err());
        assert!(issuer_identifier(&url("https://accounts.google.com/?x=1")).is_err());
    }

    #[test]
    fn google_accepts_both_issuer_spellings_and_others_only_their_own() {
        assert_eq!(
            accepted_issuers("https://accounts.google.com"),
            ["https://accounts.google.com", "accounts.google.com"]
        );
        assert_eq!(
            accepted_issuers("http://127.0.0.1:4321"),
            ["http://127.0.0.1:4321"]
        );
    }

    #[test]
    fn debug_output_does_not_show_the_client_secret() {
        let config = GoogleConfig {
            client_id: "web-client".into(),
            client_secret: SecretString::from("very-secret-value"),
            issuer_url: url(GOOGLE_ISSUER),
            extra_audiences: vec!["ios-client".into()],
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains(config.client_secret.expose_secret()));
        assert!(shown.contains("web-client"));
    }
}
