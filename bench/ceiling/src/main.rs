//! `bench-ceiling`: the most this machine's HTTP stack gives. One actix-web server with the same
//! worker count as zeropass (actix's default: one per available core) answering
//! `GET /users/me` with a constant JSON body exactly as long as zeropass's answer for a benchmark
//! user (whose email is `bench-NNNNNNN@example.com`). No token check, no database, no logging.
//!
//! Usage: `bench-ceiling [ADDR]` (else `BIND_ADDR`, else `127.0.0.1:8090`). Prints
//! `listening on http://ADDR` to stderr once it accepts connections; stops on Ctrl-C / SIGTERM.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};

/// The same shape and length as zeropass's `UserResponse` for a benchmark user.
const BODY: &str = r#"{"id":"5b0e1f7e-8d51-4c3a-9a8e-2f0b6c1d9e42","email":"bench-0000000@example.com","provider":"google","is_active":true,"created_at":"2026-11-24T10:00:00Z"}"#;

async fn me() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(BODY)
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
