//! The tower layer (feature `tower`) for axum, hyper and tonic services: [`VerifyLayer`]
//! verifies each request's `Authorization: Bearer` token and passes the request on with the
//! [`Claims`] in its extensions (axum: `Extension<Claims>`), or answers itself — 401 with
//! `WWW-Authenticate: Bearer` and a small problem+json body, 503 with `Retry-After` when
//! zeropass's keys are unavailable — without calling the inner service.

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{Layer, Service};

use crate::cache::REFETCH_INTERVAL;
use crate::{Claims, Refusal, Verifier, VerifyError, bearer_token};

/// Wraps a service so that it only sees requests with a verified token.
#[derive(Debug, Clone)]
pub struct VerifyLayer {
    verifier: Verifier,
}

impl VerifyLayer {
    /// A layer verifying with `verifier`.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> VerifyService<S> {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`VerifyLayer`] produces.
#[derive(Debug, Clone)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for VerifyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready is the one that must be called (tower's rule).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let verifier = self.verifier.clone();
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        Box::pin(async move {
            let verified = match token {
                Some(token) => verifier.verify(&token).await,
                None => Err(Refusal::NoBearerToken.into()),
            };
            match verified {
                Ok(claims) => {
                    request.extensions_mut().insert::<Claims>(claims);
                    inner.call(request).await
                }
                Err(error) => {
                    tracing::debug!(%error, "bearer token not accepted");
                    Ok(error_response(&error))
                }
            }
        })
    }
}

/// The 401 or 503 answer for `error`.
fn error_response<B: From<String>>(error: &VerifyError) -> Response<B> {
    let mut response = Response::new(B::from(error.problem_json()));
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    match error.www_authenticate() {
        Some(challenge) => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        None => {
            headers.insert(RETRY_AFTER, HeaderValue::from(REFETCH_INTERVAL));
        }
    }
    response
}
