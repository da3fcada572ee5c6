//! `/auth/{provider}/...`: the two doors of sign-in. Native apps post a credential they
//! obtained from the provider's SDK (`POST /auth/{provider}/token`); browsers go through the
//! redirect flow (`start`, then the provider sends them back to `callback`). Every endpoint of
//! a provider whose credentials are not configured answers 503 `provider_not_configured`
//! before looking at anything else in the request.

use super::browser;
use super::no_store;
use crate::dto::{
    CallbackQuery, FacebookTokenRequest, GoogleTokenRequest, StartQuery, TokenResponse,
};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use zeropass_domain::{NativeCredential, Provider};

/// Signs in with a Google id_token a native app obtained itself.
#[utoipa::path(
    post,
    path = "/auth/google/token",
    tag = "sign-in",
    request_body = GoogleTokenRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 400, description = "The body is not the expected JSON (`invalid_request`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The id_token is invalid or its email unverified (`invalid_id_token`, `email_not_verified`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email belongs to another Google account known here (`identity_conflict`).", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`payload_too_large`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json` (`unsupported_media_type`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 502, description = "Google is unavailable (`provider_unavailable`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Google sign-in is not configured, or the database is unavailable (`provider_not_configured`, `database_unavailable`).",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn google_token(
    state: web::Data<AppState>,
    body: Result<web::Json<GoogleTokenRequest>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    native_sign_in(
        &state,
        Provider::Google,
        body.map(|json| json.into_inner().into()),
    )
    .await
}

/// Signs in with a Facebook user access token a native app obtained itself.
#[utoipa::path(
    post,
    path = "/auth/facebook/token",
    tag = "sign-in",
    request_body = FacebookTokenRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 400, description = "The body is not the expected JSON (`invalid_request`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The access token is invalid, expired or for another app (`invalid_access_token`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email belongs to another Facebook account known here (`identity_conflict`).", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`payload_too_large`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json` (`unsupported_media_type`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Facebook account has no email (`email_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 502, description = "Facebook is unavailable (`provider_unavailable`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Facebook sign-in is not configured, or the database is unavailable (`provider_not_configured`, `database_unavailable`).",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn facebook_token(
    state: web::Data<AppState>,
    body: Result<web::Json<FacebookTokenRequest>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    native_sign_in(
        &state,
        Provider::Facebook,
        body.map(|json| json.into_inner().into()),
    )
    .await
}

/// The body is extracted as a `Result` so that an unconfigured provider answers 503 even to a
/// malformed body: the contract puts that check before any other.
async fn native_sign_in(
    state: &AppState,
    provider: Provider,
    credential: Result<NativeCredential, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let identity_provider = state.providers.get(provider)?;
    let credential = match credential {
        Ok(credential) => credential,
        Err(error) => return Ok(error.error_response()),
    };
    let signed_in = state
        .sign_in
        .with_native_credential(identity_provider, &credential)
        .await
        .map_err(ApiError::from);
    state.metrics.count_sign_in_result(provider, &signed_in);
    let signed_in = signed_in?;
    Ok(no_store(&mut HttpResponse::Ok()).json(TokenResponse::from(signed_in)))
}

/// Starts a browser sign-in with Google.
#[utoipa::path(
    get,
    path = "/auth/google/start",
    tag = "sign-in",
    params(StartQuery),
    responses(
        (status = 302, description = "Redirect to Google, with the flow cookie set."),
        (status = 400, description = "`redirect_uri` is not allowed (`redirect_uri_not_allowed`); `code_challenge` without `redirect_uri`, without `code_challenge_method=S256` or malformed, or the query is otherwise malformed (`invalid_request`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 502, description = "Google's metadata is unavailable (`provider_unavailable`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Google sign-in is not configured (`provider_not_configured`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn google_start(
    state: web::Data<AppState>,
    query: Result<web::Query<StartQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    browser::start(&state, Provider::Google, query).await
}

/// Starts a browser sign-in with Facebook.
#[utoipa::path(
    get,
    path = "/auth/facebook/start",
    tag = "sign-in",
    params(StartQuery),
    responses(
        (status = 302, description = "Redirect to the Facebook login dialog, with the flow cookie set."),
        (status = 400, description = "`redirect_uri` is not allowed (`redirect_uri_not_allowed`); `code_challenge` without `redirect_uri`, without `code_challenge_method=S256` or malformed, or the query is otherwise malformed (`invalid_request`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 503, description = "Facebook sign-in is not configured (`provider_not_configured`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn facebook_start(
    state: web::Data<AppState>,
    query: Result<web::Query<StartQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    browser::start(&state, Provider::Facebook, query).await
}

/// Where Google sends the browser back.
#[utoipa::path(
    get,
    path = "/auth/google/callback",
    tag = "sign-in",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 303, description = "Signed in (or refused): redirect to the flow's client `redirect_uri` — with a one-time code in its query (`?code=`, or `?error=<problem code>`) when `start` had a `code_challenge`, else with the token (or `error`) in the fragment."),
        (status = 400, description = "Missing, expired or mismatched flow cookie or state (`invalid_state`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The person declined, or the code or id_token was refused (`access_denied`, `invalid_grant`, `invalid_id_token`, `email_not_verified`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`identity_conflict`.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 502, description = "Google is unavailable (`provider_unavailable`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Google sign-in is not configured (`provider_not_configured`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn google_callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<CallbackQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    browser::callback(&request, &state, Provider::Google, query).await
}

/// Where Facebook sends the browser back.
#[utoipa::path(
    get,
    path = "/auth/facebook/callback",
    tag = "sign-in",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 303, description = "Signed in (or refused): redirect to the flow's client `redirect_uri` — with a one-time code in its query (`?code=`, or `?error=<problem code>`) when `start` had a `code_challenge`, else with the token (or `error`) in the fragment."),
        (status = 400, description = "Missing, expired or mismatched flow cookie or state (`invalid_state`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The person declined, or the code or token was refused (`access_denied`, `invalid_grant`, `invalid_access_token`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`identity_conflict`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Facebook account has no email (`email_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 502, description = "Facebook is unavailable (`provider_unavailable`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Facebook sign-in is not configured (`provider_not_configured`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn facebook_callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<CallbackQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    browser::callback(&request, &state, Provider::Facebook, query).await
}
