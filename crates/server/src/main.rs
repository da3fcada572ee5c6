//! The `zeropass` binary: parses the command line (`cli`), loads `.env`, and runs the command —
//! by default the server, which reads the configuration, starts logging, wires the adapters
//! into the HTTP layer and serves until SIGINT/SIGTERM. A start-up failure prints one line
//! naming the variable at fault and exits with code 2 — never a backtrace.

mod cli;
mod config;
mod environment;
mod signing_keys;
mod startup;
mod telemetry;

use std::process::ExitCode;

/// Exit code for a configuration or start-up error.
const EXIT_STARTUP_FAILED: u8 = 2;

fn main() -> ExitCode {
    // First, so that `--help` and `--version` answer before anything is read, opened or bound.
    let cli = cli::parse();
    let environment = match environment::load() {
        Ok(environment) => environment,
        Err(error) => {
            eprintln!("zeropass: cannot start: {error}");
            return ExitCode::from(EXIT_STARTUP_FAILED);
        }
    };
    cli::run(cli, &environment)
}
