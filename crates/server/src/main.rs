//! The `zeropass` binary: parses the command line (`cli`), loads `.env`, and runs the command —
//! by default the server, which reads the configuration, starts logging, wires the adapters
//! into the HTTP layer and serves until SIGINT/SIGTERM. A start-up failure prints one line
//! naming the variable at fault and exits with code 2 — never a backtrace.

mod cli;
mod config;
mod startup;
mod telemetry;

use std::process::ExitCode;

/// Exit code for a configuration or start-up error.
const EXIT_STARTUP_FAILED: u8 = 2;

fn main() -> ExitCode {
    // First, so that `--help` and `--version` answer before anything is read, opened or bound.
    let cli = cli::parse();
    if let Err(error) = load_dotenv() {
        eprintln!("zeropass: cannot start: {error}");
        return ExitCode::from(EXIT_STARTUP_FAILED);
    }
    cli::run(cli)
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
