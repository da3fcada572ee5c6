//! The OpenAPI document, assembled from the `#[utoipa::path]` annotations beside each handler,
//! and `GET /openapi.json`, which serves it. This module gathers the handlers; none of them
//! needs it (the Swagger UI in `routes::docs` only knows the document's URL), so no import
//! circle.

use crate::dto::{
    CodeTokenRequest, FacebookTokenRequest, GoogleTokenRequest, HealthReport, JwkResponse, JwkSet,
    ProviderName, TokenResponse, UserResponse,
};
use crate::metrics;
use crate::problem::Problem;
use crate::routes::{docs, health, jwks, sign_in, token, users};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// zeropass's OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "zeropass",
        description = "Zero-password sign-in: Google or Facebook vouches for the person, zeropass issues its own short-lived access token. \
            Every error is an RFC 9457 `application/problem+json` document with a stable `code`."
    ),
    paths(
        health::health,
        metrics::metrics,
        jwks::jwks,
        sign_in::google_start,
        sign_in::google_callback,
        sign_in::google_token,
        sign_in::facebook_start,
        sign_in::facebook_callback,
        sign_in::facebook_token,
        token::code_token,
        users::get_me,
        users::delete_me,
        openapi_json,
        docs::docs_page,
        docs::root,
    ),
    components(schemas(Problem, UserResponse, TokenResponse, GoogleTokenRequest, FacebookTokenRequest, CodeTokenRequest, HealthReport, ProviderName, JwkSet, JwkResponse)),
    modifiers(&BearerSecurity),
    tags(
        (name = "sign-in", description = "Sign in with an identity provider: browser redirect flow or native app credential."),
        (name = "users", description = "The signed-in user's own record."),
        (name = "operations", description = "Health, the public signing keys (JWKS) and documentation."),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the user endpoints refer to.
struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document.", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.as_str())
}
