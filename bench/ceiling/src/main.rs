//! `bench-ceiling`: the most this machine's HTTP stack gives. One actix-web server with the same
//! worker count as zeropass (actix's default: one per available core) answering
//! `GET /users/me` with a constant JSON body exactly as long as zeropass's answer for a benchmark
//! user (whose email is `bench-NNNNNNN@example.com`). No token check, no database, no logging.
//!
//! With `CEILING_HEADERS=FILE` it also sends, on every answer, the headers listed in FILE as
//! `curl -D` writes them (`name: value` lines; the status line and the headers actix sets
//! itself — `date`, `content-length`, `content-type` — are skipped): `bench/run.sh` passes
//! zeropass's own, so this ceiling sends byte for byte as much as zeropass does. Those headers
//! cost the HTTP stack and, above all, the load generator sharing the cores (wrk parses every
//! one), not zeropass's code; the bare ceiling is reported too.
//!
//! Usage: `bench-ceiling [ADDR]` (else `BIND_ADDR`, else `127.0.0.1:8090`). Prints
//! `listening on http://ADDR` to stderr once it accepts connections; stops on Ctrl-C / SIGTERM.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::OnceLock;

use actix_web::http::header::{ContentType, HeaderName, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};

/// The same shape and length as zeropass's `UserResponse` for a benchmark user.
const BODY: &str = r#"{"id":"5b0e1f7e-8d51-4c3a-9a8e-2f0b6c1d9e42","email":"bench-0000000@example.com","provider":"google","is_active":true,"created_at":"2026-11-24T10:00:00Z"}"#;

/// The extra headers of every answer (`CEILING_HEADERS`), parsed once.
static EXTRA_HEADERS: OnceLock<Vec<(HeaderName, HeaderValue)>> = OnceLock::new();

async fn me() -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.content_type(ContentType::json());
    for (name, value) in EXTRA_HEADERS.get().map_or(&[][..], Vec::as_slice) {
        response.insert_header((name.clone(), value.clone()));
    }
    response.body(BODY)
}

/// The `name: value` lines of a `curl -D` dump, less the status line and what actix sets.
fn parse_headers(dump: &str) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut headers = Vec::new();
    for line in dump
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
    {
        if line.starts_with("HTTP/") {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: {line:?}"))?;
        let name = HeaderName::try_from(name.trim()).map_err(|error| error.to_string())?;
        if ["date", "content-length", "content-type"].contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::try_from(value.trim()).map_err(|error| error.to_string())?;
        headers.push((name, value));
    }
    Ok(headers)
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .or_else(|| {
            std::env::var("BIND_ADDR")
                .ok()
                .filter(|addr| !addr.is_empty())
        })
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("bench-ceiling: bad address {addr:?}: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = std::env::var_os("CEILING_HEADERS").filter(|path| !path.is_empty()) {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|error| error.to_string())
            .and_then(|dump| parse_headers(&dump));
        match parsed {
            Ok(headers) => {
                let _ = EXTRA_HEADERS.set(headers);
            }
            Err(error) => {
                eprintln!("bench-ceiling: CEILING_HEADERS {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let outcome = actix_web::rt::System::new().block_on(async move {
        let listener = TcpListener::bind(addr)?;
        let bound = listener.local_addr()?;
        let server = HttpServer::new(|| App::new().route("/users/me", web::get().to(me)))
            .listen(listener)?
            .run();
        eprintln!("listening on http://{bound}");
        server.await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-ceiling: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curl_dump_gives_its_headers_less_the_status_line_and_actixs_own() {
        let dump = "HTTP/1.1 200 OK\r\ncontent-length: 154\r\ncache-control: no-store\r\n\
                    content-type: application/json\r\nx-request-id: 0123-4\r\n\
                    date: Tue, 24 Nov 2026 05:00:00 GMT\r\n\r\n";
        let headers = parse_headers(dump).unwrap();
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["cache-control", "x-request-id"]);
        assert_eq!(headers[1].1, "0123-4");
        assert!(parse_headers("no colon here").is_err());
    }
}
