//! CORS for an exact list of browser origins (`CORS_ALLOWED_ORIGINS`; none by default). An
//! allowed origin gets `Access-Control-Allow-Origin` echoing it (never `*`, never credentials:
//! zeropass's tokens travel in `Authorization`, not cookies) and answered preflights; any other
//! origin gets no CORS headers, so browsers keep its pages from reading responses, and its
//! preflights are refused with 403 `cors_origin_not_allowed`.

use super::Protection;
use crate::problem::ApiError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

const ALLOWED_METHODS: &str = "GET, POST, DELETE";
const ALLOWED_HEADERS: [&str; 3] = ["authorization", "content-type", "x-request-id"];
const EXPOSED_HEADERS: &str = "x-request-id, www-authenticate, retry-after";
/// How long browsers may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Browser origins (`scheme://host[:port]`) allowed to call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// The allowed origins, compared exactly (ASCII case-insensitively, as origins are).
    #[must_use]
    pub fn new(origins: Vec<String>) -> Self {
        Self(
            origins
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        )
    }

    fn allows(&self, origin: &str) -> bool {
        self.0
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }
}

/// The middleware.
pub(crate) async fn cors(
    protection: web::Data<Protection>,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        return next
            .call(request)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let allowed = origin
        .to_str()
        .is_ok_and(|origin| protection.cors_origins.allows(origin));
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let response = if allowed && preflight_is_acceptable(&request) {
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    ALLOWED_HEADERS.join(", "),
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE))
                .insert_header((header::VARY, "Origin"))
                .finish()
        } else {
            ApiError::CorsOriginNotAllowed.error_response()
        };
        return Ok(request.into_response(response).map_into_right_body());
    }
    let mut response = next.call(request).await?;
    if allowed {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response.map_into_left_body())
}

fn preflight_is_acceptable(request: &ServiceRequest) -> bool {
    let method_ok = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|method| ALLOWED_METHODS.split(", ").any(|allowed| allowed == method));
    let headers_ok = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|requested| {
            requested
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .all(|name| {
                    ALLOWED_HEADERS
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(name))
                })
        });
    method_ok && headers_ok
}
