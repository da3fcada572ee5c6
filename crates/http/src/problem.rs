//! `ApiError`: every failure the HTTP API can answer, rendered as one RFC 9457
//! `application/problem+json` document with a stable `code`. Domain errors are translated here
//! (and only here) into statuses; 5xx bodies are opaque and their full cause goes to the log.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;
use zeropass_domain::{
    AuthenticationError, BoxError, IdentityError, IssueCodeError, Provider, RedeemCodeError,
    RepositoryError, SignInError,
};

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `WWW-Authenticate` challenge sent with every 401 (RFC 6750).
const BEARER_CHALLENGE: &str = "Bearer realm=\"zeropass\"";
const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"zeropass\", error=\"invalid_token\"";

/// An RFC 9457 problem document, as sent on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:zeropass:problem:invalid_token",
    "title": "Invalid access token",
    "status": 401,
    "detail": "The access token is invalid or has expired.",
    "code": "invalid_token"
}))]
pub struct Problem {
    /// `urn:zeropass:problem:{code}`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Explanation of this occurrence; never contains a secret, a token or internal details.
    pub detail: String,
    /// Stable, machine-readable snake_case code; see docs/api.md.
    pub code: String,
}

/// Everything the API answers with an error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`: the body, query or path is not what the endpoint accepts.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 400 `invalid_state`: the browser flow's cookie or `state` is missing, expired or wrong.
    #[error("invalid flow state: {0}")]
    InvalidState(&'static str),
    /// 400 `redirect_uri_not_allowed`: the client `redirect_uri` is not in the allow-list.
    #[error("redirect_uri not allowed")]
    RedirectUriNotAllowed,
    /// 401 `access_denied`: the person declined (or the provider refused) at the provider.
    #[error("access denied at the provider")]
    AccessDenied,
    /// 401 `missing_token`: no bearer token where one is required.
    #[error("missing bearer token")]
    MissingToken,
    /// 401 `invalid_token`: the bearer token is malformed, not ours, expired, or its user is gone.
    #[error("invalid bearer token: {0}")]
    InvalidToken(String),
    /// 401 `invalid_token`: `Authorization: Bearer Bearer …` — a client (Swagger UI's
    /// *Authorize* dialog is one) added the scheme to a value that already had it. Its own
    /// variant so that the detail can say so.
    #[error("invalid bearer token: the Bearer scheme appears twice")]
    RepeatedBearerScheme,
    /// 401 `invalid_id_token`: the provider's id_token failed verification.
    #[error("invalid id_token: {0}")]
    InvalidIdToken(String),
    /// 401 `invalid_access_token`: the provider's access token is invalid or not for our app.
    #[error("invalid provider access token: {0}")]
    InvalidAccessToken(String),
    /// 401 `invalid_grant`: the provider refused the authorization code.
    #[error("authorization code refused: {0}")]
    InvalidGrant(String),
    /// 400 `invalid_grant` at `POST /auth/token` (RFC 6749 §5.2): the one-time code is
    /// unknown, used or expired, or the verifier does not meet its challenge.
    #[error("one-time code refused: {0}")]
    CodeRefused(&'static str),
    /// 401 `email_not_verified`: the provider does not vouch for the email.
    #[error("email not verified")]
    EmailNotVerified,
    /// 403 `account_disabled`: the user is inactive.
    #[error("account disabled")]
    AccountDisabled,
    /// 403 `cors_origin_not_allowed`: a CORS preflight from an origin not in the allow-list.
    #[error("CORS origin not allowed")]
    CorsOriginNotAllowed,
    /// 429 `rate_limited`: too many sign-in requests from this client; retry after the seconds given.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    /// 404 `not_found`: no such endpoint (or unknown provider).
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `identity_conflict`: the email belongs to another account of this provider.
    #[error("identity conflict")]
    IdentityConflict,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`: the body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422 `email_required`: the provider account has no email.
    #[error("email required")]
    EmailRequired,
    /// 500 `internal_error`: a bug; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// 502 `provider_unavailable`: the identity provider is down, slow or answering garbage.
    #[error("identity provider unavailable")]
    ProviderUnavailable(#[source] BoxError),
    /// 503 `provider_not_configured`: this provider's credentials are not configured.
    #[error("provider {0} not configured")]
    ProviderNotConfigured(Provider),
    /// 503 `database_unavailable`: the user store cannot serve now.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] BoxError),
}

impl ApiError {
    /// The stable `code` of the problem document.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidState(_) => "invalid_state",
            Self::RedirectUriNotAllowed => "redirect_uri_not_allowed",
            Self::AccessDenied => "access_denied",
            Self::MissingToken => "missing_token",
            Self::InvalidToken(_) | Self::RepeatedBearerScheme => "invalid_token",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::InvalidAccessToken(_) => "invalid_access_token",
            Self::InvalidGrant(_) | Self::CodeRefused(_) => "invalid_grant",
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountDisabled => "account_disabled",
            Self::CorsOriginNotAllowed => "cors_origin_not_allowed",
            Self::RateLimited(_) => "rate_limited",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdentityConflict => "identity_conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::EmailRequired => "email_required",
            Self::Internal(_) => "internal_error",
            Self::ProviderUnavailable(_) => "provider_unavailable",
            Self::ProviderNotConfigured(_) => "provider_not_configured",
            Self::DatabaseUnavailable(_) => "database_unavailable",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "Invalid request",
            Self::InvalidState(_) => "Invalid sign-in state",
            Self::RedirectUriNotAllowed => "Redirect URI not allowed",
            Self::AccessDenied => "Access denied",
            Self::MissingToken => "Missing access token",
            Self::InvalidToken(_) | Self::RepeatedBearerScheme => "Invalid access token",
            Self::InvalidIdToken(_) => "Invalid id_token",
            Self::InvalidAccessToken(_) => "Invalid provider access token",
            Self::InvalidGrant(_) => "Authorization code refused",
            Self::CodeRefused(_) => "Code refused",
            Self::EmailNotVerified => "Email not verified",
            Self::AccountDisabled => "Account disabled",
            Self::CorsOriginNotAllowed => "CORS origin not allowed",
            Self::RateLimited(_) => "Too many requests",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::IdentityConflict => "Identity conflict",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::EmailRequired => "Email required",
            Self::Internal(_) => "Internal error",
            Self::ProviderUnavailable(_) => "Identity provider unavailable",
            Self::ProviderNotConfigured(_) => "Identity provider not configured",
            Self::DatabaseUnavailable(_) => "Database unavailable",
        }
    }

    /// What the client is told. Only `InvalidRequest` carries text from the request's parse
    /// error, and that text is built to name fields, never to echo values.
    fn detail(&self) -> String {
        match self {
            Self::InvalidRequest(detail) => detail.clone(),
            Self::InvalidState(_) => "The sign-in attempt is unknown, expired, or does not match this browser. Start again.".into(),
            Self::RedirectUriNotAllowed => "`redirect_uri` is not one of this server's allowed client redirect URIs.".into(),
            Self::AccessDenied => "The sign-in was not completed at the identity provider.".into(),
            Self::MissingToken => "This endpoint requires an `Authorization: Bearer <token>` header.".into(),
            Self::InvalidToken(_) => "The access token is invalid or has expired.".into(),
            Self::RepeatedBearerScheme => "The Authorization header names the Bearer scheme twice (`Bearer Bearer <token>`): send `Bearer <token>`, or paste only the token where a tool adds `Bearer ` itself (Swagger UI's Authorize dialog does).".into(),
            Self::InvalidIdToken(_) => "The id_token could not be verified.".into(),
            Self::InvalidAccessToken(_) => "The provider access token is invalid, expired, or was not issued to this app.".into(),
            Self::InvalidGrant(_) => "The identity provider refused the authorization code.".into(),
            Self::CodeRefused(_) => "The code is unknown, used or expired, or the code_verifier does not match it. Sign in again.".into(),
            Self::EmailNotVerified => "The identity provider has not verified this account's email address.".into(),
            Self::AccountDisabled => "This account is disabled.".into(),
            Self::CorsOriginNotAllowed => "This origin is not allowed to call the API from a browser.".into(),
            Self::RateLimited(seconds) => format!("Too many sign-in requests from this client; retry in {seconds} s."),
            Self::NotFound => "There is nothing at this address.".into(),
            Self::MethodNotAllowed => "This endpoint does not accept this method.".into(),
            Self::IdentityConflict => "This email address already belongs to another account of this provider.".into(),
            Self::PayloadTooLarge => "The request body is too large.".into(),
            Self::UnsupportedMediaType => "The request body must be `application/json`.".into(),
            Self::EmailRequired => "The identity provider account has no email address; zeropass needs one.".into(),
            Self::Internal(_) => "An unexpected error occurred.".into(),
            Self::ProviderUnavailable(_) => "The identity provider could not be reached or answered unexpectedly. Try again later.".into(),
            Self::ProviderNotConfigured(provider) => format!("Sign-in with {provider} is not configured on this server."),
            Self::DatabaseUnavailable(_) => "The database is temporarily unavailable. Try again later.".into(),
        }
    }

    /// The problem document for this error.
    #[must_use]
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:zeropass:problem:{}", self.code()),
            title: self.title().to_owned(),
            status: self.status_code().as_u16(),
            detail: self.detail(),
            code: self.code().to_owned(),
        }
    }

    fn log(&self) {
        if let Self::ProviderNotConfigured(_) = self {
            // A configuration state, announced once at start-up, not a failure of this request.
            tracing::debug!(code = self.code(), error = %self, "request refused");
        } else if self.status_code().is_server_error() {
            tracing::error!(code = self.code(), error = %ErrorChain(self), "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request refused");
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidState(_)
            | Self::RedirectUriNotAllowed
            | Self::CodeRefused(_) => StatusCode::BAD_REQUEST,
            Self::AccessDenied
            | Self::MissingToken
            | Self::InvalidToken(_)
            | Self::RepeatedBearerScheme
            | Self::InvalidIdToken(_)
            | Self::InvalidAccessToken(_)
            | Self::InvalidGrant(_)
            | Self::EmailNotVerified => StatusCode::UNAUTHORIZED,
            Self::AccountDisabled => StatusCode::FORBIDDEN,
            Self::CorsOriginNotAllowed => StatusCode::FORBIDDEN,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdentityConflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::EmailRequired => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ProviderUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::ProviderNotConfigured(_) | Self::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut response = HttpResponse::build(self.status_code());
        response
            .content_type(PROBLEM_JSON)
            .insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::InvalidToken(_) | Self::RepeatedBearerScheme => {
                response.insert_header((header::WWW_AUTHENTICATE, INVALID_TOKEN_CHALLENGE));
            }
            _ if self.status_code() == StatusCode::UNAUTHORIZED => {
                response.insert_header((header::WWW_AUTHENTICATE, BEARER_CHALLENGE));
            }
            Self::DatabaseUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::RateLimited(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

/// Displays an error and its whole `source` chain on one line, for the log.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::Unavailable(source) => Self::DatabaseUnavailable(source),
            RepositoryError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::InvalidIdToken(reason) => Self::InvalidIdToken(reason),
            IdentityError::InvalidAccessToken(reason) => Self::InvalidAccessToken(reason),
            IdentityError::InvalidAuthorizationCode(reason) => Self::InvalidGrant(reason),
            IdentityError::EmailNotVerified => Self::EmailNotVerified,
            IdentityError::EmailRequired => Self::EmailRequired,
            IdentityError::Unavailable(source) => Self::ProviderUnavailable(source),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::Identity(error) => error.into(),
            SignInError::IdentityConflict => Self::IdentityConflict,
            SignInError::AccountDisabled => Self::AccountDisabled,
            SignInError::Repository(error) => error.into(),
            SignInError::Token(error) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<RedeemCodeError> for ApiError {
    fn from(error: RedeemCodeError) -> Self {
        match error {
            RedeemCodeError::InvalidGrant(reason) => Self::CodeRefused(reason),
            RedeemCodeError::AccountDisabled => Self::AccountDisabled,
            RedeemCodeError::Repository(error) => error.into(),
            RedeemCodeError::Token(error) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<IssueCodeError> for ApiError {
    fn from(error: IssueCodeError) -> Self {
        match error {
            IssueCodeError::NoRandomness(source) => Self::Internal(source),
            IssueCodeError::Repository(error) => error.into(),
        }
    }
}

impl From<AuthenticationError> for ApiError {
    fn from(error: AuthenticationError) -> Self {
        match error {
            AuthenticationError::InvalidToken(rejection) => {
                Self::InvalidToken(rejection.to_string())
            }
            AuthenticationError::UserNotFound => {
                Self::InvalidToken("the token's user no longer exists".into())
            }
            AuthenticationError::AccountDisabled => Self::AccountDisabled,
            AuthenticationError::Repository(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn rendered(
        error: ApiError,
    ) -> (
        StatusCode,
        actix_web::http::header::HeaderMap,
        serde_json::Value,
    ) {
        let response = error.error_response();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_problem_document_has_every_rfc9457_member_and_the_code() {
        let (status, headers, body) = rendered(ApiError::IdentityConflict).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        assert_eq!(body["type"], "urn:zeropass:problem:identity_conflict");
        assert_eq!(body["status"], 409);
        assert_eq!(body["code"], "identity_conflict");
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    #[tokio::test]
    async fn every_401_carries_a_bearer_challenge() {
        for error in [
            ApiError::MissingToken,
            ApiError::InvalidToken("x".into()),
            ApiError::InvalidIdToken("x".into()),
            ApiError::InvalidAccessToken("x".into()),
            ApiError::InvalidGrant("x".into()),
            ApiError::EmailNotVerified,
        ] {
            let code = error.code();
            let (status, headers, _) = rendered(error).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{code}");
            let challenge = headers
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap();
            assert!(challenge.starts_with("Bearer"), "{code}: {challenge}");
        }
    }

    #[tokio::test]
    async fn internal_causes_and_rejection_reasons_never_reach_the_body() {
        for error in [
            ApiError::Internal("SELECT * FROM users failed: secret-cause".into()),
            ApiError::DatabaseUnavailable("database is locked: secret-cause".into()),
            ApiError::ProviderUnavailable("connect to 10.0.0.1 failed: secret-cause".into()),
            ApiError::InvalidToken("secret-cause".into()),
            ApiError::InvalidIdToken("secret-cause".into()),
        ] {
            let (_, _, body) = rendered(error).await;
            assert!(!body.to_string().contains("secret-cause"), "{body}");
        }
    }

    #[test]
    fn domain_errors_map_to_the_contract_statuses() {
        let cases: [(ApiError, u16, &str); 11] = [
            (
                RedeemCodeError::InvalidGrant("expired code").into(),
                400,
                "invalid_grant",
            ),
            (
                RedeemCodeError::AccountDisabled.into(),
                403,
                "account_disabled",
            ),
            (
                IssueCodeError::Repository(RepositoryError::Unavailable("locked".into())).into(),
                503,
                "database_unavailable",
            ),
            (
                SignInError::IdentityConflict.into(),
                409,
                "identity_conflict",
            ),
            (SignInError::AccountDisabled.into(), 403, "account_disabled"),
            (
                SignInError::Identity(IdentityError::EmailRequired).into(),
                422,
                "email_required",
            ),
            (
                SignInError::Identity(IdentityError::EmailNotVerified).into(),
                401,
                "email_not_verified",
            ),
            (
                SignInError::Identity(IdentityError::Unavailable("down".into())).into(),
                502,
                "provider_unavailable",
            ),
            (
                SignInError::Repository(RepositoryError::Unavailable("locked".into())).into(),
                503,
                "database_unavailable",
            ),
            (
                AuthenticationError::UserNotFound.into(),
                401,
                "invalid_token",
            ),
            (
                AuthenticationError::Repository(RepositoryError::Unexpected("bug".into())).into(),
                500,
                "internal_error",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!((error.status_code().as_u16(), error.code()), (status, code));
        }
    }
}
