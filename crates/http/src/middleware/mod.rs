//! Cross-cutting request handling, outside the handlers: a request id on every request and log
//! line, security headers on every response, CORS for an exact list of browser origins, and a
//! per-client rate limit on the sign-in endpoints. Their settings live in [`Protection`].

mod client_ip;
mod cors;
mod rate_limit;
mod request_id;
mod security_headers;

pub use client_ip::{InvalidProxy, TrustedProxies};
pub use cors::CorsOrigins;
pub(crate) use cors::cors;
pub use rate_limit::RateLimit;
pub(crate) use rate_limit::rate_limit;
pub(crate) use request_id::request_id;
pub(crate) use security_headers::security_headers;

/// The abuse and browser settings of the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// Browser origins allowed to call the API (`CORS_ALLOWED_ORIGINS`).
    pub cors_origins: CorsOrigins,
    /// The per-client limit on `/auth/*`; `None` disables it.
    pub auth_rate_limit: Option<RateLimit>,
}
