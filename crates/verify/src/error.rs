//! Why a token was not accepted, split the way an HTTP service must answer: a [`Refusal`]
//! means the token is no good (401, the client should sign in again), while
//! [`VerifyError::KeysUnavailable`] means this service could not learn zeropass's keys
//! (503, nobody's token can be judged right now). No message here carries the token, a claim
//! value or a key: they are safe to log and, for refusals, to show the client.

use std::time::Duration;
use thiserror::Error;

/// The outcome of a failed [`Verifier::verify`](crate::Verifier::verify).
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The token is not acceptable. Answer 401.
    #[error("token refused: {0}")]
    Refused(#[from] Refusal),
    /// zeropass's key set could not be fetched and no usable cached copy exists. Answer 503.
    #[error("zeropass's signing keys are unavailable: {0}")]
    KeysUnavailable(FetchError),
}

impl VerifyError {
    /// Whether the token itself was refused (as opposed to the keys being unavailable).
    #[must_use]
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }

    /// The HTTP status to answer with: 401 for a refusal, 503 when the keys are unavailable.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Refused(_) => 401,
            Self::KeysUnavailable(_) => 503,
        }
    }

    /// The `WWW-Authenticate` header a 401 carries (RFC 6750 §3): a bare challenge when no
    /// token was sent, `invalid_token` otherwise; `None` for a 503.
    #[must_use]
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            Self::Refused(Refusal::NoBearerToken) => Some("Bearer"),
            Self::Refused(_) => Some("Bearer error=\"invalid_token\""),
            Self::KeysUnavailable(_) => None,
        }
    }

    /// A small RFC 9457 `application/problem+json` body for this error. A refusal says why
    /// (the reasons are fixed sentences); unavailability says nothing about the cause, which
    /// is for the log, not the client.
    #[must_use]
    pub fn problem_json(&self) -> String {
        let (title, code, detail) = match self {
            Self::Refused(refusal) => ("Unauthorized", "invalid_token", refusal.to_string()),
            Self::KeysUnavailable(_) => (
                "Service Unavailable",
                "keys_unavailable",
                "the keys that sign access tokens cannot be fetched right now".to_owned(),
            ),
        };
        serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": self.status(),
            "code": code,
            "detail": detail,
        })
        .to_string()
    }
}

/// Why a token was refused.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The request carried no `Authorization: Bearer` token (middleware only).
    #[error("no bearer token was sent")]
    NoBearerToken,
    /// Not three base64url parts with a JSON header, or an algorithm jsonwebtoken does not
    /// know (`alg: none` ends here).
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// A known algorithm other than ES256 and EdDSA (HS256 among them).
    #[error("the token's algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The header marks extensions as critical (`crit`); zeropass uses none.
    #[error("the token requires header extensions this verifier does not support")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("the token does not name its key")]
    MissingKeyId,
    /// The `kid` is not in zeropass's published key set.
    #[error("the token's key is not published by the issuer")]
    UnknownKey,
    /// The header's `alg` is not the `alg` its key is published with.
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify with the key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// A claim zeropass always writes is missing or of the wrong JSON type.
    #[error("the token's claims are malformed")]
    MalformedClaims,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// `exp` has passed by more than the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is further ahead than the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `sub` is not a user id as zeropass writes them.
    #[error("the token's subject is not a user id")]
    InvalidSubject,
    /// `jti` is not a token id as zeropass writes them.
    #[error("the token's id is malformed")]
    InvalidTokenId,
}

/// Why zeropass's key set could not be fetched.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Connecting, sending or reading failed.
    #[error("the JWKS request failed: {0}")]
    Transport(reqwest::Error),
    /// The whole fetch, body included, took longer than the fetch timeout.
    #[error("the JWKS request took longer than {0:?}")]
    Timeout(Duration),
    /// The endpoint answered something other than 200.
    #[error("the JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body was larger than the configured maximum.
    #[error("the JWKS is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not a JSON object with a `keys` array.
    #[error("the JWKS is not a JSON key set: {0}")]
    NotAKeySet(serde_json::Error),
    /// No usable copy is cached and the last attempt failed too recently to try again (one
    /// attempt per refetch interval, so that an outage is not met with a fetch per request).
    #[error("the last JWKS fetch failed less than {0} s ago; not retrying yet")]
    RetryLater(u64),
}
