//! `POST /auth/token`: an app exchanges the one-time code the browser flow sent to its
//! `redirect_uri`, with the PKCE verifier only it holds, for an access token.

use super::no_store;
use crate::dto::{CodeTokenRequest, TokenResponse};
use crate::json_or_form::JsonOrForm;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// The only grant this endpoint knows (RFC 6749 §4.1.3).
const AUTHORIZATION_CODE: &str = "authorization_code";

/// Exchanges a one-time code and its PKCE verifier for an access token.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "sign-in",
    request_body(
        description = "The one-time code and the PKCE verifier, as JSON or form-encoded (as OAuth 2.0 client libraries send it).",
        content(
            (CodeTokenRequest = "application/json"),
            (CodeTokenRequest = "application/x-www-form-urlencoded"),
        )
    ),
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 400, description = "The body is not the expected shape or `grant_type` is not `authorization_code` (`invalid_request`); the code is unknown, used or expired, or the verifier does not match it (`invalid_grant`; the code is spent).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`payload_too_large`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is neither `application/json` nor `application/x-www-form-urlencoded` (`unsupported_media_type`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-in requests from this client (`rate_limited`); retry after `Retry-After` seconds.",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 503, description = "The database is unavailable (`database_unavailable`).", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
    )
)]
pub async fn code_token(
    state: web::Data<AppState>,
    body: JsonOrForm<CodeTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let JsonOrForm(request) = body;
    if request.grant_type != AUTHORIZATION_CODE {
        return Err(ApiError::InvalidRequest(
            "`grant_type` must be `authorization_code`.".into(),
        ));
    }
    let signed_in = state
        .code_grant()?
        .redeem(&request.code, &request.code_verifier)
        .await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(TokenResponse::from(signed_in)))
}
