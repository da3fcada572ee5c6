//! Time as the verifier sees it. Every decision that depends on time — a token's `exp` and
//! `nbf`, when a cached key set goes stale, when an unknown `kid` may trigger another fetch —
//! reads one injectable [`Clock`], so tests (ours and a downstream service's) can move time
//! forward instead of sleeping.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in whole seconds since the Unix epoch (the unit of JWT
/// claims). Implementations must be cheap: `verify` reads the clock on every call.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system's wall clock, the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A host clock set before 1970 reads as the epoch rather than failing every call.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}
