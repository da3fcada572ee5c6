//! The `zeropass` server binary: read the configuration, start logging, wire the adapters into
//! the HTTP layer, serve until SIGINT/SIGTERM. A start-up failure prints one line naming the
//! variable at fault and exits with code 2 — never a backtrace.

mod config;
mod environment;
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
    let environment = environment::load()?;
    let config = config::Config::from_env()?;
    telemetry::init(&config.log_filter, config.log_format)
        .map_err(|problem| config::ConfigError::new("RUST_LOG", problem))?;
    environment.warn_about_unknown_names();
    actix_web::rt::System::new().block_on(startup::serve(config))
}
