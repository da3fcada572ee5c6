//! The example downstream service's binary: reads `ZEROPASS_URL`, `ZEROPASS_JWKS_URL`
//! (optional) and `BIND_ADDR` (default `127.0.0.1:8081`), then serves until Ctrl-C.

use std::net::TcpListener;
use std::process::ExitCode;
use zeropass_example_downstream::{Config, run};

#[actix_web::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match Config::from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("downstream: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&config.bind_addr) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("downstream: cannot listen on {}: {error}", config.bind_addr);
            return ExitCode::from(2);
        }
    };
    match run(listener, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("downstream: {error}");
            ExitCode::FAILURE
        }
    }
}
