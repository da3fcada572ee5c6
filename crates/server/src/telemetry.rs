//! Logging: `tracing` events to stderr, filtered by `RUST_LOG`. Colours only on a terminal, so
//! captured logs stay plain text.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
///
/// # Errors
/// A message when the filter does not parse (the caller names `RUST_LOG`).
pub fn init(filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|error| format!("'{filter}' is not a valid log filter ({error})"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|error| error.to_string())
}
