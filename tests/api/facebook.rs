//! Sign in with Facebook through the real server and a fake Facebook (dialog and Graph API) on
//! loopback: the native door (a user access token posted by an app) and the redirect flow.

use crate::flows::{self, CameBack};
use crate::harness::{PUBLIC_URL, TestServer, assert_problem, client, flow_cookie};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use zeropass_domain::Provider;
use zeropass_fake_providers::{
    FacebookEndpoint, Failure, FakeFacebook, FakeFacebookUser, FakeGoogle, FakeGoogleUser,
};

const APP_REDIRECT: &str = "https://app.example.com/signed-in";

fn facebook_variables(facebook: &FakeFacebook) -> Vec<(&'static str, String)> {
    vec![
        ("FACEBOOK_APP_ID", FakeFacebook::APP_ID.to_owned()),
        ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET.to_owned()),
        ("FACEBOOK_GRAPH_URL", facebook.graph_url()),
        ("FACEBOOK_DIALOG_URL", facebook.dialog_url()),
        ("ALLOWED_REDIRECT_URIS", APP_REDIRECT.to_owned()),
    ]
}

fn server_for(facebook: &FakeFacebook) -> TestServer {
    let variables = facebook_variables(facebook);
    let pairs: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(&pairs)
}

/// A server with both providers configured, against both fakes.
fn server_for_both(facebook: &FakeFacebook, google: &FakeGoogle) -> TestServer {
    let mut variables = facebook_variables(facebook);
    variables.extend([
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID.to_owned()),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET.to_owned()),
        ("GOOGLE_ISSUER_URL", google.issuer()),
    ]);
    let pairs: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start_with(&pairs)
}

fn person(id: &str, email: Option<&str>) -> FakeFacebookUser {
    FakeFacebookUser {
        id: id.into(),
        email: email.map(Into::into),
    }
}

async fn post_access_token(server: &TestServer, access_token: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/facebook/token"))
        .json(&json!({ "access_token": access_token }))
        .send()
        .await
        .unwrap()
}

fn graph_calls(facebook: &FakeFacebook) -> usize {
    [
        FacebookEndpoint::AccessToken,
        FacebookEndpoint::DebugToken,
        FacebookEndpoint::Me,
    ]
    .into_iter()
    .map(|e| facebook.requests(e))
    .sum()
}

#[tokio::test]
async fn an_app_signs_in_with_a_user_access_token_and_returns_as_the_same_user() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let token = facebook.user_token_for(&person("10001", Some("Zoe@Example.com")));
    let response = post_access_token(&server, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "zoe@example.com");
    assert_eq!(body["user"]["provider"], "facebook");
    let me = client()
        .get(server.url("/users/me"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let again: Value = post_access_token(
        &server,
        &facebook.user_token_for(&person("10001", Some("zoe@example.com"))),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["user"]["id"], body["user"]["id"]);
    assert_eq!(
        facebook.graph_requests_without_valid_proof(),
        0,
        "a Graph call lacked a valid appsecret_proof"
    );
    let logs = server.logs();
    for secret in [token.as_str(), FakeFacebook::APP_SECRET] {
        assert!(!logs.contains(secret), "a credential reached the log");
    }
}

#[tokio::test]
async fn the_dialog_url_carries_our_app_the_callback_the_state_the_email_scope_and_pkce_s256() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let start = client()
        .get(server.url("/auth/facebook/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let dialog = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<String, String> =
        dialog.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], FakeFacebook::APP_ID);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], "email");
    assert_eq!(
        query["redirect_uri"],
        format!("{PUBLIC_URL}/auth/facebook/callback")
    );
    assert!(query["state"].len() >= 32);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(facebook.requests(FacebookEndpoint::Dialog), 0);
}

#[tokio::test]
async fn a_browser_signs_in_through_the_dialog_and_the_code_exchange_with_pkce() {
    let facebook = FakeFacebook::start();
    facebook.set_user(person("10002", Some("browser@example.com")));
    // Without a challenge the dialog refuses; with one, the exchange needs its verifier.
    facebook.set_require_pkce(true);
    let server = server_for(&facebook);
    let callback = flows::browser_sign_in(&server, Provider::Facebook, "").await;
    assert_eq!(callback.status(), 200);
    let body: Value = callback.json().await.unwrap();
    assert_eq!(body["user"]["email"], "browser@example.com");
    let exchange = facebook.last_code_exchange().unwrap();
    assert_eq!(
        exchange.redirect_uri,
        format!("{PUBLIC_URL}/auth/facebook/callback")
    );
    assert!(exchange.client_secret_ok);
    let verifier = exchange
        .code_verifier
        .expect("the exchange sent no code_verifier");
    assert_eq!(verifier.len(), 43);
    assert_eq!(facebook.graph_requests_without_valid_proof(), 0);
    let logs = server.logs();
    assert!(!logs.contains(&exchange.code), "the code reached the log");
    assert!(!logs.contains(&verifier), "the verifier reached the log");
}

/// The callback of `attacker`'s own flow, but with the code `victim`'s flow received.
fn injected(victim: &CameBack, attacker: &CameBack) -> CameBack {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &victim.param("code").unwrap())
        .append_pair("state", &attacker.param("state").unwrap())
        .finish();
    CameBack {
        query,
        cookie: attacker.cookie.clone(),
    }
}

#[tokio::test]
async fn a_code_leaked_from_one_browser_s_flow_is_refused_in_another_s() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let victim = flows::authorize(&server, Provider::Facebook, "").await;
    let attacker = flows::authorize(&server, Provider::Facebook, "").await;
    let response = flows::finish(&server, Provider::Facebook, &injected(&victim, &attacker)).await;
    assert_problem(response, 401, "invalid_grant").await;
    assert_eq!(server.database().count().await.unwrap(), 0);
}

#[tokio::test]
async fn with_facebook_pkce_false_no_challenge_is_sent_and_a_leaked_code_still_works() {
    let facebook = FakeFacebook::start();
    let mut variables = facebook_variables(&facebook);
    variables.push(("FACEBOOK_PKCE", "false".to_owned()));
    let pairs: Vec<(&str, &str)> = variables.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_with(&pairs);
    let victim = flows::authorize(&server, Provider::Facebook, "").await;
    let attacker = flows::authorize(&server, Provider::Facebook, "").await;
    assert_eq!(facebook.last_code_exchange(), None);
    // The residual risk docs/facebook.md states for this setting.
    let response = flows::finish(&server, Provider::Facebook, &injected(&victim, &attacker)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(facebook.last_code_exchange().unwrap().code_verifier, None);
}

#[tokio::test]
async fn with_an_allowed_client_redirect_the_token_arrives_in_the_fragment() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let callback = flows::browser_sign_in(
        &server,
        Provider::Facebook,
        "?redirect_uri=https%3A%2F%2Fapp.example.com%2Fsigned-in",
    )
    .await;
    assert_eq!(callback.status(), 303);
    let location = callback.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{APP_REDIRECT}#access_token=")),
        "{location}"
    );
    assert!(
        location.contains("&token_type=Bearer&expires_in="),
        "{location}"
    );
}

#[tokio::test]
async fn a_state_mismatch_is_400_with_no_graph_call_at_all() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let start = client()
        .get(server.url("/auth/facebook/start"))
        .send()
        .await
        .unwrap();
    let cookie = flow_cookie(&start);
    let response = client()
        .get(server.url("/auth/facebook/callback?code=c&state=forged"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_state").await;
    assert_eq!(graph_calls(&facebook), 0);
}

#[tokio::test]
async fn a_google_state_is_refused_at_the_facebook_callback_and_the_other_way_round() {
    let facebook = FakeFacebook::start();
    let google = FakeGoogle::start();
    let server = server_for_both(&facebook, &google);
    for (started, finished) in [("google", "facebook"), ("facebook", "google")] {
        let start = client()
            .get(server.url(&format!("/auth/{started}/start")))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302, "{started}");
        let cookie = flow_cookie(&start);
        let state: String = url::Url::parse(start.headers()["location"].to_str().unwrap())
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let response = client()
            .get(server.url(&format!("/auth/{finished}/callback?code=c&state={state}")))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "invalid_state").await;
    }
    assert_eq!(graph_calls(&facebook), 0);
}

#[tokio::test]
async fn tokens_facebook_does_not_vouch_for_are_401_and_write_nothing() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let zoe = person("10003", Some("zoe3@example.com"));
    let cases = [
        (
            "another app's token",
            facebook.user_token_for_app(&zoe, "999999999"),
        ),
        ("an expired token", facebook.expired_user_token_for(&zoe)),
        (
            "a token Facebook never issued",
            "EAAGm0PX4ZCpsBAforged".to_owned(),
        ),
    ];
    for (case, token) in cases {
        let response = post_access_token(&server, &token).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_problem(response, 401, "invalid_access_token").await;
    }
    assert_eq!(server.database().count().await.unwrap(), 0);
}

#[tokio::test]
async fn debug_token_saying_invalid_or_naming_another_user_is_401() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let token = facebook.user_token_for(&person("10004", Some("d@example.com")));
    facebook.set_debug_token_tamper(|data| data["is_valid"] = json!(false));
    assert_problem(
        post_access_token(&server, &token).await,
        401,
        "invalid_access_token",
    )
    .await;
    facebook.set_debug_token_tamper(|data| data["user_id"] = json!("10000000000000999"));
    assert_problem(
        post_access_token(&server, &token).await,
        401,
        "invalid_access_token",
    )
    .await;
    assert_eq!(server.database().count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_account_without_email_is_422_and_writes_nothing() {
    let facebook = FakeFacebook::start();
    let server = server_for(&facebook);
    let token = facebook.user_token_for(&person("10005", None));
    assert_problem(
        post_access_token(&server, &token).await,
        422,
        "email_required",
    )
    .await;
    assert_eq!(server.database().count().await.unwrap(), 0);
}

#[tokio::test]
async fn graph_failing_or_slow_is_a_502_in_bounded_time() {
    for (endpoint, failure) in [
        (FacebookEndpoint::DebugToken, Failure::Status(500)),
        (FacebookEndpoint::Me, Failure::Garbage),
        (
            FacebookEndpoint::DebugToken,
            Failure::Delay(Duration::from_secs(15)),
        ),
    ] {
        let facebook = FakeFacebook::start();
        facebook.set_failure(endpoint, Some(failure));
        let server = server_for(&facebook);
        let token = facebook.user_token_for(&person("10006", Some("slow@example.com")));
        let started = Instant::now();
        assert_problem(
            post_access_token(&server, &token).await,
            502,
            "provider_unavailable",
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "502 took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn the_same_email_at_google_and_at_facebook_makes_two_users() {
    let facebook = FakeFacebook::start();
    let google = FakeGoogle::start();
    let server = server_for_both(&facebook, &google);
    let at_facebook: Value = post_access_token(
        &server,
        &facebook.user_token_for(&person("10007", Some("both@example.com"))),
    )
    .await
    .json()
    .await
    .unwrap();
    let id_token = google.id_token_for(
        &FakeGoogleUser {
            sub: "g-both".into(),
            email: Some("both@example.com".into()),
            email_verified: Some(true),
        },
        FakeGoogle::CLIENT_ID,
        None,
    );
    let at_google: Value = client()
        .post(server.url("/auth/google/token"))
        .json(&json!({ "id_token": id_token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(at_facebook["user"]["email"], at_google["user"]["email"]);
    assert_ne!(at_facebook["user"]["id"], at_google["user"]["id"]);
    assert_eq!(
        (
            at_facebook["user"]["provider"].as_str(),
            at_google["user"]["provider"].as_str()
        ),
        (Some("facebook"), Some("google"))
    );
    assert_eq!(server.database().count().await.unwrap(), 2);
}
