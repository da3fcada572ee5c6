//! The actix-web extractor (feature `actix`): a handler that takes [`Authenticated`] runs only
//! for a request whose `Authorization: Bearer` token the [`Verifier`] registered as
//! `web::Data<Verifier>` accepts. Otherwise the request is answered 401 with
//! `WWW-Authenticate: Bearer` and a small problem+json body, or 503 with `Retry-After` when
//! zeropass's keys are unavailable.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, get, web};
//! use zeropass_verify::{Verifier, actix::Authenticated};
//!
//! #[get("/orders")] // reached only with a valid token
//! async fn orders(user: Authenticated) -> String { format!("orders of {}", user.sub) }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let verifier = web::Data::new(Verifier::new("https://auth.example.com").expect("issuer URL"));
//!     HttpServer::new(move || App::new().app_data(verifier.clone()).service(orders))
//!         .bind("127.0.0.1:8080")?.run().await
//! }
//! ```

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::cache::REFETCH_INTERVAL;
use crate::{Claims, Refusal, Verifier, VerifyError, bearer_token};

/// The claims of the request's verified bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub Claims);

/// The same extractor under the name some codebases prefer.
pub type VerifiedClaims = Authenticated;

impl std::ops::Deref for Authenticated {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

/// Why [`Authenticated`] did not extract: the response it becomes.
#[derive(Debug)]
pub enum AuthError {
    /// The token was refused or the keys were unavailable.
    Verify(VerifyError),
    /// No `web::Data<Verifier>` is registered: a wiring mistake, answered 500.
    NoVerifier,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(error) => error.fmt(f),
            Self::NoVerifier => f.write_str("no web::Data<zeropass_verify::Verifier> registered"),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Verify(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            Self::NoVerifier => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let Self::Verify(error) = self else {
            tracing::error!("{self}");
            return HttpResponse::InternalServerError().finish();
        };
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CONTENT_TYPE, "application/problem+json"));
        if let Some(challenge) = error.www_authenticate() {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        } else {
            response.insert_header((RETRY_AFTER, REFETCH_INTERVAL.to_string()));
        }
        response.body(error.problem_json())
    }
}

impl FromRequest for Authenticated {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = request
            .app_data::<web::Data<Verifier>>()
            .map(|data| Verifier::clone(data));
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        Box::pin(async move {
            let verifier = verifier.ok_or(AuthError::NoVerifier)?;
            let token = token.ok_or(AuthError::Verify(Refusal::NoBearerToken.into()))?;
            match verifier.verify(&token).await {
                Ok(claims) => Ok(Self(claims)),
                Err(error) => {
                    tracing::debug!(%error, "bearer token not accepted");
                    Err(AuthError::Verify(error))
                }
            }
        })
    }
}
