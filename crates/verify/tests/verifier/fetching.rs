//! The bounds on one fetch: size, time, status and shape of the answer.

use std::time::{Duration, Instant};
use zeropass_verify::{FetchError, VerifyError};

use crate::support::{FakeJwks, ManualClock, QUICKLY, claims, es256};

/// What verifying a valid token yields when the server answers as configured by `setup`.
async fn fetch_failure(setup: impl FnOnce(&FakeJwks)) -> FetchError {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    setup(&server);
    let verifier = server
        .verifier_builder(&ManualClock::new())
        .fetch_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let outcome = verifier.verify(&key.sign(&claims())).await;
    assert!(started.elapsed() < QUICKLY, "took {:?}", started.elapsed());
    match outcome {
        Err(VerifyError::KeysUnavailable(error)) => error,
        other => panic!("expected the keys to be unavailable, got {other:?}"),
    }
}

/// A JWKS body of about `bytes` bytes (valid JSON, one long ignored member).
fn padded_jwks(bytes: usize) -> String {
    format!("{{\"keys\": [], \"padding\": \"{}\"}}", "x".repeat(bytes))
}

#[tokio::test]
async fn a_jwks_over_64_kib_is_refused_by_its_declared_length() {
    let error = fetch_failure(|server| server.set_body(padded_jwks(65 * 1024))).await;
    assert!(matches!(error, FetchError::TooLarge(65_536)), "{error:?}");
}

#[tokio::test]
async fn a_jwks_over_64_kib_without_a_length_is_cut_off_while_reading() {
    let error = fetch_failure(|server| {
        server.set_body(padded_jwks(1024 * 1024));
        server.set_declare_length(false);
    })
    .await;
    assert!(matches!(error, FetchError::TooLarge(65_536)), "{error:?}");
}

#[tokio::test]
async fn a_jwks_just_under_the_limit_is_read() {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let body = format!(
        "{{\"keys\": [{}], \"padding\": \"{}\"}}",
        key.jwk,
        "x".repeat(60 * 1024)
    );
    server.set_body(body);
    let verifier = server.verifier(&ManualClock::new());
    assert!(verifier.verify(&key.sign(&claims())).await.is_ok());
}

#[tokio::test]
async fn a_server_that_never_answers_is_given_up_on_after_the_fetch_timeout() {
    let error = fetch_failure(|server| server.set_hang(true)).await;
    assert!(matches!(error, FetchError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn an_error_status_or_a_body_that_is_not_a_key_set_makes_the_keys_unavailable() {
    let status = fetch_failure(|server| server.set_status(404)).await;
    assert!(matches!(status, FetchError::Status(404)), "{status:?}");
    let redirect = fetch_failure(|server| server.set_status(302)).await;
    assert!(matches!(redirect, FetchError::Status(302)), "{redirect:?}");
    let html = fetch_failure(|server| server.set_body("<html>sign in</html>".into())).await;
    assert!(matches!(html, FetchError::NotAKeySet(_)), "{html:?}");
}

#[tokio::test]
async fn nothing_listening_makes_the_keys_unavailable_quickly() {
    let key = es256("k");
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let verifier = zeropass_verify::Verifier::builder(crate::support::ISSUER)
        .jwks_url(format!("http://{address}/jwks.json"))
        .build()
        .unwrap();
    let started = Instant::now();
    let outcome = verifier.verify(&key.sign(&claims())).await;
    assert!(started.elapsed() < QUICKLY);
    assert!(matches!(
        outcome,
        Err(VerifyError::KeysUnavailable(FetchError::Transport(_)))
    ));
}
