//! The handlers, one module per area. Each is thin: extract, call a use case, map to a DTO.

mod browser;
pub mod docs;
pub mod health;
pub mod jwks;
pub mod sign_in;
pub mod token;
pub mod users;

use actix_web::HttpResponseBuilder;
use actix_web::http::header;

/// Marks a response that carries a token or user data as never to be stored by any cache.
pub(crate) fn no_store(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
}
