//! zeropass's own access tokens: the [`AccessTokens`](zeropass_domain::AccessTokens) port
//! implemented with JSON Web Tokens, in two flavours chosen by `JWT_ALGORITHM`.
//! [`JwtAccessTokens`] signs HS256 with `JWT_SECRET` ([`JwtSecret`] keeps it out of logs).
//! [`KeyRingAccessTokens`] signs ES256 (P-256) or EdDSA (Ed25519) with the current key of the
//! stored key ring, verifies with any published key, and lists those keys for the JWKS;
//! [`RingKeyGenerator`] makes those keys with `ring` and seals their private halves
//! (AES-256-GCM under a key derived from `JWT_SECRET`). Either way a token is issued at every
//! sign-in and verified on every authenticated call with the algorithm, issuer and audience
//! pinned and every claim type checked, by the same claim rules.
//!
//! The claims are part of the external contract: `sub` (user id), `email`, `provider`, `iat`,
//! `exp`, `iss` (= `PUBLIC_URL`), `aud` (= [`AUDIENCE`]) and `jti`.

mod claim_rules;
mod claims;
mod header;
mod hmac_tokens;
mod hmac_verifier;
mod key_generator;
mod key_pairs;
mod key_ring_tokens;
#[cfg(test)]
mod props;
mod sealing;
mod secret;
#[cfg(test)]
mod test_support;
mod token_cache;

pub use claims::{AUDIENCE, LEEWAY_SECONDS};
pub use hmac_tokens::{JwtAccessTokens, JwtConfig};
pub use key_generator::RingKeyGenerator;
pub use key_ring_tokens::{InstallKeysError, KeyRingAccessTokens, KeyRingConfig};
pub use secret::{JwtSecret, MIN_SECRET_BYTES, RandomnessUnavailable, SecretTooShort};
