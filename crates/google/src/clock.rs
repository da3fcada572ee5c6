//! The adapter's "now" for its key cache (the JWKS's freshness and the refetch throttle): the
//! monotonic clock, plus an offset that only tests move, so
//! that "ten minutes later" takes no ten minutes and needs no paused runtime (which would
//! also fire the timeouts of the real network calls under test).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock that tests can move forward. Clones share their offset, so a test keeps
/// one and moves the adapter's.
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to [`Instant::now`]; zero in production.
    offset_millis: Arc<AtomicU64>,
}

impl Clock {
    /// The current instant.
    #[must_use]
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.offset_millis.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_millis.fetch_add(millis, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_clone_forward() {
        let clock = Clock::default();
        let clone = clock.clone();
        let before = clone.now();
        clock.advance(Duration::from_secs(600));
        assert!(clone.now() >= before + Duration::from_secs(600));
    }
}
