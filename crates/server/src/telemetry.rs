//! Logging: `tracing` events to stderr, filtered by `RUST_LOG`, as text (colours only on a
//! terminal, so captured logs stay plain) or as one JSON object per line (`LOG_FORMAT=json`).
//! Either way each line carries the spans it happened in, so the request id travels with it.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
///
/// # Errors
/// A message when the filter does not parse (the caller names `RUST_LOG`).
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|error| format!("'{filter}' is not a valid log filter ({error})"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
    installed.map_err(|error| error.to_string())
}
