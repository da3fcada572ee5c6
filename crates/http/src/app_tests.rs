//! The HTTP layer in-process, over the domain's mocks: the paths a black-box test cannot reach
//! while no real provider adapter exists (a configured provider's native door and its body
//! errors), and the mapping of store failures.

use crate::{AppState, app};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self as actix_test, TestRequest};
use chrono::DateTime;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;
use zeropass_domain::{
    Email, IdentityError, IssuedToken, MockAccessTokens, MockIdentityProvider, MockUserRepository,
    NativeCredential, Provider, PublicJwk, RepositoryError, Subject, User, UserId,
    VerifiedIdentity,
};

fn user() -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(0x1111_2222_3333_4444_8555_6666_7777_8888)),
        email: Email::parse("ada@example.com").unwrap(),
        provider: Provider::Google,
        subject: Subject::parse("google-sub").unwrap(),
        is_active: true,
        created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}

fn google_vouching_for_ada() -> MockIdentityProvider {
    let mut google = MockIdentityProvider::new();
    google.expect_provider().return_const(Provider::Google);
    google.expect_is_ready().returning(|| true);
    google
        .expect_verify_native_credential()
        .returning(|credential: &NativeCredential| {
            if credential.token == "good-id-token" {
                Ok(VerifiedIdentity {
                    provider: Provider::Google,
                    subject: Subject::parse("google-sub").unwrap(),
                    email: Email::parse("ada@example.com").unwrap(),
                })
            } else {
                Err(IdentityError::InvalidIdToken("signature".into()))
            }
        });
    google
}

fn state(users: MockUserRepository, providers: Vec<MockIdentityProvider>) -> AppState {
    let mut tokens = MockAccessTokens::new();
    tokens.expect_issue().returning(|_| {
        Ok(IssuedToken {
            token: "issued.access.token".into(),
            expires_in: 3600,
        })
    });
    AppState::new(
        Arc::new(users),
        Arc::new(tokens),
        providers
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn zeropass_domain::IdentityProvider>),
    )
}

async fn call(
    state: AppState,
    request: TestRequest,
) -> (StatusCode, actix_web::http::header::HeaderMap, Value) {
    let service = actix_test::init_service(app(state)).await;
    let response: ServiceResponse<_> = service.call(request.to_request()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().try_into_bytes().unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

fn token_request(body: &str) -> TestRequest {
    TestRequest::post()
        .uri("/auth/google/token")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_owned())
}

#[actix_web::test]
async fn a_configured_provider_vouching_signs_the_user_in() {
    let mut users = MockUserRepository::new();
    users
        .expect_resolve_or_create()
        .times(1)
        .returning(|_| Ok(user()));
    let (status, headers, body) = call(
        state(users, vec![google_vouching_for_ada()]),
        token_request(r#"{"id_token":"good-id-token"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        body,
        json!({"access_token": "issued.access.token", "token_type": "Bearer", "expires_in": 3600,
               "user": {"id": "11112222-3333-4444-8555-666677778888", "email": "ada@example.com", "provider": "google",
                        "is_active": true, "created_at": "2026-11-18T11:06:40Z"}})
    );
}

#[actix_web::test]
async fn a_refused_id_token_is_401_and_no_user_is_touched() {
    let mut users = MockUserRepository::new();
    users.expect_resolve_or_create().never();
    let (status, headers, body) = call(
        state(users, vec![google_vouching_for_ada()]),
        token_request(r#"{"id_token":"forged"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(body["code"], "invalid_id_token");
}

#[actix_web::test]
async fn body_errors_are_problems_that_do_not_echo_the_body() {
    let cases = [
        (
            token_request(r#"{"id_token": "secret-value""#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token_request(r#"{"id_token": 42}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token_request(r#"{"nonce": "secret-value"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token_request(r#"{"id_token": "x", "extra": "secret-value"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            token_request(r#"["secret-value"]"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            TestRequest::post()
                .uri("/auth/google/token")
                .insert_header(("content-type", "text/plain"))
                .set_payload(r#"{"id_token":"secret-value"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            TestRequest::post()
                .uri("/auth/google/token")
                .set_payload(r#"{"id_token":"secret-value"}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            token_request(&format!(
                r#"{{"id_token":"{}"}}"#,
                "a".repeat(crate::MAX_JSON_BODY_BYTES)
            )),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ];
    for (request, expected_status, expected_code) in cases {
        let mut users = MockUserRepository::new();
        users.expect_resolve_or_create().never();
        let (status, headers, body) =
            call(state(users, vec![google_vouching_for_ada()]), request).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (expected_status, Some(expected_code)),
            "{body}"
        );
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        assert!(!body.to_string().contains("secret-value"), "{body}");
    }
}

#[actix_web::test]
async fn a_locked_database_at_sign_in_is_503_database_unavailable_with_retry_after() {
    let mut users = MockUserRepository::new();
    users
        .expect_resolve_or_create()
        .returning(|_| Err(RepositoryError::Unavailable("database is locked".into()).into()));
    let (status, headers, body) = call(
        state(users, vec![google_vouching_for_ada()]),
        token_request(r#"{"id_token":"good-id-token"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "database_unavailable");
    assert!(headers.contains_key("retry-after"));
    assert!(!body.to_string().contains("locked"), "{body}");
}

#[actix_web::test]
async fn health_reports_unavailable_with_its_own_body_when_the_store_fails() {
    let mut users = MockUserRepository::new();
    users
        .expect_ping()
        .returning(|| Err(RepositoryError::Unavailable("gone".into())));
    let (status, headers, body) = call(
        state(users, vec![google_vouching_for_ada()]),
        TestRequest::get().uri("/health"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(
        body,
        json!({"status": "unavailable", "version": env!("CARGO_PKG_VERSION"), "database": "unavailable", "providers": {"google": "ready"}})
    );
}

#[actix_web::test]
async fn health_lists_the_configured_providers() {
    let mut users = MockUserRepository::new();
    users.expect_ping().returning(|| Ok(()));
    let (status, _, body) = call(
        state(users, vec![google_vouching_for_ada()]),
        TestRequest::get().uri("/health"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["providers"], json!({"google": "ready"}));
}

#[actix_web::test]
async fn a_provider_that_is_not_ready_shows_in_health_without_making_it_unhealthy() {
    let mut users = MockUserRepository::new();
    users.expect_ping().returning(|| Ok(()));
    let mut google = MockIdentityProvider::new();
    google.expect_provider().return_const(Provider::Google);
    google.expect_is_ready().returning(|| false);
    let (status, _, body) = call(
        state(users, vec![google]),
        TestRequest::get().uri("/health"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": "ok", "providers": {"google": "unavailable"}})
    );
}

fn state_publishing(keys: Vec<PublicJwk>) -> AppState {
    let mut tokens = MockAccessTokens::new();
    tokens
        .expect_published_keys()
        .returning(move || keys.clone());
    AppState::new(
        Arc::new(MockUserRepository::new()),
        Arc::new(tokens),
        Vec::<Arc<dyn zeropass_domain::IdentityProvider>>::new(),
    )
}

fn jwks_request() -> TestRequest {
    TestRequest::get().uri("/.well-known/jwks.json")
}

fn es256_key() -> PublicJwk {
    PublicJwk {
        kid: "q3bF1cV9Q0yLr8mZ2aT7xw".into(),
        alg: "ES256",
        kty: "EC",
        crv: "P-256",
        x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
        y: Some("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into()),
    }
}

fn eddsa_key() -> PublicJwk {
    PublicJwk {
        kid: "Xo2nWl0bQpC6sJ4tYd8eKg".into(),
        alg: "EdDSA",
        kty: "OKP",
        crv: "Ed25519",
        x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        y: None,
    }
}

#[actix_web::test]
async fn the_jwks_is_empty_when_nothing_is_published() {
    let (status, headers, body) = call(state_publishing(Vec::new()), jwks_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"keys": []}));
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
}

#[actix_web::test]
async fn the_jwks_lists_ec_keys_with_y_and_okp_keys_without_it() {
    let (status, _, body) = call(
        state_publishing(vec![es256_key(), eddsa_key()]),
        jwks_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"keys": [
            {"kid": "q3bF1cV9Q0yLr8mZ2aT7xw", "alg": "ES256", "use": "sig", "kty": "EC", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kid": "Xo2nWl0bQpC6sJ4tYd8eKg", "alg": "EdDSA", "use": "sig", "kty": "OKP", "crv": "Ed25519",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]})
    );
}

#[actix_web::test]
async fn the_jwks_may_be_cached_publicly_for_five_minutes_and_carries_the_security_headers() {
    let (_, headers, _) = call(state_publishing(vec![eddsa_key()]), jwks_request()).await;
    assert_eq!(headers.get("cache-control").unwrap(), "public, max-age=300");
    assert_eq!(crate::JWKS_MAX_AGE_SECONDS, 300);
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert!(
        headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

#[actix_web::test]
async fn the_jwks_is_in_the_openapi_document_with_an_example() {
    let (_, _, document) = call(
        state_publishing(Vec::new()),
        TestRequest::get().uri("/openapi.json"),
    )
    .await;
    let operation = &document["paths"]["/.well-known/jwks.json"]["get"];
    assert!(operation.is_object(), "{document}");
    let schema = &document["components"]["schemas"]["JwkSet"];
    assert_eq!(schema["example"]["keys"][0]["use"], "sig", "{schema}");
}
