//! Per-client rate limit of the sign-in endpoints (`/auth/*`): a token bucket per remote client
//! IP (local processes are not limited; see `TrustedProxies::rate_limited_client`) —
//! `burst` requests at once, refilled at `per_minute` — answering 429 `rate_limited` with
//! `Retry-After` once spent. The table of buckets is bounded: when it is full, buckets that have
//! refilled completely (clients gone quiet) are dropped; if none have, the oldest are.

use super::Protection;
use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most clients tracked at once (about 40 bytes each).
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// A rate limit: `burst` requests at once, `per_minute` sustained.
#[derive(Clone)]
pub struct RateLimit {
    per_minute: u32,
    burst: u32,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_minute", &self.per_minute)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimit {
    /// `per_minute` sustained requests per client, up to `burst` at once (both at least 1).
    #[must_use]
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
            buckets: Arc::default(),
        }
    }

    /// Takes one request from `client`'s bucket, or says how long until one is available.
    pub(crate) fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            evict(&mut buckets, now, rate, burst);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

fn evict(buckets: &mut HashMap<IpAddr, Bucket>, now: Instant, rate: f64, burst: f64) {
    buckets.retain(|_, bucket| {
        bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * rate < burst
    });
    if buckets.len() >= MAX_TRACKED_CLIENTS {
        let mut ages: Vec<Instant> = buckets.values().map(|bucket| bucket.updated).collect();
        ages.sort_unstable();
        let cutoff = ages[ages.len() / 2];
        buckets.retain(|_, bucket| bucket.updated > cutoff);
    }
}

/// The middleware: only `/auth/*` is limited.
pub(crate) async fn rate_limit(
    state: web::Data<AppState>,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let protection: &Protection = &state.protection;
    let limited = protection
        .auth_rate_limit
        .as_ref()
        .filter(|_| request.path().starts_with("/auth/"))
        .zip(protection.trusted_proxies.rate_limited_client(&request))
        .and_then(|(limit, client)| limit.check(client, Instant::now()).err());
    if let Some(retry_after) = limited {
        let error = ApiError::RateLimited(retry_after.as_secs().max(1));
        return Ok(request
            .into_response(error.error_response())
            .map_into_right_body());
    }
    next.call(request)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_the_bucket_refills() {
        let limit = RateLimit::new(60, 3);
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limit.check(client, start).is_ok());
        }
        let wait = limit.check(client, start).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limit
                .check(client, start + Duration::from_millis(1100))
                .is_ok()
        );
        assert!(
            limit
                .check(client, start + Duration::from_millis(1100))
                .is_err()
        );
    }

    #[test]
    fn clients_have_separate_buckets() {
        let limit = RateLimit::new(60, 1);
        let now = Instant::now();
        assert!(limit.check("198.51.100.1".parse().unwrap(), now).is_ok());
        assert!(limit.check("198.51.100.1".parse().unwrap(), now).is_err());
        assert!(limit.check("198.51.100.2".parse().unwrap(), now).is_ok());
    }

    #[test]
    fn the_table_stays_bounded_under_a_flood_of_addresses() {
        let limit = RateLimit::new(60, 5);
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 1000) {
            let _ = limit.check(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(limit.buckets.lock().unwrap().len() <= MAX_TRACKED_CLIENTS);
    }
}
