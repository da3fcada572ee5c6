//! zeropass's own access tokens: the [`AccessTokens`](zeropass_domain::AccessTokens) port
//! implemented with HS256 JSON Web Tokens. [`JwtAccessTokens`] issues a token at every sign-in
//! and verifies the one presented on every authenticated call, with the algorithm, issuer and
//! audience pinned and every claim type checked; [`JwtSecret`] keeps the HMAC key out of logs.
//!
//! The claims are part of the external contract: `sub` (user id), `email`, `provider`, `iat`,
//! `exp`, `iss` (= `PUBLIC_URL`), `aud` (= [`AUDIENCE`]) and `jti`.

mod claim_rules;
mod claims;
mod header;
mod hmac_tokens;
mod hmac_verifier;
#[cfg(test)]
mod props;
mod secret;

pub use claims::{AUDIENCE, LEEWAY_SECONDS};
pub use hmac_tokens::{JwtAccessTokens, JwtConfig};
pub use secret::{JwtSecret, MIN_SECRET_BYTES, RandomnessUnavailable, SecretTooShort};
