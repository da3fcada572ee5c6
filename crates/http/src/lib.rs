//! zeropass's HTTP layer: actix-web routes that turn requests into use-case calls and results
//! into JSON — and every failure into an RFC 9457 problem document with a stable `code`.
//!
//! It is thin on purpose: no SQL, no HTTP client, no token parsing here. Build [`AppState`]
//! from any adapters (real ones, or the domain crate's mocks) and serve [`app`].

mod app;
mod bare_errors;
mod bearer;
mod dto;
mod flow;
mod instrumented;
mod json_or_form;
mod metrics;
mod middleware;
mod openapi;
mod problem;
mod request_context;
mod routes;
mod state;

pub use app::{app, metrics_app};
pub use bare_errors::MAX_JSON_BODY_BYTES;
pub use bearer::MAX_AUTHORIZATION_HEADER_BYTES;
pub use dto::UserResponse;
pub use flow::BrowserFlow;
pub use instrumented::InstrumentedProvider;
pub use metrics::{Metrics, PoolStateFn};
pub use middleware::{CorsOrigins, InvalidProxy, Protection, RateLimit, TrustedProxies};
pub use openapi::ApiDoc;
pub use problem::{ApiError, PROBLEM_JSON, Problem};
pub use request_context::RequestContext;
pub use routes::jwks::JWKS_MAX_AGE_SECONDS;
pub use state::AppState;

#[cfg(test)]
mod app_tests;
#[cfg(test)]
mod browser_tests;
#[cfg(test)]
mod protection_tests;
