//! The actix-web extractor accepts and refuses.

use actix_web::http::StatusCode;
use actix_web::test::{TestRequest, call_service, init_service, read_body};
use actix_web::{App, HttpResponse, web};
use zeropass_verify::Verifier;
use zeropass_verify::actix::Authenticated;

use crate::support::{FakeJwks, ManualClock, claims, eddsa};

async fn me(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(user.sub.to_string())
}

/// The status, `WWW-Authenticate` and body of `GET /me` with `authorization`, if any.
async fn get_me(
    verifier: Verifier,
    authorization: Option<String>,
) -> (StatusCode, Option<String>, String) {
    let app = init_service(
        App::new()
            .app_data(web::Data::new(verifier))
            .route("/me", web::get().to(me)),
    )
    .await;
    let mut request = TestRequest::get().uri("/me");
    if let Some(value) = authorization {
        request = request.insert_header(("Authorization", value));
    }
    let response = call_service(&app, request.to_request()).await;
    let status = response.status();
    let challenge = response
        .headers()
        .get("WWW-Authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = String::from_utf8(read_body(response).await.to_vec()).unwrap();
    (status, challenge, body)
}

#[actix_web::test]
async fn a_valid_bearer_token_reaches_the_handler_with_its_claims() {
    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let token = key.sign(&claims());

    let (status, _, body) = get_me(
        server.verifier(&ManualClock::new()),
        Some(format!("Bearer {token}")),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90");
}

#[actix_web::test]
async fn a_missing_or_refused_token_is_answered_401_with_a_bearer_challenge() {
    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let clock = ManualClock::new();

    let (status, challenge, body) = get_me(server.verifier(&clock), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert!(body.contains("\"code\":\"invalid_token\""), "{body}");

    let forged = crate::support::eddsa("k").sign(&claims()); // same kid, another key
    let (status, challenge, body) =
        get_me(server.verifier(&clock), Some(format!("Bearer {forged}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
    assert!(body.contains("signature"), "{body}");
    assert!(!body.contains(&forged), "the token is never echoed");
}

#[actix_web::test]
async fn unavailable_keys_are_answered_503() {
    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await;
    server.set_status(500);
    let token = key.sign(&claims());

    let (status, challenge, body) = get_me(
        server.verifier(&ManualClock::new()),
        Some(format!("Bearer {token}")),
    )
    .await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, None);
    assert!(body.contains("keys_unavailable"), "{body}");
}
