//! Verify zeropass access tokens in another Rust service with nothing secret: zeropass (with
//! `JWT_ALGORITHM` = `ES256` or `EdDSA`) publishes its public keys at
//! `{PUBLIC_URL}/.well-known/jwks.json`, and a [`Verifier`] fetches, caches and refreshes that
//! set and checks each token against it — `alg` pinned to the key's published `alg` (only
//! ES256 and EdDSA are accepted at all), `kid` required, `iss` and `aud` exact, `exp` and
//! `nbf` with at most 30 s of leeway, `sub` a user id — returning typed [`Claims`] or a
//! [`VerifyError`] that separates a refused token (401) from unavailable keys (503).
//!
//! Caching (see [`REFETCH_INTERVAL`] and friends): a fetched set is fresh for its
//! `Cache-Control: max-age` (30 s to 1 h; 300 s without one); an unknown `kid` triggers a
//! refetch, at most one fetch per 30 s however many requests ask; each fetch is bounded in
//! time and size; if a refresh fails the expired set stays in use for a while
//! ([`VerifierBuilder::stale_for`]) with a warning in the log. Tokens never reach the log.
//!
//! ```no_run
//! # async fn example(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = zeropass_verify::Verifier::new("https://auth.example.com")?;
//! let claims = verifier.verify(token).await?;
//! println!("user {} signed in with {}", claims.sub, claims.provider);
//! # Ok(())
//! # }
//! ```
//!
//! Features: `actix` adds the extractor [`Authenticated`](actix::Authenticated), `tower` adds
//! [`VerifyLayer`](tower::VerifyLayer) for axum and other tower-based servers.
//!
//! This crate depends on no other zeropass crate: a service that verifies tokens should not
//! compile zeropass's storage, providers or web layer, and its only contract with zeropass
//! is the published one (the token claims and the JWKS format).

mod bearer;
mod cache;
mod claims;
mod clock;
mod error;
mod fetch;
mod keys;
mod verifier;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "tower")]
pub mod tower;

pub use bearer::bearer_token;
pub use cache::{DEFAULT_MAX_AGE, MAX_MAX_AGE, MIN_MAX_AGE, REFETCH_INTERVAL};
pub use claims::Claims;
pub use clock::{Clock, SystemClock};
pub use error::{FetchError, Refusal, VerifyError};
pub use verifier::{
    BuildError, DEFAULT_AUDIENCE, DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_JWKS_BYTES, DEFAULT_STALE_FOR,
    MAX_LEEWAY, Verifier, VerifierBuilder,
};
