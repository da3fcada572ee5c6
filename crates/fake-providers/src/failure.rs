//! Scripted misbehaviour shared by every fake provider: instead of its normal answer, an
//! endpoint can fail with a status, garbage, a delay or an oversized body, so tests can check
//! that zeropass treats a broken provider as unavailable rather than hanging or crashing.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

/// How an endpoint misbehaves (see `FakeGoogle::set_failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this HTTP status and a short text body (an invalid code becomes 500).
    Status(u16),
    /// Answer 200 with `Content-Type: application/json` and a body that is not JSON.
    Garbage,
    /// Wait this long (without blocking the fake's other requests), then answer normally.
    Delay(Duration),
    /// Answer 200 with a JSON body of [`Failure::HUGE_BODY_BYTES`] bytes.
    Huge,
}

impl Failure {
    /// Size of the body a [`Failure::Huge`] endpoint sends: 10 MiB.
    pub const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;

    /// Waits out a [`Failure::Delay`] and returns `None` (answer normally), or returns the bad
    /// answer to send instead of the normal one.
    pub(crate) async fn apply(&self) -> Option<HttpResponse> {
        match self {
            Self::Status(code) => {
                let status =
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Some(HttpResponse::build(status).body("fake provider: scripted failure"))
            }
            Self::Garbage => Some(
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body("<html><body>this is not JSON {\"keys\": [</body></html>"),
            ),
            Self::Delay(delay) => {
                actix_web::rt::time::sleep(*delay).await;
                None
            }
            Self::Huge => {
                let (open, close) = ("{\"padding\":\"", "\"}");
                let padding = "a".repeat(Self::HUGE_BODY_BYTES - open.len() - close.len());
                Some(
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(format!("{open}{padding}{close}")),
                )
            }
        }
    }
}
