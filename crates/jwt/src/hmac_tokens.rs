//! `JwtAccessTokens`: the HS256 `AccessTokens` adapter. Keys, header and verifier are built once in
//! `new`, because every authenticated request verifies a token. Verification trusts nothing
//! the token says about itself: the algorithm is pinned to HS256 whatever the header claims,
//! every claim we issue is required with its exact type, and every failure is reduced to a
//! short fixed reason that never quotes the token, its claims or the key (the rules are in
//! [`crate::hmac_verifier`]).

use crate::claim_rules::Rejection;
use crate::claims::Claims;
use crate::hmac_verifier::Verifier;
use crate::secret::JwtSecret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::fmt;
use std::time::Duration;
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{
    AccessTokenClaims, AccessTokens, IssueTokenError, IssuedToken, TokenRejection, User,
};

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
    header: Header,
    verifier: Verifier,
    issuer: String,
    ttl_seconds: u64,
}

impl JwtAccessTokens {
    /// Builds the adapter, deriving its signing key and its keyed verifier from the secret
    /// (which is consumed). Both are as sensitive as the secret itself: they live as long as
    /// the adapter and are left out of its `Debug`.
    #[must_use]
    pub fn new(config: JwtConfig) -> Self {
        // jsonwebtoken 11 picks its crypto backend from crate features at the first use and
        // panics if feature unification left it none or two. Installing ours explicitly makes
        // that impossible; `Err` only means a backend was installed already, which is fine.
        let _already_installed =
            jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

        let secret = config.secret.expose();
        let header = Header::new(Algorithm::HS256);
        // What jsonwebtoken writes as the first segment; should it ever differ, the verifier
        // parses the header instead of recognising it, and nothing else changes.
        let issued_header_segment = serde_json::to_vec(&header)
            .ok()
            .map(|json| URL_SAFE_NO_PAD.encode(json));

        Self {
            encoding_key: EncodingKey::from_secret(secret),
            verifier: Verifier::new(secret, issued_header_segment, config.issuer.clone()),
            header,
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
        self.verifier
            .verify(token, Utc::now().timestamp())
            .map_err(|rejection| match rejection {
                Rejection::Expired => TokenRejection::Expired,
                Rejection::Invalid(reason) => invalid(reason),
            })
    }
}

/// The configured lifetime does not fit in a timestamp.
#[derive(Debug, Error)]
#[error("the access token lifetime is too long to compute an expiry")]
struct LifetimeTooLong;

fn invalid(reason: &str) -> TokenRejection {
    TokenRejection::Invalid(reason.to_owned())
}

#[cfg(test)]
mod tests;
