//! The `AccessTokens` port: zeropass's own short-lived access tokens, issued at sign-in and
//! checked on every authenticated call.

use crate::error::BoxError;
use crate::user::{User, UserId};
use thiserror::Error;

/// A freshly issued access token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The encoded token, to be sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Redacted: a token is a credential.
impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What a verified access token says; only its `sub` is trusted to name a user, the rest is
/// informational (the user's current state is always read from the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// Unique id of this token (`jti`).
    pub token_id: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: i64,
}

/// The token could not be issued.
#[derive(Debug, Error)]
#[error("the access token could not be issued")]
pub struct IssueTokenError(#[source] pub BoxError);

/// Why a presented token is not accepted. The variants only serve logs and metrics: every one
/// is answered with the same 401, so a client learns nothing about which check failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenRejection {
    /// Past its `exp` (beyond the leeway).
    #[error("the access token has expired")]
    Expired,
    /// Anything else: malformed, wrong signature or algorithm, wrong or missing claims.
    #[error("the access token is invalid: {0}")]
    Invalid(String),
}

/// One public key of the JSON Web Key Set (`GET /.well-known/jwks.json`), with exactly the
/// members the contract allows: `kid`, `alg`, `use` (always `sig`), `kty`, `crv`, `x` and, for
/// `EC` keys only, `y` (RFC 7518 §6.2, RFC 8037 §2). Never a private member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// The key id, as in the headers of the tokens it signs.
    pub kid: String,
    /// `ES256` or `EdDSA`.
    pub alg: &'static str,
    /// `EC` or `OKP`.
    pub kty: &'static str,
    /// `P-256` or `Ed25519`.
    pub crv: &'static str,
    /// The x coordinate (EC) or the public key (OKP), unpadded base64url.
    pub x: String,
    /// The y coordinate, unpadded base64url (EC only).
    pub y: Option<String>,
}

/// Issues and verifies access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccessTokens: Send + Sync {
    /// Issues a token for this user, valid for the configured lifetime.
    ///
    /// # Errors
    /// [`IssueTokenError`] if encoding fails (an adapter bug or a broken key).
    fn issue(&self, user: &User) -> Result<IssuedToken, IssueTokenError>;

    /// Verifies a presented token: it MUST check the signature with the pinned algorithm, that
    /// the issuer and audience are ours, and that it has not expired, and MUST fail rather than
    /// guess when a claim is missing or of the wrong type.
    ///
    /// # Errors
    /// [`TokenRejection`] for any token that is not one of ours and current.
    fn verify(&self, token: &str) -> Result<AccessTokenClaims, TokenRejection>;

    /// The public keys other services verify tokens with (the JWKS), from memory: every key
    /// that may sign or may have signed a still-valid token, and nothing else. Empty for a
    /// symmetric algorithm (HS256), whose key is secret.
    fn published_keys(&self) -> Vec<PublicJwk> {
        Vec::new()
    }
}
