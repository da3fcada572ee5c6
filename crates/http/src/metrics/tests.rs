//! The metrics in-process: the middleware labels requests by route pattern, the provider
//! decorator times and classifies failures, `/metrics` exports every family and reads the
//! pool hook at each scrape — and no request value ever becomes a label.

use super::{Metrics, ProviderFailure, ProviderOperation, metrics, metrics_middleware};
use crate::instrumented::InstrumentedProvider;
use crate::problem::ApiError;
use crate::{AppState, app, metrics_app};
use actix_web::body::MessageBody;
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::test::{self as actix_test, TestRequest};
use actix_web::{App, HttpResponse, web};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use zeropass_domain::{
    AuthorizationFlow, Email, IdentityError, IdentityProvider, IssuedToken, MockAccessTokens,
    MockIdentityProvider, MockUserRepository, NativeCredential, Provider, Subject,
    VerifiedIdentity,
};

fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        provider: Provider::Google,
        subject: Subject::parse("google-sub").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
    }
}

fn flow() -> AuthorizationFlow {
    AuthorizationFlow {
        state: "s".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        callback_url: "http://127.0.0.1/auth/google/callback".into(),
    }
}

fn credential(token: &str) -> NativeCredential {
    NativeCredential {
        token: token.into(),
        nonce: None,
    }
}

fn state_with(providers: Vec<Arc<dyn IdentityProvider>>) -> AppState {
    let mut tokens = MockAccessTokens::new();
    tokens.expect_issue().returning(|_| {
        Ok(IssuedToken {
            token: "issued.access.token".into(),
            expires_in: 3600,
        })
    });
    AppState::new(
        Arc::new(MockUserRepository::new()),
        Arc::new(tokens),
        providers,
    )
}

/// An app of a few routes (one with a path parameter) plus `/metrics`, wrapped like the real one.
fn test_app(
    state: AppState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state.metrics().clone()))
        .wrap(metrics_middleware())
        .service(web::resource("/users/me").get(HttpResponse::Ok))
        .service(web::resource("/things/{id}").get(HttpResponse::NoContent))
        .service(
            web::resource("/refused")
                .get(|| async { Err::<HttpResponse, _>(ApiError::AccountDisabled) }),
        )
        .service(web::resource("/metrics").get(metrics))
}

async fn scrape(state: &AppState) -> String {
    let service = actix_test::init_service(test_app(state.clone())).await;
    let response =
        actix_test::call_service(&service, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    String::from_utf8(
        response
            .into_body()
            .try_into_bytes()
            .unwrap_or_default()
            .to_vec(),
    )
    .unwrap()
}

fn requests(metrics: &Metrics, route: &str, method: &str, status: &str) -> u64 {
    metrics
        .families
        .http_duration
        .with_label_values(&[route, method, status])
        .get_sample_count()
}

fn provider_calls(metrics: &Metrics, operation: ProviderOperation) -> (u64, f64) {
    let histogram = metrics
        .families
        .provider_duration
        .with_label_values(&["google", operation.as_str()]);
    (histogram.get_sample_count(), histogram.get_sample_sum())
}

fn provider_failures(
    metrics: &Metrics,
    operation: ProviderOperation,
    failure: ProviderFailure,
) -> u64 {
    metrics
        .families
        .provider_failures
        .with_label_values(&["google", operation.as_str(), failure.as_str()])
        .get()
}

fn sign_ins(metrics: &Metrics, provider: &str, outcome: &str) -> u64 {
    metrics
        .families
        .sign_ins
        .with_label_values(&[provider, outcome])
        .get()
}

#[actix_web::test]
async fn a_request_is_timed_under_its_route_pattern_not_its_raw_path() {
    let state = state_with(vec![]);
    let service = actix_test::init_service(test_app(state.clone())).await;
    for uri in [
        "/things/ada@example.com",
        "/things/eyJhbGciOi.secret",
        "/users/me",
    ] {
        let response = service
            .call(TestRequest::get().uri(uri).to_request())
            .await
            .unwrap();
        assert!(response.status().is_success(), "{uri}");
    }
    let metrics = state.metrics();
    assert_eq!(requests(metrics, "/things/{id}", "GET", "204"), 2);
    assert_eq!(requests(metrics, "/users/me", "GET", "200"), 1);

    let text = scrape(&state).await;
    assert!(text.contains(r#"route="/things/{id}""#), "{text}");
    for raw in ["ada@example.com", "eyJhbGciOi", "secret"] {
        assert!(!text.contains(raw), "{raw} leaked into {text}");
    }
}

#[actix_web::test]
async fn unknown_paths_are_one_unmatched_route_and_errors_keep_their_status() {
    let state = state_with(vec![]);
    let service = actix_test::init_service(test_app(state.clone())).await;
    for uri in ["/nope", "/wp-admin/login.php?token=abc", "/refused"] {
        service
            .call(TestRequest::get().uri(uri).to_request())
            .await
            .unwrap();
    }
    service
        .call(
            TestRequest::default()
                .method(actix_web::http::Method::from_bytes(b"BREW").unwrap())
                .uri("/users/me")
                .to_request(),
        )
        .await
        .unwrap();
    let metrics = state.metrics();
    assert_eq!(requests(metrics, "unmatched", "GET", "404"), 2);
    assert_eq!(requests(metrics, "/refused", "GET", "403"), 1);
    assert_eq!(requests(metrics, "/users/me", "other", "405"), 1);
    let text = scrape(&state).await;
    assert!(
        !text.contains("wp-admin") && !text.contains("BREW"),
        "{text}"
    );
}

/// Answers after a delay: the decorator must time the wrapped call, not itself.
#[derive(Debug)]
struct SlowGoogle;

#[async_trait]
impl IdentityProvider for SlowGoogle {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn authorization_url(&self, _flow: &AuthorizationFlow) -> Result<String, IdentityError> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok("https://accounts.example/authorize".into())
    }

    async fn complete_authorization(
        &self,
        _code: &str,
        _flow: &AuthorizationFlow,
    ) -> Result<VerifiedIdentity, IdentityError> {
        Err(IdentityError::InvalidAuthorizationCode("used".into()))
    }

    async fn verify_native_credential(
        &self,
        credential: &NativeCredential,
    ) -> Result<VerifiedIdentity, IdentityError> {
        match credential.token.as_str() {
            "good" => Ok(identity()),
            "unverified" => Err(IdentityError::EmailNotVerified),
            _ => Err(IdentityError::Unavailable("connection refused".into())),
        }
    }
}

#[actix_web::test]
async fn the_decorator_times_every_call_and_counts_failures_by_kind() {
    let metrics = Metrics::new();
    let google = InstrumentedProvider::new(Arc::new(SlowGoogle), metrics.clone());
    assert_eq!(google.provider(), Provider::Google);

    let url = google.authorization_url(&flow()).await.unwrap();
    assert_eq!(url, "https://accounts.example/authorize");
    let (count, seconds) = provider_calls(&metrics, ProviderOperation::AuthorizationUrl);
    assert_eq!(count, 1);
    assert!(seconds >= 0.05, "{seconds}");

    assert!(matches!(
        google.complete_authorization("code", &flow()).await,
        Err(IdentityError::InvalidAuthorizationCode(_))
    ));
    assert!(
        google
            .verify_native_credential(&credential("good"))
            .await
            .is_ok()
    );
    assert!(matches!(
        google
            .verify_native_credential(&credential("unverified"))
            .await,
        Err(IdentityError::EmailNotVerified)
    ));
    for _ in 0..2 {
        assert!(matches!(
            google.verify_native_credential(&credential("down")).await,
            Err(IdentityError::Unavailable(_))
        ));
    }

    use ProviderFailure::{Rejected, Unavailable};
    use ProviderOperation::{AuthorizationUrl, CompleteAuthorization, VerifyNativeCredential};
    assert_eq!(provider_calls(&metrics, CompleteAuthorization).0, 1);
    assert_eq!(provider_calls(&metrics, VerifyNativeCredential).0, 4);
    assert_eq!(provider_failures(&metrics, AuthorizationUrl, Rejected), 0);
    assert_eq!(
        provider_failures(&metrics, AuthorizationUrl, Unavailable),
        0
    );
    assert_eq!(
        provider_failures(&metrics, CompleteAuthorization, Rejected),
        1
    );
    assert_eq!(
        provider_failures(&metrics, CompleteAuthorization, Unavailable),
        0
    );
    assert_eq!(
        provider_failures(&metrics, VerifyNativeCredential, Rejected),
        1
    );
    assert_eq!(
        provider_failures(&metrics, VerifyNativeCredential, Unavailable),
        2
    );
}

#[actix_web::test]
async fn app_state_instruments_the_providers_it_is_given() {
    let mut google = MockIdentityProvider::new();
    google.expect_provider().return_const(Provider::Google);
    google
        .expect_verify_native_credential()
        .times(1)
        .returning(|_| Err(IdentityError::InvalidIdToken("signature".into())));
    let state = state_with(vec![Arc::new(google)]);
    let service = actix_test::init_service(app(state.clone())).await;
    let response = service
        .call(
            TestRequest::post()
                .uri("/auth/google/token")
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"id_token":"forged"}"#)
                .to_request(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let metrics = state.metrics();
    assert_eq!(
        provider_calls(metrics, ProviderOperation::VerifyNativeCredential).0,
        1
    );
    assert_eq!(
        provider_failures(
            metrics,
            ProviderOperation::VerifyNativeCredential,
            ProviderFailure::Rejected
        ),
        1
    );
}

#[actix_web::test]
async fn sign_ins_are_counted_by_provider_and_problem_code() {
    let state = state_with(vec![]);
    let metrics = state.metrics();
    metrics.count_sign_in_result(Provider::Google, &Ok::<(), ApiError>(()));
    metrics.count_sign_in_result(Provider::Google, &Ok::<(), ApiError>(()));
    metrics.count_sign_in_result::<()>(
        Provider::Google,
        &Err(ApiError::InvalidIdToken(
            "bad signature for ada@example.com".into(),
        )),
    );
    metrics.count_sign_in_result::<()>(Provider::Facebook, &Err(ApiError::EmailRequired));
    assert_eq!(sign_ins(metrics, "google", "ok"), 2);
    assert_eq!(sign_ins(metrics, "google", "invalid_id_token"), 1);
    assert_eq!(sign_ins(metrics, "facebook", "email_required"), 1);
    assert!(!scrape(&state).await.contains("ada@example.com"));
}

#[actix_web::test]
async fn the_exposition_has_every_family_in_the_text_format() {
    let google = Arc::new(SlowGoogle) as Arc<dyn IdentityProvider>;
    let state = state_with(vec![google]).with_pool_gauge(|| (8, 5));
    let service = actix_test::init_service(test_app(state.clone())).await;
    service
        .call(TestRequest::get().uri("/users/me").to_request())
        .await
        .unwrap();
    state
        .providers
        .get(Provider::Google)
        .unwrap()
        .authorization_url(&flow())
        .await
        .unwrap();
    state
        .metrics()
        .count_sign_in(Provider::Google, super::SIGN_IN_OK);

    let response = service
        .call(TestRequest::get().uri("/metrics").to_request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(
        response
            .into_body()
            .try_into_bytes()
            .unwrap_or_default()
            .to_vec(),
    )
    .unwrap();
    for family in [
        "# TYPE zeropass_http_requests_duration_seconds histogram",
        "# TYPE zeropass_sign_ins_total counter",
        "# TYPE zeropass_identity_provider_duration_seconds histogram",
        "# TYPE zeropass_identity_provider_failures_total counter",
        "# TYPE zeropass_db_pool_connections gauge",
    ] {
        assert!(text.contains(family), "{family} missing from {text}");
    }
    assert!(
        text.contains(r#"zeropass_sign_ins_total{outcome="ok",provider="google"} 1"#),
        "{text}"
    );
    assert!(text.contains(
        r#"zeropass_identity_provider_failures_total{kind="unavailable",operation="verify_native_credential",provider="google"} 0"#
    ), "{text}");
}

#[actix_web::test]
async fn the_pool_gauges_follow_the_hook_at_each_scrape() {
    let in_use = Arc::new(AtomicU32::new(0));
    let hook_in_use = Arc::clone(&in_use);
    let state =
        state_with(vec![]).with_pool_gauge(move || (8, 8 - hook_in_use.load(Ordering::SeqCst)));

    let text = scrape(&state).await;
    assert!(
        text.contains(r#"zeropass_db_pool_connections{state="idle"} 8"#),
        "{text}"
    );
    assert!(
        text.contains(r#"zeropass_db_pool_connections{state="in_use"} 0"#),
        "{text}"
    );

    in_use.store(3, Ordering::SeqCst);
    let text = scrape(&state).await;
    assert!(
        text.contains(r#"zeropass_db_pool_connections{state="idle"} 5"#),
        "{text}"
    );
    assert!(
        text.contains(r#"zeropass_db_pool_connections{state="in_use"} 3"#),
        "{text}"
    );
}

#[actix_web::test]
async fn without_a_pool_hook_there_are_no_pool_gauges() {
    let text = scrape(&state_with(vec![])).await;
    assert!(!text.contains("zeropass_db_pool_connections"), "{text}");
}

#[test]
fn each_state_has_its_own_registry() {
    let first = state_with(vec![]);
    let second = state_with(vec![]);
    first.metrics().count_sign_in(Provider::Google, "ok");
    assert_eq!(sign_ins(first.metrics(), "google", "ok"), 1);
    assert_eq!(sign_ins(second.metrics(), "google", "ok"), 0);
}

#[actix_web::test]
async fn metrics_served_elsewhere_are_a_404_on_the_api_and_count_its_requests() {
    let state = state_with(vec![]).without_metrics_endpoint();
    let api = actix_test::init_service(app(state.clone())).await;
    let own_listener = actix_test::init_service(metrics_app(state.metrics().clone())).await;

    let hidden = api
        .call(TestRequest::get().uri("/metrics").to_request())
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let elsewhere = own_listener
        .call(TestRequest::get().uri("/users/me").to_request())
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status(),
        StatusCode::NOT_FOUND,
        "only /metrics there"
    );
    assert_eq!(
        elsewhere.headers().get("content-type").unwrap(),
        "application/problem+json"
    );

    let response = own_listener
        .call(TestRequest::get().uri("/metrics").to_request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        response
            .into_body()
            .try_into_bytes()
            .unwrap_or_default()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            r#"zeropass_http_requests_duration_seconds_count{method="GET",route="unmatched",status="404"} 1"#
        ),
        "the API's own 404 for /metrics is counted: {text}"
    );
}

#[actix_web::test]
async fn by_default_the_api_serves_its_metrics_itself() {
    let service = actix_test::init_service(app(state_with(vec![]))).await;
    let response = service
        .call(TestRequest::get().uri("/metrics").to_request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
