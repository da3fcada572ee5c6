//! The tower layer accepts and refuses.

use http::{Request, Response, StatusCode};
use std::convert::Infallible;
use tower::{Layer, ServiceExt, service_fn};
use zeropass_verify::tower::VerifyLayer;
use zeropass_verify::{Claims, Verifier};

use crate::support::{FakeJwks, ManualClock, claims, es256};

/// The response of a service behind the layer that echoes the verified `sub`.
async fn call(verifier: Verifier, authorization: Option<String>) -> Response<String> {
    let inner = service_fn(|request: Request<String>| async move {
        let sub = request
            .extensions()
            .get::<Claims>()
            .map(|claims| claims.sub.to_string())
            .unwrap_or_default();
        Ok::<_, Infallible>(Response::new(sub))
    });
    let service = VerifyLayer::new(verifier).layer(inner);
    let mut request = Request::builder().uri("/me");
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    service
        .oneshot(request.body(String::new()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_token_passes_with_the_claims_in_the_extensions() {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let token = key.sign(&claims());

    let response = call(
        server.verifier(&ManualClock::new()),
        Some(format!("Bearer {token}")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90");
}

#[tokio::test]
async fn a_refused_token_is_answered_401_without_calling_the_service() {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let expired = key.sign(&crate::support::claims_at(crate::support::START - 3600));

    let response = call(
        server.verifier(&ManualClock::new()),
        Some(format!("Bearer {expired}")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.body().contains("expired"), "{}", response.body());
    let anonymous = call(server.verifier(&ManualClock::new()), None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn unavailable_keys_are_answered_503_with_retry_after() {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    server.set_status(502);
    let token = key.sign(&claims());

    let response = call(
        server.verifier(&ManualClock::new()),
        Some(format!("Bearer {token}")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "30");
    assert!(response.body().contains("keys_unavailable"));
}
