//! The browser flow in-process over a mock provider: what `start` sends and sets, and every
//! way `callback` accepts or refuses an attempt.

use crate::{AppState, BrowserFlow, app};
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self as actix_test, TestRequest};
use chrono::DateTime;
use mockall::predicate::always;
use std::sync::Arc;
use uuid::Uuid;
use zeropass_domain::{
    AuthorizationFlow, Email, IdentityError, IdentityProvider, IssuedToken, MockAccessTokens,
    MockIdentityProvider, MockUserRepository, Provider, Subject, User, UserId, VerifiedIdentity,
};

const APP_REDIRECT: &str = "com.example.app:/signed-in";

fn alice() -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(0xaaaa_bbbb_cccc_4ddd_8eee_ffff_0000_1111)),
        email: Email::parse("alice@example.com").unwrap(),
        provider: Provider::Google,
        subject: Subject::parse("alice-sub").unwrap(),
        is_active: true,
        created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}

/// A Google whose authorization URL echoes the flow, and whose code "good" vouches for Alice
/// when the flow is the one `start` minted.
fn google(expected_completions: usize) -> MockIdentityProvider {
    let mut google = MockIdentityProvider::new();
    google.expect_provider().return_const(Provider::Google);
    google
        .expect_authorization_url()
        .returning(|flow: &AuthorizationFlow| {
            Ok(format!(
                "https://accounts.example/auth?state={}&nonce={}&redirect_uri={}",
                flow.state, flow.nonce, flow.callback_url
            ))
        });
    google
        .expect_complete_authorization()
        .with(always(), always())
        .times(expected_completions)
        .returning(|code: &str, flow: &AuthorizationFlow| {
            assert_eq!(
                flow.callback_url,
                "https://auth.example.com/auth/google/callback"
            );
            assert_eq!(flow.pkce_verifier.len(), 43);
            if code == "good" {
                Ok(VerifiedIdentity {
                    provider: Provider::Google,
                    subject: Subject::parse("alice-sub").unwrap(),
                    email: Email::parse("alice@example.com").unwrap(),
                })
            } else {
                Err(IdentityError::InvalidAuthorizationCode(
                    "invalid_grant".into(),
                ))
            }
        });
    google
}

fn facebook() -> MockIdentityProvider {
    let mut facebook = MockIdentityProvider::new();
    facebook.expect_provider().return_const(Provider::Facebook);
    facebook.expect_complete_authorization().never();
    facebook
}

fn state(google: MockIdentityProvider) -> AppState {
    let mut users = MockUserRepository::new();
    users.expect_resolve_or_create().returning(|_| Ok(alice()));
    let mut tokens = MockAccessTokens::new();
    tokens.expect_issue().returning(|_| {
        Ok(IssuedToken {
            token: "issued.access.token".into(),
            expires_in: 3600,
        })
    });
    let providers: Vec<Arc<dyn IdentityProvider>> = vec![Arc::new(google), Arc::new(facebook())];
    AppState::new(Arc::new(users), Arc::new(tokens), providers).with_browser_flow(BrowserFlow::new(
        "https://auth.example.com/",
        &[42; 64],
        vec![APP_REDIRECT.into()],
    ))
}

struct Answer {
    status: StatusCode,
    location: String,
    set_cookie: Option<Cookie<'static>>,
    body: serde_json::Value,
}

async fn answer<B: MessageBody>(response: ServiceResponse<B>) -> Answer {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let set_cookie = response.response().cookies().next().map(|c| c.into_owned());
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        location,
        set_cookie,
        body,
    }
}

/// Sends a `TestRequest` to a service from `init_service` (whose request type actix-web does
/// not re-export, hence a macro rather than a function).
macro_rules! send {
    ($service:expr, $request:expr) => {
        answer($service.call($request.to_request()).await.unwrap()).await
    };
}

/// Runs `start` (with an optional client redirect); gives the state sent to the provider and
/// the flow cookie.
macro_rules! started {
    ($service:expr, $provider:expr, $redirect:expr) => {{
        let redirect: Option<&str> = $redirect;
        let uri = match redirect {
            Some(redirect) => format!(
                "/auth/{}/start?redirect_uri={}",
                $provider,
                url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
            ),
            None => format!("/auth/{}/start", $provider),
        };
        let answer = send!($service, TestRequest::get().uri(&uri));
        (
            query_value(&answer.location, "state"),
            answer.set_cookie.unwrap(),
        )
    }};
}

fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

macro_rules! service {
    ($google:expr) => {
        actix_test::init_service(app(state($google))).await
    };
}

#[actix_web::test]
async fn start_redirects_to_the_provider_with_fresh_secrets_and_sets_the_sealed_cookie() {
    let service = actix_test::init_service(app(state(google(0)))).await;
    let first = send!(service, TestRequest::get().uri("/auth/google/start"));
    let second = send!(service, TestRequest::get().uri("/auth/google/start"));
    assert_eq!(first.status, StatusCode::FOUND);
    assert!(
        first.location.starts_with("https://accounts.example/auth?"),
        "{}",
        first.location
    );
    assert_eq!(
        query_value(&first.location, "redirect_uri"),
        "https://auth.example.com/auth/google/callback"
    );
    assert_ne!(
        query_value(&first.location, "state"),
        query_value(&second.location, "state")
    );
    assert_ne!(
        query_value(&first.location, "nonce"),
        query_value(&second.location, "nonce")
    );
    let cookie = first.set_cookie.unwrap();
    assert_eq!(cookie.name(), "__Host-zeropass_flow");
    assert_eq!(
        (cookie.http_only(), cookie.secure(), cookie.path()),
        (Some(true), Some(true), Some("/"))
    );
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert!(
        cookie
            .max_age()
            .is_some_and(|age| age.whole_seconds() <= 600 && age.whole_seconds() > 0)
    );
    assert!(
        !cookie
            .value()
            .contains(&query_value(&first.location, "state")),
        "the cookie shows the state in clear"
    );
}

#[actix_web::test]
async fn a_redirect_uri_outside_the_allow_list_is_refused_before_any_redirect() {
    let mut google = MockIdentityProvider::new();
    google.expect_provider().return_const(Provider::Google);
    google.expect_authorization_url().never();
    let service = actix_test::init_service(app(state(google))).await;
    for uri in [
        "https://evil.example/",
        "com.example.app:/signed-in/",
        "com.example.app:/signed-in?x=1",
        "COM.EXAMPLE.APP:/signed-in",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(uri.as_bytes()).collect();
        let answer = send!(
            service,
            TestRequest::get().uri(&format!("/auth/google/start?redirect_uri={encoded}"))
        );
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("redirect_uri_not_allowed")),
            "{uri}"
        );
        assert!(answer.location.is_empty() && answer.set_cookie.is_none());
    }
}

#[actix_web::test]
async fn a_matching_callback_answers_the_token_and_clears_the_cookie() {
    let service = service!(google(1));
    let (state, cookie) = started!(service, "google", None);
    let answer = send!(
        service,
        TestRequest::get()
            .uri(&format!("/auth/google/callback?code=good&state={state}"))
            .cookie(cookie)
    );
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["access_token"], "issued.access.token");
    assert_eq!(answer.body["user"]["email"], "alice@example.com");
    let removal = answer.set_cookie.unwrap();
    assert_eq!(
        (removal.name(), removal.value()),
        ("__Host-zeropass_flow", "")
    );
    assert!(removal.max_age().is_some_and(|age| age.is_zero()) || removal.expires().is_some());
}

#[actix_web::test]
async fn with_a_client_redirect_the_token_travels_in_the_fragment_of_a_303() {
    let service = service!(google(1));
    let (state, cookie) = started!(service, "google", Some(APP_REDIRECT));
    let answer = send!(
        service,
        TestRequest::get()
            .uri(&format!("/auth/google/callback?code=good&state={state}"))
            .cookie(cookie)
    );
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        answer.location,
        format!(
            "{APP_REDIRECT}#access_token=issued.access.token&token_type=Bearer&expires_in=3600"
        )
    );
}

#[actix_web::test]
async fn a_state_mismatch_or_a_missing_cookie_is_400_and_the_provider_is_never_called() {
    let service = service!(google(0));
    let (state, cookie) = started!(service, "google", None);
    let mut wrong = state.clone();
    wrong.replace_range(0..1, if state.starts_with('A') { "B" } else { "A" });
    for request in [
        TestRequest::get()
            .uri(&format!("/auth/google/callback?code=good&state={wrong}"))
            .cookie(cookie.clone()),
        TestRequest::get()
            .uri("/auth/google/callback?code=good")
            .cookie(cookie.clone()),
        TestRequest::get().uri(&format!("/auth/google/callback?code=good&state={state}")),
        TestRequest::get()
            .uri(&format!("/auth/google/callback?code=good&state={state}"))
            .cookie(Cookie::new("__Host-zeropass_flow", "forged")),
    ] {
        let answer = send!(service, request);
        assert_eq!(
            (answer.status, answer.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_state")),
            "{}",
            answer.body
        );
    }
}

#[actix_web::test]
async fn a_state_minted_for_google_is_refused_at_the_facebook_callback() {
    let service = service!(google(0));
    let (state, cookie) = started!(service, "google", None);
    let answer = send!(
        service,
        TestRequest::get()
            .uri(&format!("/auth/facebook/callback?code=good&state={state}"))
            .cookie(cookie)
    );
    assert_eq!(
        (answer.status, answer.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_state"))
    );
}

#[actix_web::test]
async fn a_provider_error_is_401_access_denied_and_its_description_is_never_reflected() {
    let service = service!(google(0));
    let (state, cookie) = started!(service, "google", None);
    let uri = format!(
        "/auth/google/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}"
    );
    let answer = send!(service, TestRequest::get().uri(&uri).cookie(cookie));
    assert_eq!(
        (answer.status, answer.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("access_denied"))
    );
    assert!(
        !answer.body.to_string().contains("script"),
        "{}",
        answer.body
    );
}

#[actix_web::test]
async fn with_a_client_redirect_a_provider_error_travels_in_the_fragment() {
    let service = service!(google(0));
    let (state, cookie) = started!(service, "google", Some(APP_REDIRECT));
    let uri =
        format!("/auth/google/callback?error=access_denied&error_description=nope&state={state}");
    let answer = send!(service, TestRequest::get().uri(&uri).cookie(cookie));
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        answer.location,
        format!("{APP_REDIRECT}#error=access_denied")
    );
}

#[actix_web::test]
async fn a_refused_code_is_401_invalid_grant() {
    let service = service!(google(1));
    let (state, cookie) = started!(service, "google", None);
    let answer = send!(
        service,
        TestRequest::get()
            .uri(&format!("/auth/google/callback?code=stale&state={state}"))
            .cookie(cookie)
    );
    assert_eq!(
        (answer.status, answer.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_grant"))
    );
}
