//! `fake-providers`: starts the fake identity providers on loopback so a person can try
//! zeropass's whole sign-in flow in a browser without a real account, prints the environment
//! to start zeropass with, and runs until Ctrl-C. It refuses non-loopback addresses: the fakes
//! sign anyone in with public test keys, so they must never be reachable from elsewhere.

use std::net::SocketAddr;
use std::process::ExitCode;

use zeropass_fake_providers::{FakeGoogle, FakeGoogleUser};

const USAGE: &str =
    "usage: fake-providers [--google-addr 127.0.0.1:9001] [--google-email alice@example.com]";

fn main() -> ExitCode {
    let (addr, email) = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("fake-providers: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let google = match FakeGoogle::start_on(addr) {
        Ok(google) => google,
        Err(error) => {
            eprintln!("fake-providers: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(email) = email {
        google.set_user(FakeGoogleUser {
            sub: format!("fake-google-sub-{email}"),
            email: Some(email),
            ..FakeGoogleUser::default()
        });
    }
    println!(
        "Fake Google is listening at {} (test keys only; every sign-in succeeds).",
        google.issuer()
    );
    println!("Start zeropass with:\n");
    println!(
        "GOOGLE_ISSUER_URL={} GOOGLE_CLIENT_ID={} GOOGLE_CLIENT_SECRET={}\n",
        google.issuer(),
        FakeGoogle::CLIENT_ID,
        FakeGoogle::CLIENT_SECRET
    );
    println!("then open {{PUBLIC_URL}}/auth/google/start in a browser (by default");
    println!("http://127.0.0.1:8080/auth/google/start). Ctrl-C stops.");
    let interrupted = actix_web::rt::System::new().block_on(actix_web::rt::signal::ctrl_c());
    drop(google);
    match interrupted {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-providers: cannot wait for Ctrl-C: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the options (`None`: help was asked for); every address must be loopback.
fn parse(
    mut args: impl Iterator<Item = String>,
) -> Result<Option<(SocketAddr, Option<String>)>, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 9001));
    let mut email = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--google-addr" => {
                let text = value()?;
                addr = text
                    .parse()
                    .map_err(|_| format!("--google-addr: `{text}` is not an IP:PORT address"))?;
            }
            "--google-email" => email = Some(value()?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--google-addr: {addr} is not a loopback address; the fakes sign anyone in"
        ));
    }
    Ok(Some((addr, email)))
}
