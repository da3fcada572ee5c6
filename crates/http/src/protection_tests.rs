//! The cross-cutting middleware in-process: security headers, request ids, CORS and the
//! sign-in rate limit.

use crate::{AppState, CorsOrigins, Protection, RateLimit, TrustedProxies, app};
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::test::{self as actix_test, TestRequest};
use std::sync::Arc;
use zeropass_domain::{IdentityProvider, MockAccessTokens, MockUserRepository};

fn state(protection: Protection) -> AppState {
    let mut users = MockUserRepository::new();
    users.expect_ping().returning(|| Ok(()));
    let providers: Vec<Arc<dyn IdentityProvider>> = Vec::new();
    AppState::new(
        Arc::new(users),
        Arc::new(MockAccessTokens::new()),
        providers,
    )
    .with_protection(protection)
}

fn header(
    response: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    name: &str,
) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_the_api_allows_no_content() {
    let service = actix_test::init_service(app(state(Protection::default()))).await;
    for path in ["/health", "/users/me", "/nowhere"] {
        let response = service
            .call(TestRequest::get().uri(path).to_request())
            .await
            .unwrap();
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&response, "referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
        assert!(
            header(&response, "content-security-policy")
                .unwrap()
                .starts_with("default-src 'none'"),
            "{path}"
        );
    }
    let docs = service
        .call(TestRequest::get().uri("/docs").to_request())
        .await
        .unwrap();
    assert!(
        header(&docs, "content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
}

#[actix_web::test]
async fn a_request_id_is_echoed_when_sane_and_generated_otherwise() {
    let service = actix_test::init_service(app(state(Protection::default()))).await;
    let echoed = service
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("x-request-id", "abc-123"))
                .to_request(),
        )
        .await
        .unwrap();
    assert_eq!(header(&echoed, "x-request-id").as_deref(), Some("abc-123"));
    let replaced = service
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("x-request-id", "bad id with spaces"))
                .to_request(),
        )
        .await
        .unwrap();
    let generated = header(&replaced, "x-request-id").unwrap();
    let (prefix, sequence) = generated.split_once('-').unwrap();
    assert_eq!(prefix.len(), 16, "{generated}");
    assert!(u64::from_str_radix(prefix, 16).is_ok() && u64::from_str_radix(sequence, 16).is_ok());
}

#[actix_web::test]
async fn an_allowed_origin_gets_cors_headers_and_preflights_others_do_not() {
    let protection = Protection {
        cors_origins: CorsOrigins::new(vec!["https://app.example.com".into()]),
        ..Protection::default()
    };
    let service = actix_test::init_service(app(state(protection))).await;
    let preflight = |origin: &str, method: &str, headers: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/users/me")
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", method))
            .insert_header(("access-control-request-headers", headers))
            .to_request()
    };
    let ok = service
        .call(preflight("https://app.example.com", "GET", "authorization"))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        header(&ok, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(
        header(&ok, "access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    for (origin, method, headers) in [
        ("https://evil.example", "GET", "authorization"),
        ("https://app.example.com", "PUT", ""),
        ("https://app.example.com", "GET", "x-custom"),
    ] {
        let refused = service
            .call(preflight(origin, method, headers))
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "{origin} {method} {headers}"
        );
        assert!(header(&refused, "access-control-allow-origin").is_none());
    }
    let simple = service
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("origin", "https://app.example.com"))
                .to_request(),
        )
        .await
        .unwrap();
    assert_eq!(
        header(&simple, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    let other = service
        .call(
            TestRequest::get()
                .uri("/health")
                .insert_header(("origin", "https://evil.example"))
                .to_request(),
        )
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert!(header(&other, "access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn sign_in_endpoints_are_rate_limited_per_client_with_retry_after() {
    let protection = Protection {
        auth_rate_limit: Some(RateLimit::new(6, 2)),
        trusted_proxies: TrustedProxies::default(),
        ..Protection::default()
    };
    let service = actix_test::init_service(app(state(protection))).await;
    let from = |ip: &str, path: &str| {
        TestRequest::get()
            .uri(path)
            .peer_addr(format!("{ip}:5000").parse().unwrap())
            .to_request()
    };
    for _ in 0..2 {
        let response = service
            .call(from("198.51.100.1", "/auth/google/start"))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "not configured, but not limited yet"
        );
    }
    let limited = service
        .call(from("198.51.100.1", "/auth/google/start"))
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&limited, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let other_client = service
        .call(from("198.51.100.2", "/auth/google/start"))
        .await
        .unwrap();
    assert_eq!(other_client.status(), StatusCode::SERVICE_UNAVAILABLE);
    for _ in 0..5 {
        let health = service.call(from("198.51.100.1", "/health")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK, "only /auth/* is limited");
    }
}

#[actix_web::test]
async fn every_spelling_of_a_sign_in_path_is_counted_against_the_same_bucket() {
    let protection = Protection {
        auth_rate_limit: Some(RateLimit::new(6, 2)),
        ..Protection::default()
    };
    let service = actix_test::init_service(app(state(protection))).await;
    let from_client = |path: &str| {
        TestRequest::get()
            .uri(path)
            .peer_addr("198.51.100.1:5000".parse().unwrap())
            .to_request()
    };
    for spelling in ["/%61uth/google/start", "/auth/%67oogle/start"] {
        let response = service.call(from_client(spelling)).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{spelling} reaches the (unconfigured) handler and spends the burst"
        );
    }
    for spelling in [
        "/auth/google/start",
        "/%61uth/facebook/start",
        "/%61%75%74%68/google/start",
        "/auth/%67oogle/start",
        "/auth/g%6F%6fgle/start",
        "/%61uth/facebook/%63allback",
        "/auth/nowhere",
    ] {
        let response = service.call(from_client(spelling)).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{spelling} is counted"
        );
    }
    for unrouted in [
        "//auth/google/start",
        "/AUTH/google/start",
        "/auth%2Fgoogle/start",
    ] {
        let response = service.call(from_client(unrouted)).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{unrouted} reaches no sign-in handler"
        );
    }
}
