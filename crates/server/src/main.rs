//! The `zeropass` server binary: read the configuration, start logging, wire the adapters into
//! the HTTP layer, serve until SIGINT/SIGTERM. A start-up failure prints one line naming the
//! variable at fault and exits with code 2 — never a backtrace.

mod config;
mod startup;
mod telemetry;

use std::process::ExitCode;

/// Exit code for a configuration or start-up error.
const EXIT_STARTUP_FAILED: u8 = 2;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("zeropass: cannot start: {error}");
            ExitCode::from(EXIT_STARTUP_FAILED)
        }
    }
}

fn run() -> Result<(), config::ConfigError> {
    load_dotenv()?;
    let config = config::Config::from_env()?;
    telemetry::init(&config.log_filter, config.log_format)
        .map_err(|problem| config::ConfigError::new("RUST_LOG", problem))?;
    actix_web::rt::System::new().block_on(startup::serve(config))
}

/// Loads `.env` from the working directory when there is one; variables already set in the
/// environment win. A `.env` that exists but cannot be read or parsed stops the start.
fn load_dotenv() -> Result<(), config::ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(config::ConfigError::new(
            ".env",
            format!("cannot be read ({error})"),
        )),
    }
}
