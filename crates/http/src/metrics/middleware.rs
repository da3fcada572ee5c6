//! The HTTP latency histogram, fed by a middleware around the whole app. The `route` label is
//! the pattern of the resource the request matched (`/users/me`, `/auth/google/token`), never
//! the path as sent; a request that matched none is `unmatched`.

use super::{Metrics, UNMATCHED_ROUTE};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, web};
use std::time::Instant;

/// Times every request into `zeropass_http_requests_duration_seconds`, recording into the
/// app's `web::Data<Metrics>` (requests pass untouched when there is none). Wrap it
/// outermost (last `.wrap`) so it sees the status the client receives.
pub(crate) fn metrics_middleware<S, B>() -> impl Transform<
    S,
    ServiceRequest,
    Response = ServiceResponse<impl MessageBody>,
    Error = Error,
    InitError = (),
>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    from_fn(time_request)
}

async fn time_request<B: MessageBody>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let Some(metrics) = request.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(request).await;
    };
    let started = Instant::now();
    let method = method_label(request.method());
    // Read before routing (from the app's resource map): the request is consumed by the call,
    // and an error result carries no request to ask afterwards.
    let route = request.match_pattern();
    let result = next.call(request).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    metrics.observe_request(
        route.as_deref().unwrap_or(UNMATCHED_ROUTE),
        method,
        status,
        started.elapsed(),
    );
    result
}

/// The standard methods by name; anything else (extension methods are free-form) is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
