//! The one HTTP client zeropass's identity-provider adapters (Google, Facebook) call out
//! through: a `reqwest` client with connect and total timeouts and no redirects, whose
//! response bodies are read chunk by chunk and abandoned as soon as they grow past a cap, so a
//! slow or hostile provider can neither hang a sign-in nor make zeropass buffer an unbounded
//! body. It also holds the rules both adapters apply to a provider URL (https, or plain http to
//! a loopback host only; no proxy for loopback) and the way an upstream failure becomes
//! [`IdentityError::Unavailable`] with a message that never carries a response body — nor a
//! request URL, for a provider whose URLs carry secrets ([`UrlsInErrors::Withheld`]).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::fmt;
use std::time::Duration;
use thiserror::Error;
use url::Url;
use zeropass_domain::IdentityError;

/// Longest wait for a TCP + TLS connection to a provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest any one call to a provider may take, body included.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read from a provider; reading stops as soon as a body grows past it.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

const _: () = assert!(
    TOTAL_TIMEOUT.as_secs() <= 10,
    "the contract caps provider calls at 10 s"
);

/// The limits of one client. Production uses [`Limits::default`] (the constants above);
/// tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// See [`TOTAL_TIMEOUT`].
    pub total_timeout: Duration,
    /// See [`MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: CONNECT_TIMEOUT,
            total_timeout: TOTAL_TIMEOUT,
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// Whether a transport error may name the URL it failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlsInErrors {
    /// The provider's URLs are public (Google's discovery, JWKS and token endpoints): naming
    /// them helps whoever reads the log.
    Quoted,
    /// The provider's URLs carry secrets in their query (the Graph API's app secret, access
    /// tokens, proofs): errors are stripped of them.
    Withheld,
}

/// Why a call produced no usable HTTP response.
#[derive(Debug, Error)]
pub enum HttpError {
    /// The request could not be built from what the caller prepared.
    #[error("the request could not be built")]
    Request(#[source] reqwest::Error),
    /// Connecting, sending or reading failed, or took longer than the timeouts. Under
    /// [`UrlsInErrors::Withheld`] the error has been stripped of its URL.
    #[error("{}", describe(.0))]
    Transport(#[source] reqwest::Error),
    /// The provider answered with a server error: whatever the body says, it is not available.
    #[error("the server answered {0}")]
    ServerError(StatusCode),
    /// The body grew past the cap.
    #[error("the response body exceeds {0} bytes")]
    TooLarge(usize),
}

/// A short description of a transport failure, naming its URL only if the error still has one.
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "failed while reading the body"
    } else {
        "failed"
    };
    match error.url() {
        Some(url) => format!("the request to {url} {what}"),
        None => format!("the request {what}"),
    }
}

/// An upstream failure as a plain message: the source kept inside
/// [`IdentityError::Unavailable`], so that whatever logs it later sees the whole chain but
/// never a response body (a token response could hold tokens).
#[derive(Debug, Error)]
#[error("{0}")]
pub struct Upstream(String);

/// [`IdentityError::Unavailable`] for `error`, described as `context: error: its source: ...`.
pub fn unavailable(context: &str, error: &dyn std::error::Error) -> IdentityError {
    let mut message = format!("{context}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    IdentityError::Unavailable(Box::new(Upstream(message)))
}

/// [`IdentityError::Unavailable`] with a fixed description.
pub fn unavailable_because(reason: &str) -> IdentityError {
    IdentityError::Unavailable(Box::new(Upstream(reason.to_owned())))
}

/// Whether the URL points at this machine (127.0.0.0/8, `localhost`, `[::1]`).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The scheme rule of every provider URL: `https`, or plain `http` to a loopback host (tests,
/// local fakes) only.
///
/// # Errors
/// A short reason, for the caller's own setup error.
pub fn check_scheme(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("plain http is accepted only for loopback hosts"),
        _ => Err("the scheme must be https"),
    }
}

/// A response of at most the capped size, with a status below 500.
#[derive(Clone)]
pub struct Response {
    /// The HTTP status (2xx, 3xx or 4xx).
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Redacted: a provider's response body can hold a token.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A bounded HTTP client for one provider. Cheap to clone (reqwest shares its pool).
#[derive(Clone)]
pub struct BoundedClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
    urls_in_errors: UrlsInErrors,
}

impl fmt::Debug for BoundedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .field("urls_in_errors", &self.urls_in_errors)
            .finish_non_exhaustive()
    }
}

impl BoundedClient {
    /// Builds the client for a provider at `target`. A loopback `target` (tests, local
    /// development) bypasses any proxy from the environment, which could not reach this
    /// machine's loopback.
    ///
    /// # Errors
    /// When reqwest cannot initialise (TLS).
    pub fn new(
        limits: &Limits,
        target: &Url,
        urls_in_errors: UrlsInErrors,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            .user_agent(concat!("zeropass/", env!("CARGO_PKG_VERSION")));
        if is_loopback(target) {
            builder = builder.no_proxy();
        }
        Ok(Self {
            inner: builder.build().map_err(reqwest::Error::without_url)?,
            max_response_bytes: limits.max_response_bytes,
            urls_in_errors,
        })
    }

    fn transport(&self, error: reqwest::Error) -> HttpError {
        HttpError::Transport(match self.urls_in_errors {
            UrlsInErrors::Quoted => error,
            UrlsInErrors::Withheld => error.without_url(),
        })
    }

    /// Sends one `GET` asking for JSON (once: nothing here retries).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn get_json(&self, url: Url) -> Result<Response, HttpError> {
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        request.headers_mut().insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        self.send(request).await
    }

    /// Sends one request (once: nothing here retries) and reads at most the capped size of
    /// its body.
    ///
    /// # Errors
    /// [`HttpError`] on transport failures and timeouts, 5xx answers and oversized bodies.
    pub async fn send(&self, request: reqwest::Request) -> Result<Response, HttpError> {
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|error| self.transport(error))?;
        let cap = self.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > u64::try_from(cap).unwrap_or(u64::MAX))
        {
            return Err(HttpError::TooLarge(cap));
        }
        let status = response.status();
        if status.is_server_error() {
            return Err(HttpError::ServerError(status));
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport(error))?
        {
            if body.len().saturating_add(chunk.len()) > cap {
                return Err(HttpError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests;
