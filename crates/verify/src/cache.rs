//! The cached key set and the rules for refreshing it. A set is fresh for its `Cache-Control`
//! lifetime (clamped to [`MIN_MAX_AGE`]..=[`MAX_MAX_AGE`], [`DEFAULT_MAX_AGE`] without one);
//! a token whose `kid` the fresh set lacks triggers a refetch, since zeropass publishes a new
//! key before signing with it. Fetch attempts of any cause are at most one per
//! [`REFETCH_INTERVAL`] and go through one async lock, so a flood of invented `kid`s — or an
//! outage met by every request — costs zeropass one request per interval, not one per token.
//! When a refresh fails the expired set stays in use for the configured stale period (with a
//! warning), because zeropass keeps a retired key published well past its last token's
//! expiry; after that the verifier answers "keys unavailable" rather than trust keys
//! indefinitely. While one task refreshes, tokens whose key the stale set holds are verified
//! at once instead of queueing behind the fetch.

use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::error::{FetchError, Refusal, VerifyError};
use crate::fetch::Fetcher;
use crate::keys::{KeySet, PublicKey};

/// The least time between two fetch attempts, in seconds.
pub const REFETCH_INTERVAL: u64 = 30;
/// How long a set served without a usable `Cache-Control` stays fresh, in seconds.
pub const DEFAULT_MAX_AGE: u64 = 300;
/// The shortest freshness honoured (a shorter `max-age` or `no-store` is raised to it): below
/// the refetch interval it would mean nothing.
pub const MIN_MAX_AGE: u64 = REFETCH_INTERVAL;
/// The longest freshness honoured, so that a misconfigured `max-age` cannot pin keys for days.
pub const MAX_MAX_AGE: u64 = 3600;

/// One fetched set and when it stops being fresh.
#[derive(Debug)]
struct Cached {
    keys: KeySet,
    fetched_at: u64,
    fresh_until: u64,
}

/// The key cache of one verifier.
#[derive(Debug)]
pub(crate) struct KeyCache {
    fetcher: Fetcher,
    clock: Arc<dyn Clock>,
    /// Seconds an expired set is still used while refreshing fails.
    stale_for: u64,
    current: RwLock<Option<Arc<Cached>>>,
    /// Held for the whole of a fetch; holds when the last attempt started.
    last_attempt: Mutex<Option<u64>>,
}

impl KeyCache {
    pub(crate) fn new(fetcher: Fetcher, clock: Arc<dyn Clock>, stale_for: u64) -> Self {
        Self {
            fetcher,
            clock,
            stale_for,
            current: RwLock::new(None),
            last_attempt: Mutex::new(None),
        }
    }

    /// The key named `kid`, fetching or refreshing the set when the rules above allow.
    ///
    /// # Errors
    /// [`Refusal::UnknownKey`] when a usable set lacks `kid`; [`VerifyError::KeysUnavailable`]
    /// when no usable set can be had.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<PublicKey>, VerifyError> {
        let now = self.clock.now();
        let cached = self.snapshot();
        if let Some(cached) = &cached
            && let Some(key) = cached.keys.get(kid)
        {
            if now < cached.fresh_until {
                return Ok(key);
            }
            if self.usable(cached, now) && self.last_attempt.try_lock().is_err() {
                // Someone is refreshing right now; the expired set still vouches for this key.
                return Ok(key);
            }
        }

        let mut last_attempt = self.last_attempt.lock().await;
        let now = self.clock.now();
        let mut cached = self.snapshot();
        if let Some(fresh) = cached.as_ref().filter(|cached| now < cached.fresh_until)
            && let Some(key) = fresh.keys.get(kid)
        {
            return Ok(key); // refreshed by another task while this one waited
        }
        let may_fetch = last_attempt.is_none_or(|at| now >= at.saturating_add(REFETCH_INTERVAL));
        let mut failure = None;
        if may_fetch {
            *last_attempt = Some(now);
            match self.fetcher.fetch().await {
                Ok(fetched) => {
                    let max_age = fetched
                        .max_age
                        .unwrap_or(DEFAULT_MAX_AGE)
                        .clamp(MIN_MAX_AGE, MAX_MAX_AGE);
                    tracing::debug!(
                        url = %self.fetcher.url(),
                        keys = fetched.keys.len(),
                        max_age,
                        "fetched zeropass's key set"
                    );
                    let fresh = Arc::new(Cached {
                        keys: fetched.keys,
                        fetched_at: now,
                        fresh_until: now.saturating_add(max_age),
                    });
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                        Some(Arc::clone(&fresh));
                    cached = Some(fresh);
                }
                Err(error) => failure = Some(error),
            }
        }
        drop(last_attempt);

        match cached {
            Some(cached) if self.usable(&cached, now) => {
                if let Some(error) = &failure {
                    tracing::warn!(
                        url = %self.fetcher.url(),
                        %error,
                        age_seconds = now.saturating_sub(cached.fetched_at),
                        "refreshing zeropass's key set failed; verifying with the cached copy"
                    );
                }
                cached
                    .keys
                    .get(kid)
                    .ok_or(VerifyError::Refused(Refusal::UnknownKey))
            }
            _ => {
                // One warning per attempt; the requests in between only repeat its outcome.
                let error = match failure {
                    Some(error) => {
                        tracing::warn!(
                            url = %self.fetcher.url(),
                            %error,
                            "zeropass's key set is unavailable"
                        );
                        error
                    }
                    None => FetchError::RetryLater(REFETCH_INTERVAL),
                };
                Err(VerifyError::KeysUnavailable(error))
            }
        }
    }

    fn snapshot(&self) -> Option<Arc<Cached>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fresh, or expired for no longer than the stale period.
    fn usable(&self, cached: &Cached, now: u64) -> bool {
        now < cached.fresh_until.saturating_add(self.stale_for)
    }
}
