//! Google as zeropass's identity provider: [`GoogleIdentityProvider`] implements the domain's
//! [`IdentityProvider`](zeropass_domain::IdentityProvider) port with OpenID Connect — provider
//! metadata discovered from `{issuer}/.well-known/openid-configuration` (with `openidconnect`),
//! the authorization-code flow with S256 PKCE and a nonce (with `oauth2`), and id_tokens from
//! both doors (the redirect flow and native apps) verified against Google's JWKS per OpenID
//! Connect Core 3.1.3.7.
//!
//! Google is never trusted to be up or well-behaved: building the adapter does no I/O, every
//! call has connect and total timeouts and a response-size cap, discovery is retried at most
//! every few seconds until it succeeds, the JWKS is refreshed after the `max-age` Google gives
//! it (bounded by [`JWKS_MIN_MAX_AGE`] and [`JWKS_MAX_MAX_AGE`]) so that a withdrawn key stops
//! being trusted, and an unknown key id refetches the JWKS at most once per
//! [`JWKS_REFETCH_INTERVAL`]. Whatever goes wrong upstream surfaces as
//! [`IdentityError::Unavailable`](zeropass_domain::IdentityError::Unavailable); whatever is
//! wrong with a token as `InvalidIdToken` (or `EmailNotVerified`), with a reason for the log
//! that never contains the token, a code, a secret or an email.

mod clock;
mod config;
mod http_client;
mod keys;
mod metadata;
mod oauth;
mod provider;
mod signing_key;
mod verify;

#[doc(hidden)]
pub use clock::Clock;
#[doc(hidden)]
pub use config::Tuning;
pub use config::{
    CONNECT_TIMEOUT, DISCOVERY_RETRY_INTERVAL, GOOGLE_ISSUER, GoogleConfig, GoogleSetupError,
    JWKS_DEFAULT_MAX_AGE, JWKS_MAX_MAX_AGE, JWKS_MIN_MAX_AGE, JWKS_REFETCH_INTERVAL,
    LEEWAY_SECONDS, MAX_RESPONSE_BYTES, TOTAL_TIMEOUT,
};
pub use provider::GoogleIdentityProvider;

#[cfg(test)]
mod tests;
