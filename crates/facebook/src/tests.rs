//! The adapter against the fake Facebook on loopback (`zeropass-fake-providers`): both doors end
//! to end, every `/debug_token` and `/me` rule, `appsecret_proof` on every Graph call, a Graph
//! API that is down, slow, garbled or oversized, and what never reaches a log or an error.

use crate::{FacebookConfig, FacebookIdentityProvider, FacebookSetupError, Tuning};
use secrecy::SecretString;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use zeropass_domain::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential, Provider,
    VerifiedIdentity,
};
use zeropass_fake_providers::{FacebookEndpoint, Failure, FakeFacebook, FakeFacebookUser};

const APP_ID: &str = FakeFacebook::APP_ID;
const CALLBACK: &str = "http://127.0.0.1:8080/auth/facebook/callback";

fn config_for(fake: &FakeFacebook, secret: &str) -> FacebookConfig {
    FacebookConfig {
        app_id: APP_ID.to_owned(),
        app_secret: SecretString::from(secret),
        graph_url: fake.graph_url().parse().unwrap(),
        dialog_url: fake.dialog_url().parse().unwrap(),
        pkce: true,
    }
}

fn facebook(fake: &FakeFacebook) -> FacebookIdentityProvider {
    FacebookIdentityProvider::new(config_for(fake, FakeFacebook::APP_SECRET)).unwrap()
}

/// A provider whose calls, and whole operations, give up after `timeout`.
fn facebook_within(fake: &FakeFacebook, timeout: Duration) -> FacebookIdentityProvider {
    let tuning = Tuning {
        connect_timeout: timeout,
        total_timeout: timeout,
        ..Tuning::default()
    };
    FacebookIdentityProvider::with_tuning(config_for(fake, FakeFacebook::APP_SECRET), tuning)
        .unwrap()
}

static FLOWS: AtomicUsize = AtomicUsize::new(0);

fn flow() -> AuthorizationFlow {
    let n = FLOWS.fetch_add(1, Ordering::Relaxed);
    AuthorizationFlow {
        state: format!("state-{n}"),
        nonce: format!("nonce-{n}"),
        // 43 characters or more, as RFC 7636 wants (and the HTTP layer mints).
        pkce_verifier: format!("verifier-{n:0>40}"),
        callback_url: CALLBACK.to_owned(),
    }
}

/// What the browser would do: follow the dialog URL to the fake, which redirects to our
/// callback with a code; returns the code.
async fn authorize(facebook: &FacebookIdentityProvider, flow: &AuthorizationFlow) -> String {
    let url = facebook.authorization_url(flow).await.unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let response = browser.get(&url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap();
    let location = url::Url::parse(location).unwrap();
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(flow.state.as_str()));
    param("code").unwrap()
}

async fn browser_sign_in(
    facebook: &FacebookIdentityProvider,
) -> Result<VerifiedIdentity, IdentityError> {
    let flow = flow();
    let code = authorize(facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await
}

async fn native(
    facebook: &FacebookIdentityProvider,
    token: &str,
) -> Result<VerifiedIdentity, IdentityError> {
    facebook
        .verify_native_credential(&NativeCredential {
            token: token.to_owned(),
            nonce: Some("ignored-nonce".to_owned()),
        })
        .await
}

fn reason(result: Result<VerifiedIdentity, IdentityError>) -> String {
    match result {
        Err(IdentityError::InvalidAccessToken(reason)) => reason,
        other => panic!("expected InvalidAccessToken, got {other:?}"),
    }
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, IdentityError>) {
    assert!(
        matches!(result, Err(IdentityError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

fn assert_email_required<T: std::fmt::Debug>(result: Result<T, IdentityError>) {
    assert!(
        matches!(result, Err(IdentityError::EmailRequired)),
        "expected EmailRequired, got {result:?}"
    );
}

fn bob() -> FakeFacebookUser {
    FakeFacebookUser {
        id: "10000000000000002".into(),
        email: Some("Bob.Builder@Example.COM".into()),
    }
}

// ---- set-up --------------------------------------------------------------------------------

fn config(app_id: &str, secret: &str, graph: &str, dialog: &str) -> FacebookConfig {
    FacebookConfig {
        app_id: app_id.to_owned(),
        app_secret: SecretString::from(secret),
        graph_url: graph.parse().unwrap(),
        dialog_url: dialog.parse().unwrap(),
        pkce: true,
    }
}

#[test]
fn the_adapter_is_built_from_the_default_urls_without_io() {
    let facebook = FacebookIdentityProvider::new(config(
        APP_ID,
        "secret",
        crate::FACEBOOK_GRAPH_URL,
        crate::FACEBOOK_DIALOG_URL,
    ))
    .unwrap();
    assert_eq!(facebook.provider(), Provider::Facebook);
}

#[test]
fn an_empty_app_id_or_secret_or_an_unusable_url_is_refused_at_set_up() {
    let (graph, dialog) = (crate::FACEBOOK_GRAPH_URL, crate::FACEBOOK_DIALOG_URL);
    let cases = [
        (config(" ", "s", graph, dialog), "EmptyAppId"),
        (config(APP_ID, "", graph, dialog), "EmptyAppSecret"),
        (
            config(APP_ID, "s", "http://graph.facebook.com/v21.0", dialog),
            "InvalidGraphUrl",
        ),
        (
            config(APP_ID, "s", "https://graph.facebook.com/v21.0?x=1", dialog),
            "InvalidGraphUrl",
        ),
        (
            config(APP_ID, "s", graph, "http://www.facebook.com/dialog/oauth"),
            "InvalidDialogUrl",
        ),
    ];
    for (config, expected) in cases {
        let error = FacebookIdentityProvider::new(config).unwrap_err();
        assert!(format!("{error:?}").starts_with(expected), "{error:?}");
    }
    let error: FacebookSetupError =
        FacebookIdentityProvider::new(config(APP_ID, "s", "ftp://x.example", dialog)).unwrap_err();
    assert!(error.to_string().contains("Graph API URL"), "{error}");
}

// ---- the redirect flow -------------------------------------------------------------------

#[tokio::test]
async fn a_browser_sign_in_returns_the_app_scoped_id_and_the_lower_cased_email() {
    let fake = FakeFacebook::start();
    fake.set_user(bob());
    let identity = browser_sign_in(&facebook(&fake)).await.unwrap();
    assert_eq!(identity.provider, Provider::Facebook);
    assert_eq!(identity.subject.as_str(), "10000000000000002");
    assert_eq!(identity.email.as_str(), "bob.builder@example.com");
}

#[tokio::test]
async fn the_authorization_url_opens_the_configured_dialog_with_the_email_scope() {
    let fake = FakeFacebook::start();
    let flow = flow();
    let url = facebook(&fake).authorization_url(&flow).await.unwrap();
    assert!(url.starts_with(&format!("{}?", fake.dialog_url())), "{url}");
    let url = url::Url::parse(&url).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let challenge = s256(&flow.pkce_verifier);
    let expected = [
        ("client_id", APP_ID),
        ("redirect_uri", CALLBACK),
        ("state", flow.state.as_str()),
        ("response_type", "code"),
        ("scope", "email"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    assert_eq!(query, expected);
    assert_eq!(fake.requests(FacebookEndpoint::Dialog), 0, "no I/O");
}

fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// A provider with `FACEBOOK_PKCE` as given.
fn facebook_with_pkce(fake: &FakeFacebook, pkce: bool) -> FacebookIdentityProvider {
    FacebookIdentityProvider::new(FacebookConfig {
        pkce,
        ..config_for(fake, FakeFacebook::APP_SECRET)
    })
    .unwrap()
}

#[tokio::test]
async fn with_pkce_the_exchange_sends_the_flows_verifier() {
    let fake = FakeFacebook::start();
    fake.set_require_pkce(true);
    let facebook = facebook_with_pkce(&fake, true);
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await.unwrap();
    assert_eq!(
        fake.last_code_exchange().unwrap().code_verifier.as_deref(),
        Some(flow.pkce_verifier.as_str())
    );
}

#[tokio::test]
async fn with_pkce_a_code_injected_into_another_flow_is_refused() {
    let fake = FakeFacebook::start();
    let facebook = facebook_with_pkce(&fake, true);
    let (victims, attackers) = (flow(), flow());
    let leaked = authorize(&facebook, &victims).await;
    let injected = facebook.complete_authorization(&leaked, &attackers).await;
    assert!(
        matches!(injected, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{injected:?}"
    );
}

#[tokio::test]
async fn without_pkce_neither_challenge_nor_verifier_is_sent_and_an_injected_code_works() {
    let fake = FakeFacebook::start();
    let facebook = facebook_with_pkce(&fake, false);
    let (victims, attackers) = (flow(), flow());
    let url = facebook.authorization_url(&victims).await.unwrap();
    assert!(!url.contains("code_challenge"), "{url}");
    let leaked = authorize(&facebook, &victims).await;
    // The residual risk docs/facebook.md states: the code alone is enough.
    facebook
        .complete_authorization(&leaked, &attackers)
        .await
        .unwrap();
    assert_eq!(fake.last_code_exchange().unwrap().code_verifier, None);
}

#[tokio::test]
async fn the_code_is_exchanged_once_with_the_app_secret_and_exactly_the_dialogs_redirect_uri() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await.unwrap();
    let exchange = fake.last_code_exchange().unwrap();
    assert_eq!(exchange.client_id, APP_ID);
    assert_eq!(exchange.redirect_uri, CALLBACK);
    assert_eq!(exchange.code, code);
    assert!(exchange.client_secret_ok);
    assert_eq!(fake.requests(FacebookEndpoint::AccessToken), 1);
    assert_eq!(fake.requests(FacebookEndpoint::DebugToken), 1);
    assert_eq!(fake.requests(FacebookEndpoint::Me), 1);
}

#[tokio::test]
async fn a_used_or_made_up_code_is_an_invalid_authorization_code_and_is_not_retried() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await.unwrap();
    let replay = facebook.complete_authorization(&code, &flow).await;
    assert!(
        matches!(replay, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{replay:?}"
    );
    assert_eq!(
        fake.requests(FacebookEndpoint::AccessToken),
        2,
        "one attempt each, no retry"
    );
    for forged in ["AQmade-up", ""] {
        let result = facebook.complete_authorization(forged, &flow).await;
        assert!(
            matches!(result, Err(IdentityError::InvalidAuthorizationCode(_))),
            "{result:?}"
        );
    }
    assert_eq!(fake.requests(FacebookEndpoint::DebugToken), 1);
}

#[tokio::test]
async fn a_code_exchanged_with_another_redirect_uri_is_refused() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    let elsewhere = AuthorizationFlow {
        callback_url: format!("{CALLBACK}/"),
        ..flow
    };
    let result = facebook.complete_authorization(&code, &elsewhere).await;
    assert!(
        matches!(result, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{result:?}"
    );
    assert_eq!(
        fake.last_code_exchange().unwrap().redirect_uri,
        format!("{CALLBACK}/")
    );
}

#[tokio::test]
async fn a_wrong_app_secret_makes_facebook_unavailable_rather_than_the_code_invalid() {
    let fake = FakeFacebook::start();
    let facebook = FacebookIdentityProvider::new(config_for(&fake, "not-the-app-secret")).unwrap();
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    assert_unavailable(facebook.complete_authorization(&code, &flow).await);
    assert!(!fake.last_code_exchange().unwrap().client_secret_ok);
    assert_eq!(fake.requests(FacebookEndpoint::AccessToken), 1);
}

#[tokio::test]
async fn a_wrong_app_secret_makes_the_native_door_unavailable_too() {
    let fake = FakeFacebook::start();
    let facebook = FacebookIdentityProvider::new(config_for(&fake, "not-the-app-secret")).unwrap();
    let token = fake.user_token_for(&FakeFacebookUser::default());
    assert_unavailable(native(&facebook, &token).await);
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

#[tokio::test]
async fn a_browser_sign_in_without_an_email_requires_one() {
    let fake = FakeFacebook::start();
    fake.set_user(FakeFacebookUser {
        email: None,
        ..FakeFacebookUser::default()
    });
    assert_email_required(browser_sign_in(&facebook(&fake)).await);
}

#[tokio::test]
async fn the_exchanged_token_goes_through_the_same_checks_as_a_native_one() {
    let fake = FakeFacebook::start();
    fake.set_debug_token_tamper(|data| data["app_id"] = json!("999"));
    assert_eq!(
        reason(browser_sign_in(&facebook(&fake)).await),
        "issued for another app"
    );
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

// ---- native access tokens ----------------------------------------------------------------

#[tokio::test]
async fn a_native_token_of_our_app_is_verified_and_its_nonce_ignored() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for(&bob());
    let identity = native(&facebook(&fake), &token).await.unwrap();
    assert_eq!(identity.provider, Provider::Facebook);
    assert_eq!(identity.subject.as_str(), "10000000000000002");
    assert_eq!(identity.email.as_str(), "bob.builder@example.com");
}

#[tokio::test]
async fn a_token_of_another_app_is_refused_before_me_is_read() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for_app(&FakeFacebookUser::default(), "6543210987654321");
    assert_eq!(
        reason(native(&facebook(&fake), &token).await),
        "issued for another app"
    );
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let token = fake.expired_user_token_for(&FakeFacebookUser::default());
    // Facebook itself says it is no longer valid...
    assert_eq!(reason(native(&facebook, &token).await), "not valid");
    // ...and a verdict that forgot to say so is caught by its `expires_at`.
    fake.set_debug_token_tamper(|data| data["is_valid"] = json!(true));
    assert_eq!(reason(native(&facebook, &token).await), "expired");
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

#[tokio::test]
async fn an_unknown_token_is_refused() {
    let fake = FakeFacebook::start();
    assert_eq!(
        reason(native(&facebook(&fake), "EAAnot-a-token-facebook-issued").await),
        "not valid"
    );
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

#[tokio::test]
async fn an_empty_or_oversized_token_is_refused_without_asking_facebook() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    assert_eq!(reason(native(&facebook, "").await), "empty");
    assert_eq!(reason(native(&facebook, "  ").await), "empty");
    assert_eq!(
        reason(native(&facebook, &"E".repeat(64 * 1024)).await),
        "too long"
    );
    assert_eq!(fake.requests(FacebookEndpoint::DebugToken), 0);
}

/// Rewrites the `data` of `/debug_token` answers.
type Tamper = fn(&mut serde_json::Value);

#[tokio::test]
async fn every_broken_debug_token_rule_is_an_invalid_access_token() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let cases: [(Tamper, &str); 7] = [
        (|data| data["is_valid"] = json!(false), "not valid"),
        (
            |data| {
                data.as_object_mut().unwrap().remove("is_valid");
            },
            "not valid",
        ),
        (|data| data["type"] = json!("PAGE"), "not a user token"),
        (|data| data["type"] = json!("APP"), "not a user token"),
        (|data| data["expires_at"] = json!(1_000_000_000), "expired"),
        (
            |data| {
                data.as_object_mut().unwrap().remove("user_id");
            },
            "no user id",
        ),
        (
            |data| data["user_id"] = json!("10000000000000666"),
            "the token's user is not the one /me describes",
        ),
    ];
    for (tamper, expected) in cases {
        fake.set_debug_token_tamper(tamper);
        let token = fake.user_token_for(&FakeFacebookUser::default());
        assert_eq!(reason(native(&facebook, &token).await), expected);
    }
}

#[tokio::test]
async fn a_token_that_never_expires_is_accepted() {
    let fake = FakeFacebook::start();
    fake.set_debug_token_tamper(|data| data["expires_at"] = json!(0));
    let token = fake.user_token_for(&FakeFacebookUser::default());
    assert!(native(&facebook(&fake), &token).await.is_ok());
}

#[tokio::test]
async fn an_account_without_a_usable_email_requires_one() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    for email in [None, Some(String::new()), Some("not-an-address".to_owned())] {
        let user = FakeFacebookUser {
            email,
            ..FakeFacebookUser::default()
        };
        assert_email_required(native(&facebook, &fake.user_token_for(&user)).await);
    }
}

#[tokio::test]
async fn every_graph_call_carries_a_valid_appsecret_proof() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    browser_sign_in(&facebook).await.unwrap();
    native(&facebook, &fake.user_token_for(&bob()))
        .await
        .unwrap();
    let _ = native(&facebook, "EAAunknown").await;
    let _ = native(&facebook, &fake.expired_user_token_for(&bob())).await;
    assert!(fake.requests(FacebookEndpoint::DebugToken) >= 4);
    assert_eq!(fake.requests(FacebookEndpoint::Me), 2);
    assert_eq!(fake.graph_requests_without_valid_proof(), 0);
}

// ---- a broken Graph API ----------------------------------------------------------------------

fn failures() -> [Failure; 5] {
    [
        Failure::Status(500),
        Failure::Status(400),
        Failure::Garbage,
        Failure::Huge,
        Failure::Delay(Duration::from_secs(15)),
    ]
}

/// Asserts that `call` ends as unavailable, in about the one-second timeout.
async fn assert_unavailable_quickly<T: std::fmt::Debug>(
    failure: &Failure,
    call: impl Future<Output = Result<T, IdentityError>>,
) {
    let started = Instant::now();
    let result = call.await;
    assert!(
        matches!(result, Err(IdentityError::Unavailable(_))),
        "{failure:?}: {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{failure:?} took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_broken_token_endpoint_is_unavailable_and_the_exchange_never_retried() {
    let fake = FakeFacebook::start();
    let facebook = facebook_within(&fake, Duration::from_secs(1));
    for failure in failures() {
        let flow = flow();
        let code = authorize(&facebook, &flow).await;
        fake.set_failure(FacebookEndpoint::AccessToken, Some(failure.clone()));
        let before = fake.requests(FacebookEndpoint::AccessToken);
        assert_unavailable_quickly(&failure, facebook.complete_authorization(&code, &flow)).await;
        assert_eq!(
            fake.requests(FacebookEndpoint::AccessToken),
            before + 1,
            "{failure:?}: never retried"
        );
        fake.set_failure(FacebookEndpoint::AccessToken, None);
    }
}

#[tokio::test]
async fn a_broken_debug_token_endpoint_is_unavailable() {
    let fake = FakeFacebook::start();
    let facebook = facebook_within(&fake, Duration::from_secs(1));
    for failure in failures() {
        fake.set_failure(FacebookEndpoint::DebugToken, Some(failure.clone()));
        let token = fake.user_token_for(&FakeFacebookUser::default());
        assert_unavailable_quickly(&failure, native(&facebook, &token)).await;
        let flow = flow();
        let code = authorize(&facebook, &flow).await;
        assert_unavailable_quickly(&failure, facebook.complete_authorization(&code, &flow)).await;
    }
    assert_eq!(fake.requests(FacebookEndpoint::Me), 0);
}

#[tokio::test]
async fn a_broken_me_endpoint_is_unavailable() {
    let fake = FakeFacebook::start();
    let facebook = facebook_within(&fake, Duration::from_secs(1));
    for failure in failures() {
        fake.set_failure(FacebookEndpoint::Me, Some(failure.clone()));
        let token = fake.user_token_for(&FakeFacebookUser::default());
        assert_unavailable_quickly(&failure, native(&facebook, &token)).await;
    }
}

#[tokio::test]
async fn the_deadline_covers_the_whole_sign_in_not_each_call() {
    let fake = FakeFacebook::start();
    let facebook = facebook_within(&fake, Duration::from_secs(1));
    let slow = Failure::Delay(Duration::from_millis(700));
    fake.set_failure(FacebookEndpoint::DebugToken, Some(slow.clone()));
    fake.set_failure(FacebookEndpoint::Me, Some(slow.clone()));
    let token = fake.user_token_for(&FakeFacebookUser::default());
    let started = Instant::now();
    assert_unavailable(native(&facebook, &token).await);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_dead_facebook_is_unavailable() {
    let (facebook, token) = {
        let fake = FakeFacebook::start();
        let token = fake.user_token_for(&FakeFacebookUser::default());
        (self::facebook(&fake), token)
    }; // stopped: nothing listens there any more
    assert_unavailable(native(&facebook, &token).await);
    assert_unavailable(facebook.complete_authorization("AQcode", &flow()).await);
    assert!(facebook.authorization_url(&flow()).await.is_ok());
}

// ---- hygiene -------------------------------------------------------------------------------

#[tokio::test]
async fn debug_output_never_shows_the_app_secret() {
    let fake = FakeFacebook::start();
    let facebook = facebook(&fake);
    let shown = format!("{facebook:?}");
    assert!(!shown.contains(FakeFacebook::APP_SECRET), "{shown}");
    assert!(
        !shown.contains(&FakeFacebook::appsecret_proof(
            &FakeFacebook::app_access_token()
        )),
        "{shown}"
    );
    assert!(shown.contains(APP_ID), "{shown}");
}

/// Everything an outcome shows: its `Display` and its `Debug` (which includes the source).
fn shown<T>(result: &Result<T, IdentityError>) -> String {
    match result {
        Ok(_) => String::new(),
        Err(error) => format!("{error} {error:?}"),
    }
}

#[tokio::test]
async fn errors_never_quote_a_token_a_code_or_a_secret() {
    let fake = FakeFacebook::start();
    let facebook = facebook_within(&fake, Duration::from_secs(1));
    let user = FakeFacebookUser::default();
    let mut secrets = vec![
        FakeFacebook::APP_SECRET.to_owned(),
        FakeFacebook::appsecret_proof(&FakeFacebook::app_access_token()),
    ];
    let mut outcomes = Vec::new();

    let other_app = fake.user_token_for_app(&user, "6543210987654321");
    let expired = fake.expired_user_token_for(&user);
    for token in [&other_app, &expired] {
        outcomes.push(shown(&native(&facebook, token).await));
        secrets.push(FakeFacebook::appsecret_proof(token));
    }
    secrets.extend([other_app, expired]);

    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await.unwrap();
    outcomes.push(shown(&facebook.complete_authorization(&code, &flow).await));
    secrets.push(code);

    for (endpoint, failure) in [
        (FacebookEndpoint::AccessToken, Failure::Status(400)),
        (
            FacebookEndpoint::AccessToken,
            Failure::Delay(Duration::from_secs(5)),
        ),
        (FacebookEndpoint::DebugToken, Failure::Garbage),
        (FacebookEndpoint::Me, Failure::Status(500)),
        (FacebookEndpoint::Me, Failure::Delay(Duration::from_secs(5))),
    ] {
        let token = fake.user_token_for(&user);
        let flow = self::flow();
        let code = authorize(&facebook, &flow).await;
        fake.set_failure(endpoint, Some(failure));
        outcomes.push(shown(&native(&facebook, &token).await));
        outcomes.push(shown(&facebook.complete_authorization(&code, &flow).await));
        fake.set_failure(endpoint, None);
        secrets.push(FakeFacebook::appsecret_proof(&token));
        secrets.extend([token, code]);
    }
    let dead = {
        let fake = FakeFacebook::start();
        let token = fake.user_token_for(&user);
        (self::facebook(&fake), token)
    };
    outcomes.push(shown(&native(&dead.0, &dead.1).await));
    secrets.push(dead.1);

    let text = outcomes.join("\n");
    assert!(
        text.contains("unavailable") && text.contains("invalid"),
        "{text}"
    );
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret} is in:\n{text}");
    }
    assert!(!text.contains("access_token="), "{text}");
}

/// Collects formatted log lines for [`nothing_secret_is_logged_at_info_or_above`].
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of the whole test binary from the first call on, at info and above. Global, not a
/// scoped `set_default`: tracing caches each call site's interest process-wide, so a scoped
/// subscriber misses events whose call sites other tests' threads reached first.
fn captured_logs() -> &'static LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[tokio::test]
async fn nothing_secret_is_logged_at_info_or_above() {
    let logs = captured_logs();

    let fake = FakeFacebook::start();
    let user = FakeFacebookUser {
        id: "10000000000000003".into(),
        email: Some("Carol.Secret@Example.com".into()),
    };
    fake.set_user(user.clone());
    let facebook = facebook(&fake);
    let mut secrets = vec![
        FakeFacebook::APP_SECRET.to_owned(),
        FakeFacebook::app_access_token(),
        FakeFacebook::appsecret_proof(&FakeFacebook::app_access_token()),
        "carol.secret".to_owned(),
    ];

    // A sign-in, a replayed code, good and refused native tokens, an outage.
    let flow = flow();
    let code = authorize(&facebook, &flow).await;
    facebook.complete_authorization(&code, &flow).await.unwrap();
    assert!(facebook.complete_authorization(&code, &flow).await.is_err());
    secrets.extend([code, flow.state]);
    let good = fake.user_token_for(&user);
    let foreign = fake.user_token_for_app(&user, "6543210987654321");
    let expired = fake.expired_user_token_for(&user);
    native(&facebook, &good).await.unwrap();
    assert!(native(&facebook, &foreign).await.is_err());
    assert!(native(&facebook, &expired).await.is_err());
    fake.set_failure(FacebookEndpoint::Me, Some(Failure::Status(500)));
    assert!(native(&facebook, &good).await.is_err());
    for token in [good, foreign, expired] {
        secrets.push(FakeFacebook::appsecret_proof(&token));
        secrets.push(token);
    }

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("refused") && text.contains("unavailable"),
        "{text}"
    );
    for secret in secrets {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "{secret} is in the log:\n{text}"
        );
    }
}
