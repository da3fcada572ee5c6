//! The time, as a port: rules that depend on it (a one-time code's 60 seconds) read it from a
//! [`Clock`], so that tests can set it instead of sleeping.

use chrono::{DateTime, Utc};

/// Where the domain reads the current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current time. It MUST NOT go backwards by more than the host's clock does.
    fn now(&self) -> DateTime<Utc>;
}

/// The host's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
