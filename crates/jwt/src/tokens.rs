//! `JwtAccessTokens`: the `AccessTokens` adapter. Keys, header and validation rules are built
//! once in `new`, because every authenticated request verifies a token. Verification trusts
//! nothing the token says about itself: the algorithm is pinned to HS256 whatever the header
//! claims, `exp`, `iss`, `aud` and `sub` are required, and every failure is reduced to a short
//! fixed reason that never quotes the token, its claims or the key.

use crate::claims::Claims;
use crate::secret::JwtSecret;
use chrono::Utc;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::fmt;
use std::time::Duration;
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{
    AccessTokenClaims, AccessTokens, IssueTokenError, IssuedToken, TokenRejection, User,
};

/// The `aud` of every token zeropass issues, and the only one it accepts.
pub const AUDIENCE: &str = "zeropass";

/// Seconds a token is still accepted after its `exp` (and before an `nbf`). Tokens are
/// verified by whichever server instance takes the request, not always by the one that issued
/// them, and two hosts' clocks may disagree by a few seconds even under NTP; without a leeway
/// a token could be refused before the lifetime it was issued with is over. Thirty seconds
/// absorbs that drift while adding almost nothing to a stolen token's useful life.
pub const LEEWAY_SECONDS: u64 = 30;
// More would turn the leeway into a silent extension of every token's lifetime.
const _: () = assert!(LEEWAY_SECONDS <= 30, "the leeway must stay at 30 s or less");

/// The claims `verify` requires to be present (jsonwebtoken only checks `iss` and `aud` when
/// they are there, unless they are listed here). `jti` and the others are required by
/// [`Claims`] itself.
const REQUIRED_CLAIMS: [&str; 4] = ["exp", "iss", "aud", "sub"];

/// What the adapter needs: the key, who we are, and how long tokens live.
#[derive(Debug)]
pub struct JwtConfig {
    /// The HS256 key (`JWT_SECRET`).
    pub secret: JwtSecret,
    /// The `iss` written into and required of every token: `PUBLIC_URL`.
    pub issuer: String,
    /// Lifetime of issued tokens (`JWT_TTL_SECONDS`); whole seconds, a fraction is dropped.
    pub ttl: Duration,
}

/// Issues and verifies zeropass's HS256 access tokens.
pub struct JwtAccessTokens {
    encoding_key: EncodingKey,
    decoding_key: DecodingKey,
    header: Header,
    validation: Validation,
    issuer: String,
    ttl_seconds: u64,
}

impl JwtAccessTokens {
    /// Builds the adapter, deriving its signing and verifying keys from the secret (which is
    /// consumed: only the keys, zeroed on drop, keep the bytes).
    #[must_use]
    pub fn new(config: JwtConfig) -> Self {
        // jsonwebtoken 11 picks its crypto backend from crate features at the first use and
        // panics if feature unification left it none or two. Installing ours explicitly makes
        // that impossible; `Err` only means a backend was installed already, which is fine.
        let _already_installed =
            jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

        let secret = config.secret.expose();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&REQUIRED_CLAIMS);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_aud = true;
        // We never issue `nbf`, but one that is present is honoured (RFC 7519 §4.1.5).
        validation.validate_nbf = true;

        Self {
            encoding_key: EncodingKey::from_secret(secret),
            decoding_key: DecodingKey::from_secret(secret),
            header: Header::new(Algorithm::HS256),
            validation,
            issuer: config.issuer,
            ttl_seconds: config.ttl.as_secs(),
        }
    }
}

/// Keys left out: they are the secret.
impl fmt::Debug for JwtAccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAccessTokens")
            .field("issuer", &self.issuer)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl AccessTokens for JwtAccessTokens {
    fn issue(&self, user: &User) -> Result<IssuedToken, IssueTokenError> {
        let issued_at = Utc::now().timestamp();
        let expires_at = i64::try_from(self.ttl_seconds)
            .ok()
            .and_then(|ttl| issued_at.checked_add(ttl))
            .ok_or_else(|| IssueTokenError(Box::new(LifetimeTooLong)))?;
        let claims = Claims::new(user, &self.issuer, issued_at, expires_at, Uuid::new_v4());
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding_key)
            .map_err(|error| IssueTokenError(Box::new(error)))?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl_seconds,
        })
    }

    fn verify(&self, token: &str) -> Result<AccessTokenClaims, TokenRejection> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding_key, &self.validation)
            .map_err(rejection)?;
        // RFC 7515 §4.1.11: an extension listed as critical must be understood, and we
        // understand none (jsonwebtoken ignores `crit`).
        if data.header.crit.is_some() {
            return Err(invalid("critical header extension"));
        }
        data.claims.into_verified().map_err(invalid)
    }
}

/// The configured lifetime does not fit in a timestamp.
#[derive(Debug, Error)]
#[error("the access token lifetime is too long to compute an expiry")]
struct LifetimeTooLong;

fn invalid(reason: &str) -> TokenRejection {
    TokenRejection::Invalid(reason.to_owned())
}

/// Reduces jsonwebtoken's error to our two outcomes. The reasons are fixed strings: the
/// library's own messages can quote parts of the token (a serde error names the value it
/// refused), and the token is a credential.
fn rejection(error: JwtError) -> TokenRejection {
    let reason = match error.kind() {
        ErrorKind::ExpiredSignature => return TokenRejection::Expired,
        ErrorKind::InvalidToken => "not three dot-separated segments",
        ErrorKind::Base64(_) => "a segment is not base64url",
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            "malformed header or claims (missing or mistyped)"
        }
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm => "algorithm not allowed",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidClaimFormat(_) => "a claim has the wrong type",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::ImmatureSignature => "not valid yet",
        _ => "rejected by the JWT library",
    };
    invalid(reason)
}

#[cfg(test)]
mod tests;
