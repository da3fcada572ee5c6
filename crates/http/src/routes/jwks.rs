//! `GET /.well-known/jwks.json`: the public keys other services verify zeropass's tokens with
//! (RFC 7517), answered from the memory of the access-token adapter — no database, no
//! signing, so it is cheap to poll. Under HS256 the set is empty: the secret is never published.

use crate::dto::JwkSet;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// How long a verifier may cache the key set (`Cache-Control: public, max-age`), in seconds.
/// The signing-key rules use the same figure, so a new key is published at least this long
/// before it signs and a retired one stays this long after its last token expired.
pub const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// The key set of this instance.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    responses(
        (status = 200, description = "The public keys that may sign, or may have signed a still-valid token (empty under HS256). \
            Cache it for `max-age`; fetch it again when a token names an unknown `kid`.",
            body = JwkSet, content_type = "application/json",
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECONDS}"),
        ))
        .json(JwkSet::from(state.tokens.published_keys()))
}
