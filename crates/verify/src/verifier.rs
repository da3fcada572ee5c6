//! [`Verifier`]: one zeropass issuer's tokens checked against its published keys, and
//! [`VerifierBuilder`], the few settings a service may change. The order of the checks is
//! deliberate: the header's `alg` must be ES256 or EdDSA before any key is looked up (so
//! `alg: none` and HS256 never reach a key), the `kid` names the key, the key's published
//! `alg` must equal the header's (the algorithm comes from zeropass, not from the token),
//! the signature is checked by `jsonwebtoken`, and only then are the claims read and compared
//! with this verifier's clock.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use url::{Host, Url};

use crate::cache::KeyCache;
use crate::claims::{Claims, Expected, RawClaims};
use crate::clock::{Clock, SystemClock};
use crate::error::{Refusal, VerifyError};
use crate::fetch::Fetcher;

/// The audience zeropass writes into every token.
pub const DEFAULT_AUDIENCE: &str = "zeropass";
/// The leeway on `exp` and `nbf`, and its maximum: zeropass's own verifier allows the same 30
/// seconds of clock drift between hosts, and more would silently lengthen every token's life.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);
/// The default bound on one JWKS fetch, connection and body included.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The default bound on a JWKS body; zeropass's sets are a few hundred bytes.
pub const DEFAULT_MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long an expired key set is still used while refreshing it fails.
pub const DEFAULT_STALE_FOR: Duration = Duration::from_secs(600);
/// Tokens longer than this are refused unread; zeropass's are well under 1 KiB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why a [`Verifier`] could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The issuer or JWKS URL is not an absolute URL.
    #[error("{what} is not a valid URL: {source}")]
    InvalidUrl {
        /// Which URL.
        what: &'static str,
        /// Why.
        source: url::ParseError,
    },
    /// The JWKS URL is neither `https` nor plain `http` to a loopback address: keys fetched
    /// over plain HTTP could be replaced by anyone on the path.
    #[error("the JWKS URL must use https (plain http only to a loopback address): {0}")]
    InsecureJwksUrl(Url),
    /// The leeway asked for exceeds [`MAX_LEEWAY`].
    #[error("the leeway may be at most {} s", MAX_LEEWAY.as_secs())]
    LeewayTooLong,
    /// A zero fetch timeout or body cap would make every fetch fail.
    #[error("the fetch timeout and the maximum JWKS size must be positive")]
    ZeroLimit,
    /// The HTTP client could not be set up (no TLS roots, for instance).
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(reqwest::Error),
}

/// Settings for a [`Verifier`]; start from [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    issuer: String,
    jwks_url: Option<String>,
    audience: String,
    leeway: Duration,
    fetch_timeout: Duration,
    max_jwks_bytes: usize,
    stale_for: Duration,
    clock: Arc<dyn Clock>,
}

impl VerifierBuilder {
    /// Fetch the keys from `url` instead of `{issuer}/.well-known/jwks.json` (a gateway, an
    /// internal address). Tokens must still carry the issuer as `iss`.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// The `aud` tokens must carry exactly (default [`DEFAULT_AUDIENCE`]).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The leeway on `exp` and `nbf` (default and maximum [`MAX_LEEWAY`]).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The bound on one JWKS fetch (default [`DEFAULT_FETCH_TIMEOUT`]).
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The bound on a JWKS body (default [`DEFAULT_MAX_JWKS_BYTES`]).
    #[must_use]
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = bytes;
        self
    }

    /// How long an expired key set is still used while refreshing it fails (default
    /// [`DEFAULT_STALE_FOR`]; zero turns stale use off).
    #[must_use]
    pub fn stale_for(mut self, period: Duration) -> Self {
        self.stale_for = period;
        self
    }

    /// The clock for expiry and caching decisions (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The verifier. No request is made yet: the keys are fetched on the first `verify`.
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn build(self) -> Result<Verifier, BuildError> {
        if self.leeway > MAX_LEEWAY {
            return Err(BuildError::LeewayTooLong);
        }
        if self.fetch_timeout.is_zero() || self.max_jwks_bytes == 0 {
            return Err(BuildError::ZeroLimit);
        }
        // zeropass's PUBLIC_URL has no trailing slash, and `iss` is compared exactly.
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        Url::parse(&issuer).map_err(|source| BuildError::InvalidUrl {
            what: "the issuer",
            source,
        })?;
        let jwks_url = match &self.jwks_url {
            Some(url) => Url::parse(url).map_err(|source| BuildError::InvalidUrl {
                what: "the JWKS URL",
                source,
            })?,
            None => Url::parse(&format!("{issuer}/.well-known/jwks.json")).map_err(|source| {
                BuildError::InvalidUrl {
                    what: "the issuer",
                    source,
                }
            })?,
        };
        let loopback = is_loopback(&jwks_url);
        if !(jwks_url.scheme() == "https" || jwks_url.scheme() == "http" && loopback) {
            return Err(BuildError::InsecureJwksUrl(jwks_url));
        }
        let fetcher = Fetcher::new(jwks_url, loopback, self.fetch_timeout, self.max_jwks_bytes)
            .map_err(BuildError::HttpClient)?;
        let cache = KeyCache::new(fetcher, Arc::clone(&self.clock), self.stale_for.as_secs());
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer,
                audience: self.audience,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(0),
                clock: self.clock,
                cache,
            }),
        })
    }
}

/// Whether `url` points at this host (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

/// Verifies the access tokens of one zeropass issuer from its published keys. Cheap to clone
/// (clones share the key cache); build one per issuer at start-up and share it.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    leeway: i64,
    clock: Arc<dyn Clock>,
    cache: KeyCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("leeway", &self.inner.leeway)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the default settings for the zeropass whose `PUBLIC_URL` is
    /// `issuer_url` (its keys at `{issuer_url}/.well-known/jwks.json`).
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn new(issuer_url: &str) -> Result<Self, BuildError> {
        Self::builder(issuer_url).build()
    }

    /// Settings for a verifier of the zeropass whose `PUBLIC_URL` is `issuer_url`.
    #[must_use]
    pub fn builder(issuer_url: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer_url.into(),
            jwks_url: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: MAX_LEEWAY,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_jwks_bytes: DEFAULT_MAX_JWKS_BYTES,
            stale_for: DEFAULT_STALE_FOR,
            clock: Arc::new(SystemClock),
        }
    }

    /// The `iss` tokens must carry.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The claims of `token` (the bare JWT, without `Bearer `) if zeropass signed it with a
    /// published ES256 or EdDSA key and it is meant for this audience and still valid.
    ///
    /// # Errors
    /// [`VerifyError::Refused`] with the reason, or [`VerifyError::KeysUnavailable`] when
    /// zeropass's keys cannot be had (see the crate documentation on caching).
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Malformed.into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::EdDSA) {
            return Err(Refusal::AlgorithmNotAllowed.into());
        }
        // RFC 7515 §4.1.11: extensions marked critical must be understood; we know none, and
        // zeropass marks none. (`jku`, `jwk` and `x5u` are simply ignored: keys come only from
        // the configured JWKS URL.)
        if header.crit.is_some() {
            return Err(Refusal::CriticalHeader.into());
        }
        let kid = header.kid.ok_or(Refusal::MissingKeyId)?;
        let key = self.inner.cache.key(&kid).await?;
        if key.algorithm != header.alg {
            return Err(Refusal::AlgorithmMismatch.into());
        }

        // jsonwebtoken checks the signature (and the algorithm once more); the claims are
        // checked below against our clock, so its own time and claim checks are off.
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation).map_err(|error| {
                match error.kind() {
                    ErrorKind::InvalidSignature => Refusal::BadSignature,
                    ErrorKind::Json(_) | ErrorKind::Utf8(_) => Refusal::MalformedClaims,
                    _ => Refusal::Malformed,
                }
            })?;
        let now = i64::try_from(self.inner.clock.now()).unwrap_or(i64::MAX);
        let claims = data.claims.check(&Expected {
            issuer: &self.inner.issuer,
            audience: &self.inner.audience,
            leeway: self.inner.leeway,
            now,
        })?;
        Ok(claims)
    }
}
