//! Every request gets an id — the caller's `X-Request-Id` when it is a sane token, else a fresh
//! one of ours — sent back in the response and made the current [`RequestContext`], so every
//! log line the request causes names it. A caller-chosen id is limited in length and alphabet so it cannot
//! forge log lines.

use crate::request_context::RequestContext;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header carrying the id, both ways.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest caller-chosen id accepted.
const MAX_REQUEST_ID_LENGTH: usize = 128;

/// The middleware.
pub(crate) async fn request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_acceptable(value))
        .map_or_else(fresh_id, str::to_owned);
    // Both id spellings are visible ASCII (checked, or ours): this cannot fail.
    let header = HeaderValue::from_str(&id).ok();
    let context = RequestContext::new(id, request.method().clone(), request.uri().clone());
    let mut response = context.scope(next.call(request)).await?;
    if let Some(value) = header {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// A new id: this process's random 64-bit prefix, a dash, and a counter, in hex. Unique within
/// the process and, by the prefix, across instances; it needs no system call per request (a
/// random UUID took one, 2% of `/users/me`'s time), and its order tells which came first.
fn fresh_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        // Without the OS's randomness (never seen), the start time and process id still
        // tell instances apart.
        getrandom::u64().unwrap_or_else(|_| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos());
            #[allow(clippy::cast_possible_truncation)] // only the low bits are wanted
            let nanos = nanos as u64;
            nanos ^ u64::from(std::process::id()).rotate_left(40)
        })
    });
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}-{sequence:x}")
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LENGTH
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_tokens_are_taken_from_the_caller() {
        assert!(is_acceptable("3f2a-11ee.b:7_x"));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("line\nbreak"));
        assert!(!is_acceptable(&"a".repeat(129)));
    }

    #[test]
    fn fresh_ids_share_the_process_prefix_count_up_and_would_be_accepted_back() {
        let (a, b) = (fresh_id(), fresh_id());
        assert_ne!(a, b);
        let (prefix_a, sequence_a) = a.split_once('-').unwrap();
        let (prefix_b, sequence_b) = b.split_once('-').unwrap();
        assert_eq!(prefix_a, prefix_b);
        assert_eq!(prefix_a.len(), 16);
        let (first, second) = (
            u64::from_str_radix(sequence_a, 16).unwrap(),
            u64::from_str_radix(sequence_b, 16).unwrap(),
        );
        assert!(second > first, "{a} then {b}");
        assert!(is_acceptable(&a) && is_acceptable(&b));
    }
}
