//! `/users/me`: the signed-in user reads or erases their own record.

use super::no_store;
use crate::bearer::BearerToken;
use crate::dto::UserResponse;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// The user the bearer token belongs to.
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user.", body = UserResponse),
        (status = 401, description = "Missing, invalid or expired token, or the user no longer exists (`missing_token`, `invalid_token`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_me(
    state: web::Data<AppState>,
    token: BearerToken,
) -> Result<HttpResponse, ApiError> {
    let user = state.current_user.authenticate(token.as_str()).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(UserResponse::from(&user)))
}

/// Erases the user the bearer token belongs to; the token stops working.
#[utoipa::path(
    delete,
    path = "/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The user's record is deleted."),
        (status = 401, description = "Missing, invalid or expired token, or the user no longer exists (`missing_token`, `invalid_token`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable (`database_unavailable`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_me(
    state: web::Data<AppState>,
    token: BearerToken,
) -> Result<HttpResponse, ApiError> {
    state.current_user.delete(token.as_str()).await?;
    Ok(no_store(&mut HttpResponse::NoContent()).finish())
}
