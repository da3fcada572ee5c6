//! Sign in with Google through the real server and a fake Google on loopback: the native door
//! (an id_token posted by an app) and the browser redirect flow, end to end.

use crate::harness::{PUBLIC_URL, TestServer, assert_problem, client};
use serde_json::{Value, json};
use std::time::Duration;
use zeropass_fake_providers::{Endpoint, Failure, FakeGoogle, FakeGoogleUser};

const APP_REDIRECT: &str = "com.example.app:/signed-in";
const IOS_CLIENT_ID: &str = "ios-client-id.apps.googleusercontent.com";

fn server_for(google: &FakeGoogle) -> TestServer {
    let issuer = google.issuer();
    TestServer::start_with(&[
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET),
        ("GOOGLE_ISSUER_URL", &issuer),
        ("GOOGLE_EXTRA_AUDIENCES", IOS_CLIENT_ID),
        ("ALLOWED_REDIRECT_URIS", APP_REDIRECT),
    ])
}

fn user(sub: &str, email: &str) -> FakeGoogleUser {
    FakeGoogleUser {
        sub: sub.into(),
        email: Some(email.into()),
        email_verified: Some(true),
    }
}

async fn post_id_token(server: &TestServer, id_token: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/google/token"))
        .json(&json!({ "id_token": id_token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_app_signs_in_with_an_id_token_and_the_token_works_on_users_me() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let id_token = google.id_token_for(
        &user("sub-ada", "Ada@Example.com"),
        FakeGoogle::CLIENT_ID,
        None,
    );
    let response = post_id_token(&server, &id_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["provider"], "google");
    let me: Value = client()
        .get(server.url("/users/me"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], body["user"]["id"]);

    let again: Value = post_id_token(
        &server,
        &google.id_token_for(
            &user("sub-ada", "ada@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        again["user"]["id"], body["user"]["id"],
        "a returning user keeps their id"
    );

    let logs = server.logs();
    assert!(
        !logs.contains(&id_token) && !logs.contains(FakeGoogle::CLIENT_SECRET),
        "a credential reached the log"
    );
}

#[tokio::test]
async fn an_extra_audience_is_accepted_and_an_unknown_one_is_refused() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let ios = google.id_token_for(&user("sub-ios", "ios@example.com"), IOS_CLIENT_ID, None);
    assert_eq!(post_id_token(&server, &ios).await.status(), 200);
    let other = google.id_token_for(
        &user("sub-other", "other@example.com"),
        "someone-elses-client",
        None,
    );
    assert_problem(
        post_id_token(&server, &other).await,
        401,
        "invalid_id_token",
    )
    .await;
}

#[tokio::test]
async fn an_unverified_email_is_refused_and_creates_no_user() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let unverified = FakeGoogleUser {
        email_verified: Some(false),
        ..user("sub-unverified", "unverified@example.com")
    };
    let response = post_id_token(
        &server,
        &google.id_token_for(&unverified, FakeGoogle::CLIENT_ID, None),
    )
    .await;
    assert_problem(response, 401, "email_not_verified").await;
    // Had a row been written, this verified sign-in of the same subject would return it with
    // the old creation time; a brand-new row is created now instead.
    let before = chrono::Utc::now().timestamp();
    let body: Value = post_id_token(
        &server,
        &google.id_token_for(
            &user("sub-unverified", "unverified@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(body["user"]["created_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
    assert!(created >= before - 1, "{body}");
}

#[tokio::test]
async fn a_forged_or_tampered_id_token_is_401_invalid_id_token() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": google.issuer(), "aud": FakeGoogle::CLIENT_ID, "sub": "sub-x", "email": "x@example.com",
                        "email_verified": true, "iat": now, "exp": now + 3600});
    let unpublished = google.sign_with_unpublished_key(claims.clone());
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 7200);
    expired["exp"] = json!(now - 3600);
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("https://accounts.evil.example");
    for token in [
        unpublished,
        google.sign_claims(json!({}), expired),
        google.sign_claims(json!({}), wrong_issuer),
        "not.a.jwt".into(),
    ] {
        assert_problem(
            post_id_token(&server, &token).await,
            401,
            "invalid_id_token",
        )
        .await;
    }
}

/// Follows the browser flow: `start` → the fake's authorization endpoint → back to `callback`
/// with the flow cookie. Returns the callback's response.
async fn browser_sign_in(server: &TestServer, start_query: &str) -> reqwest::Response {
    let start = client()
        .get(server.url(&format!("/auth/google/start{start_query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let to_google = start.headers()["location"].to_str().unwrap().to_owned();
    let from_google = client().get(&to_google).send().await.unwrap();
    assert_eq!(
        from_google.status(),
        302,
        "the fake's authorization endpoint refused: {}",
        from_google.text().await.unwrap()
    );
    let back = url::Url::parse(from_google.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", back.origin().ascii_serialization(), back.path()),
        format!("{PUBLIC_URL}/auth/google/callback")
    );
    client()
        .get(server.url(&format!("/auth/google/callback?{}", back.query().unwrap())))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_signs_in_through_the_redirect_flow_with_pkce() {
    let google = FakeGoogle::start();
    google.set_user(user("sub-browser", "browser@example.com"));
    let server = server_for(&google);
    let response = browser_sign_in(&server, "").await;
    assert_eq!(response.status(), 200);
    let cleared = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cleared.starts_with("zeropass_flow=;"), "{cleared}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "browser@example.com");
    let exchange = google.last_token_request().unwrap();
    assert_eq!(
        exchange.redirect_uri,
        format!("{PUBLIC_URL}/auth/google/callback")
    );
    assert!(
        exchange
            .code_verifier
            .is_some_and(|verifier| verifier.len() >= 43)
    );
    assert!(
        !server.logs().contains(&exchange.code),
        "the authorization code reached the log"
    );
}

#[tokio::test]
async fn with_an_allowed_client_redirect_the_token_arrives_in_the_fragment() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let response = browser_sign_in(&server, "?redirect_uri=com.example.app%3A%2Fsigned-in").await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    let fragment = location
        .strip_prefix(&format!("{APP_REDIRECT}#"))
        .unwrap_or_else(|| panic!("{location}"));
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["access_token", "token_type", "expires_in"]
    );
    let me = client()
        .get(server.url("/users/me"))
        .bearer_auth(&pairs[0].1)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_disallowed_client_redirect_is_refused_before_google_is_involved() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let response = client()
        .get(server.url("/auth/google/start?redirect_uri=https%3A%2F%2Fevil.example%2F"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "redirect_uri_not_allowed").await;
    assert_eq!(google.requests(Endpoint::Authorize), 0);
}

#[tokio::test]
async fn a_callback_whose_state_does_not_match_is_400_and_never_reaches_the_token_endpoint() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let start = client()
        .get(server.url("/auth/google/start"))
        .send()
        .await
        .unwrap();
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let response = client()
        .get(server.url("/auth/google/callback?code=anything&state=forged"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_state").await;
    assert_eq!(google.requests(Endpoint::Token), 0);
}

#[tokio::test]
async fn a_tampered_nonce_in_the_redirect_flow_is_refused() {
    let google = FakeGoogle::start();
    google.set_tamper(|claims| claims["nonce"] = json!("replayed-nonce"));
    let server = server_for(&google);
    assert_problem(browser_sign_in(&server, "").await, 401, "invalid_id_token").await;
}

#[tokio::test]
async fn google_down_at_start_up_is_a_502_then_it_recovers() {
    let google = FakeGoogle::start();
    google.set_failure(Endpoint::Discovery, Some(Failure::Status(503)));
    let server = server_for(&google);
    let id_token = google.id_token_for(
        &user("sub-late", "late@example.com"),
        FakeGoogle::CLIENT_ID,
        None,
    );
    assert_problem(
        post_id_token(&server, &id_token).await,
        502,
        "provider_unavailable",
    )
    .await;
    assert_problem(
        client()
            .get(server.url("/auth/google/start"))
            .send()
            .await
            .unwrap(),
        502,
        "provider_unavailable",
    )
    .await;
    google.set_failure(Endpoint::Discovery, None);
    let mut status = 0;
    for _ in 0..40 {
        status = post_id_token(&server, &id_token).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "zeropass did not recover once Google was back");
}
