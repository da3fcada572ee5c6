//! `bench-loadgen`: the parts of `bench/run.sh` a shell cannot do well.
//!
//! * `signin --base URL --issuer URL --users N [--concurrency 64] [--out FILE]` mints N RS256
//!   Google id_tokens (distinct `sub` and email, `iss` = the running fake Google's issuer) with
//!   the fake's public test key, signs them all in through `POST /auth/google/token` with at most
//!   `--concurrency` requests in flight (new users), then again (returning users), writes the
//!   access tokens of the second pass to `--out` (one per line), and prints one line of
//!   `key=value` figures. The fake Google started here only signs: the fake-providers binary
//!   the server talks to loads the same keys, so its JWKS verifies these tokens.
//! * `wait-health --url http://ADDR/health --since-ns T [--timeout-ms 30000]` polls until the
//!   first 200 and prints the milliseconds since `T` (nanoseconds since the Unix epoch, as from
//!   `date +%s%N` just before the server was started).

use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use zeropass_fake_providers::FakeGoogle;

const USAGE: &str =
    "usage: bench-loadgen signin --base URL --issuer URL --users N [--concurrency 64] [--out FILE]
       bench-loadgen wait-health --url http://ADDR/health --since-ns T [--timeout-ms 30000]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("signin") => signin(&Flags(&args[1..])),
        Some("wait-health") => wait_health(&Flags(&args[1..])),
        _ => Err(USAGE.to_owned()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--name value` pairs.
struct Flags<'a>(&'a [String]);

impl Flags<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|arg| arg == name)
            .and_then(|at| self.0.get(at + 1))
            .map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("{name} is required\n{USAGE}"))
    }

    fn number(&self, name: &str, default: Option<u64>) -> Result<u64, String> {
        match (self.get(name), default) {
            (Some(value), _) => value
                .parse()
                .map_err(|_| format!("{name}: not a number: {value}")),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(format!("{name} is required\n{USAGE}")),
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The email of benchmark user `index`: fixed width, so every `/users/me` answer (and the
/// ceiling's constant body) has the same length.
fn email(index: usize) -> String {
    format!("bench-{index:07}@example.com")
}

/// Mints one id_token per user on every core.
fn mint(issuer: &str, users: usize) -> Result<Vec<String>, String> {
    let signer = FakeGoogle::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|error| format!("cannot start the in-process signer: {error}"))?;
    let now = unix_now().as_secs();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let mut tokens = vec![String::new(); users];
    let chunk = 256;
    let minted: Vec<Vec<(usize, String)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(chunk, Ordering::Relaxed);
                        if start >= users {
                            return out;
                        }
                        for index in start..(start + chunk).min(users) {
                            let claims = json!({
                                "iss": issuer, "azp": FakeGoogle::CLIENT_ID,
                                "aud": FakeGoogle::CLIENT_ID,
                                "sub": format!("bench-google-sub-{index}"),
                                "email": email(index), "email_verified": true,
                                "iat": now, "exp": now + 4 * 3600,
                            });
                            out.push((index, signer.sign_claims(json!({"typ": "JWT"}), claims)));
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    for (index, token) in minted.into_iter().flatten() {
        tokens[index] = token;
    }
    if tokens.iter().any(String::is_empty) {
        return Err("a minting thread failed".to_owned());
    }
    Ok(tokens)
}

/// One pass of sign-ins: the rate, the errors, the p50 and p99 in ms, and the access tokens.
struct Pass {
    rate: f64,
    errors: usize,
    first_error: Option<String>,
    p50_ms: f64,
    p99_ms: f64,
    access_tokens: Vec<String>,
}

async fn sign_in_all(
    client: &reqwest::Client,
    url: &str,
    id_tokens: &Arc<Vec<String>>,
    concurrency: usize,
) -> Pass {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, id_tokens, next) = (
            client.clone(),
            url.to_owned(),
            Arc::clone(id_tokens),
            Arc::clone(&next),
        );
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(id_token) = id_tokens.get(index) else {
                    return done;
                };
                let sent = Instant::now();
                let outcome = sign_in(&client, &url, id_token).await;
                done.push((index, sent.elapsed(), outcome));
            }
        });
    }
    let mut access_tokens = vec![String::new(); id_tokens.len()];
    let mut latencies = Vec::with_capacity(id_tokens.len());
    let (mut errors, mut first_error) = (0, None);
    while let Some(joined) = tasks.join_next().await {
        for (index, latency, outcome) in joined.unwrap_or_default() {
            latencies.push(latency);
            match outcome {
                Ok(token) => access_tokens[index] = token,
                Err(error) => {
                    errors += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    Pass {
        rate: (id_tokens.len() - errors) as f64 / elapsed,
        errors,
        first_error,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        access_tokens,
    }
}

async fn sign_in(client: &reqwest::Client, url: &str, id_token: &str) -> Result<String, String> {
    let response = client
        .post(url)
        .json(&json!({ "id_token": id_token }))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|error| error.to_string())?;
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => Err(format!("{status}: {body}")),
    }
}

fn signin(flags: &Flags) -> Result<(), String> {
    let base = flags.required("--base")?.trim_end_matches('/').to_owned();
    let issuer = flags.required("--issuer")?;
    let users = usize::try_from(flags.number("--users", None)?).map_err(|e| e.to_string())?;
    let concurrency =
        usize::try_from(flags.number("--concurrency", Some(64))?).map_err(|e| e.to_string())?;
    let minting = Instant::now();
    let id_tokens = Arc::new(mint(issuer, users)?);
    let mint_secs = minting.elapsed().as_secs_f64();
    eprintln!("minted {users} id_tokens in {mint_secs:.1} s");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| error.to_string())?;
    let url = format!("{base}/auth/google/token");
    let new = runtime.block_on(sign_in_all(&client, &url, &id_tokens, concurrency));
    eprintln!("new users: {:.0}/s, {} errors", new.rate, new.errors);
    let returning = runtime.block_on(sign_in_all(&client, &url, &id_tokens, concurrency));
    eprintln!(
        "returning users: {:.0}/s, {} errors",
        returning.rate, returning.errors
    );
    if let Some(error) = new.first_error.as_ref().or(returning.first_error.as_ref()) {
        eprintln!("first sign-in error: {error}");
    }
    if let Some(path) = flags.get("--out") {
        let file = std::fs::File::create(path).map_err(|error| format!("{path}: {error}"))?;
        let mut out = BufWriter::new(file);
        for token in returning
            .access_tokens
            .iter()
            .filter(|token| !token.is_empty())
        {
            writeln!(out, "{token}").map_err(|error| format!("{path}: {error}"))?;
        }
        out.flush().map_err(|error| format!("{path}: {error}"))?;
    }
    println!(
        "mint_secs={mint_secs:.2} new_rate={:.1} new_errors={} new_p50_ms={:.2} new_p99_ms={:.2} \
         returning_rate={:.1} returning_errors={} returning_p50_ms={:.2} returning_p99_ms={:.2}",
        new.rate,
        new.errors,
        new.p50_ms,
        new.p99_ms,
        returning.rate,
        returning.errors,
        returning.p50_ms,
        returning.p99_ms
    );
    if new.errors + returning.errors > 0 {
        return Err("some sign-ins failed".to_owned());
    }
    Ok(())
}

/// One `GET` over a fresh connection; `true` on a 200.
fn healthy(addr: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn wait_health(flags: &Flags) -> Result<(), String> {
    let url = flags.required("--url")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url must start with http://: {url}"))?;
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let since = Duration::from_nanos(flags.number("--since-ns", None)?);
    let timeout = Duration::from_millis(flags.number("--timeout-ms", Some(30_000))?);
    let polling = Instant::now();
    while polling.elapsed() < timeout {
        if healthy(addr, path) {
            let ms = unix_now().saturating_sub(since).as_secs_f64() * 1000.0;
            println!("{ms:.1}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!("{url} not healthy within {timeout:?}"))
}
