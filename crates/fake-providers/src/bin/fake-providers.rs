//! `fake-providers`: starts the fake identity providers (Google and Facebook) on loopback so a
//! person can try zeropass's whole sign-in flow in a browser without a real account, prints the
//! environment to start zeropass with (as `export` lines: pasted into a shell, they reach the
//! zeropass started from it), and runs until Ctrl-C. It refuses non-loopback addresses:
//! the fakes sign anyone in with public test keys, so they must never be reachable from elsewhere.

use std::net::SocketAddr;
use std::process::ExitCode;

use zeropass_fake_providers::{
    FakeFacebook, FakeFacebookUser, FakeGoogle, FakeGoogleUser, instructions,
};

const USAGE: &str =
    "usage: fake-providers [--google-addr 127.0.0.1:9001] [--google-email alice@example.com]
                      [--facebook-addr 127.0.0.1:9002] [--facebook-email alice@example.com]";

/// The command line: where each fake listens and, optionally, whose email it signs in.
struct Options {
    google_addr: SocketAddr,
    google_email: Option<String>,
    facebook_addr: SocketAddr,
    facebook_email: Option<String>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
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
    let listening = FakeGoogle::start_on(options.google_addr)
        .map_err(|error| (options.google_addr, error))
        .and_then(|google| {
            FakeFacebook::start_on(options.facebook_addr)
                .map(|facebook| (google, facebook))
                .map_err(|error| (options.facebook_addr, error))
        });
    let (google, facebook) = match listening {
        Ok(fakes) => fakes,
        Err((addr, error)) => {
            eprintln!("fake-providers: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(email) = options.google_email {
        google.set_user(FakeGoogleUser {
            sub: format!("fake-google-sub-{email}"),
            email: Some(email),
            ..FakeGoogleUser::default()
        });
    }
    if let Some(email) = options.facebook_email {
        // An app-scoped id of Facebook's shape, the same for the same email on every run.
        let hash = email.bytes().fold(0_u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u64::from(byte))
        });
        facebook.set_user(FakeFacebookUser {
            id: format!("1{:016}", hash % 10_u64.pow(16)),
            email: Some(email),
        });
    }
    print!("{}", instructions(&google, &facebook));
    let interrupted = actix_web::rt::System::new().block_on(actix_web::rt::signal::ctrl_c());
    drop((google, facebook));
    match interrupted {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-providers: cannot wait for Ctrl-C: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the options (`None`: help was asked for); every address must be loopback.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        google_addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
        google_email: None,
        facebook_addr: SocketAddr::from(([127, 0, 0, 1], 9002)),
        facebook_email: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--google-addr" => options.google_addr = loopback(&flag, &value()?)?,
            "--google-email" => options.google_email = Some(value()?),
            "--facebook-addr" => options.facebook_addr = loopback(&flag, &value()?)?,
            "--facebook-email" => options.facebook_email = Some(value()?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

/// Parses the value of an address flag, refusing anything but loopback.
fn loopback(flag: &str, text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("{flag}: `{text}` is not an IP:PORT address"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{flag}: {addr} is not a loopback address; the fakes sign anyone in"
        ));
    }
    Ok(addr)
}
