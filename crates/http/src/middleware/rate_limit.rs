//! Per-client rate limit of the sign-in endpoints (the routed `/auth` scope, whatever the
//! path's spelling): a token bucket per remote client — an IPv4 address, or an IPv6 /64, the
//! block one host usually owns (local processes are not limited; see
//! `TrustedProxies::rate_limited_client`) — `burst` requests at once, refilled at
//! `per_minute`, answering 429 `rate_limited` with `Retry-After` once spent. The table of
//! buckets is bounded: when it is full, buckets that have refilled completely (clients gone
//! quiet) are dropped; if none have, the oldest are.

use super::Protection;
use crate::problem::ApiError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
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

    /// Takes one request from `client`'s bucket (its [`bucket_key`]), or says how long until
    /// one is available.
    pub(crate) fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = bucket_key(client);
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

/// The bucket a client counts against: its IPv4 address, or the /64 network of its IPv6
/// address. One host is commonly handed a whole /64 (SLAAC, privacy addresses) and can pick
/// a fresh address in it for every request; a bucket per address would limit nobody. An
/// IPv4-mapped IPv6 address (a dual-stack listener) is its IPv4 address.
fn bucket_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(address) => IpAddr::V6(Ipv6Addr::from(u128::from(address) & (u128::MAX << 64))),
        IpAddr::V4(address) => IpAddr::V4(address),
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

/// The middleware, wrapped around the `/auth` scope (so after routing: every request that
/// reaches a sign-in handler passes here, however its path was spelt).
pub(crate) async fn rate_limit(
    protection: web::Data<Protection>,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = protection
        .auth_rate_limit
        .as_ref()
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
    fn an_ipv6_client_is_limited_by_its_slash_64_not_by_each_address() {
        let limit = RateLimit::new(60, 2);
        let now = Instant::now();
        assert!(limit.check("2001:db8:1:2::1".parse().unwrap(), now).is_ok());
        assert!(
            limit
                .check("2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap(), now)
                .is_ok()
        );
        assert!(
            limit
                .check("2001:db8:1:2::3".parse().unwrap(), now)
                .is_err(),
            "a third address in the same /64 shares the spent bucket"
        );
        assert!(
            limit.check("2001:db8:1:3::1".parse().unwrap(), now).is_ok(),
            "the next /64 is another client"
        );
    }

    #[test]
    fn an_ipv4_mapped_client_shares_the_bucket_of_its_ipv4_address() {
        let limit = RateLimit::new(60, 1);
        let now = Instant::now();
        assert!(limit.check("198.51.100.1".parse().unwrap(), now).is_ok());
        assert!(
            limit
                .check("::ffff:198.51.100.1".parse().unwrap(), now)
                .is_err()
        );
        assert!(
            limit
                .check("::ffff:198.51.100.2".parse().unwrap(), now)
                .is_ok(),
            "and mapped addresses are not lumped into one /64"
        );
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
