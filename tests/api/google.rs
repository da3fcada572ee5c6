//! Sign in with Google through the real server and a fake Google on loopback: the native door
//! (an id_token posted by an app) and the browser redirect flow, end to end.

use crate::flows;
use crate::harness::{PUBLIC_URL, TestServer, assert_problem, client, flow_cookie};
use serde_json::{Value, json};
use std::time::Duration;
use zeropass_domain::Provider;
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

/// The browser flow at Google: `start` → the fake → `callback`.
async fn browser_sign_in(server: &TestServer, start_query: &str) -> reqwest::Response {
    flows::browser_sign_in(server, Provider::Google, start_query).await
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
    let cookie = flow_cookie(&start);
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
    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            health["status"].as_str(),
            health["providers"]["google"].as_str()
        ),
        (Some("ok"), Some("unavailable")),
        "{health}"
    );
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
    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["providers"]["google"], "ready", "{health}");
}

fn claims(google: &FakeGoogle, sub: &str, email: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": google.issuer(), "aud": FakeGoogle::CLIENT_ID, "azp": FakeGoogle::CLIENT_ID, "sub": sub, "email": email,
           "email_verified": true, "iat": now, "exp": now + 3600})
}

#[tokio::test]
async fn every_hostile_id_token_is_refused_and_writes_no_row() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let good = claims(&google, "sub-hostile", "hostile@example.com");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut changed = good.clone();
        change(&mut changed);
        google.sign_claims(json!({}), changed)
    };
    let valid = google.sign_claims(json!({}), good.clone());
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut signature_bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    signature_bytes[10] ^= 0x01;
    let flipped = format!(
        "{head}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(&signature_bytes)
    );
    let alg_none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let hs256_with_client_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(FakeGoogle::CLIENT_SECRET.as_bytes()),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("flipped signature byte", flipped, None, "invalid_id_token"),
        ("alg none", alg_none, None, "invalid_id_token"),
        (
            "HS256 with the client secret",
            hs256_with_client_secret,
            None,
            "invalid_id_token",
        ),
        (
            "wrong iss",
            with(&|c| c["iss"] = json!("https://accounts.google.com.evil.example")),
            None,
            "invalid_id_token",
        ),
        (
            "wrong aud",
            with(&|c| {
                c["aud"] = json!("another-client");
                c["azp"] = json!("another-client");
            }),
            None,
            "invalid_id_token",
        ),
        (
            "expired",
            with(&|c| {
                c["iat"] = json!(now - 7200);
                c["exp"] = json!(now - 3600);
            }),
            None,
            "invalid_id_token",
        ),
        (
            "issued in the future",
            with(&|c| c["iat"] = json!(now + 600)),
            None,
            "invalid_id_token",
        ),
        (
            "missing sub",
            with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            None,
            "invalid_id_token",
        ),
        (
            "nonce differs from the posted one",
            with(&|c| c["nonce"] = json!("token-nonce")),
            Some("posted-nonce"),
            "invalid_id_token",
        ),
        (
            "posted nonce but none in the token",
            valid.clone(),
            Some("posted-nonce"),
            "invalid_id_token",
        ),
        (
            "email_verified false",
            with(&|c| c["email_verified"] = json!(false)),
            None,
            "email_not_verified",
        ),
    ];
    for (case, id_token, nonce, code) in cases {
        let response = client()
            .post(server.url("/auth/google/token"))
            .json(&json!({"id_token": id_token, "nonce": nonce}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_problem(response, 401, code).await;
        assert_eq!(
            server.database().count().await.unwrap(),
            0,
            "{case} wrote a row"
        );
    }
    assert_eq!(
        post_id_token(&server, &valid).await.status(),
        200,
        "the untampered token must pass"
    );
}

#[tokio::test]
async fn an_app_that_posts_no_nonce_signs_in_whether_or_not_the_id_token_carries_one() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let sdk_nonce = google.id_token_for(
        &user("sub-sdk", "sdk@example.com"),
        FakeGoogle::CLIENT_ID,
        Some("nonce-the-sdk-chose"),
    );
    let no_nonce = google.id_token_for(
        &user("sub-sdk", "sdk@example.com"),
        FakeGoogle::CLIENT_ID,
        None,
    );
    for id_token in [&sdk_nonce, &no_nonce] {
        assert_eq!(post_id_token(&server, id_token).await.status(), 200);
    }
    let posted = client()
        .post(server.url("/auth/google/token"))
        .json(&json!({"id_token": sdk_nonce, "nonce": "nonce-the-sdk-chose"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200, "a posted nonce equal to the claim");
    let posted_null = client()
        .post(server.url("/auth/google/token"))
        .json(&json!({"id_token": sdk_nonce, "nonce": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted_null.status(),
        200,
        "a null nonce counts as not posted"
    );
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_s256_state_nonce_and_our_callback() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let start = client()
        .get(server.url("/auth/google/start"))
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/o/oauth2/v2/auth?", google.issuer())),
        "{location}"
    );
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], FakeGoogle::CLIENT_ID);
    assert_eq!(query["scope"], "openid email");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(
        query["redirect_uri"],
        format!("{PUBLIC_URL}/auth/google/callback")
    );
    assert!(query["state"].len() >= 32 && query["nonce"].len() >= 32);
    let cookie = start.headers()["set-cookie"].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/auth/"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(
        !cookie.contains(&query["state"]),
        "the state is readable in the cookie"
    );
}

#[tokio::test]
async fn a_missing_state_or_cookie_is_400_and_never_reaches_the_token_endpoint() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let start = client()
        .get(server.url("/auth/google/start"))
        .send()
        .await
        .unwrap();
    let cookie = flow_cookie(&start);
    let state: String = url::Url::parse(start.headers()["location"].to_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let no_state = client()
        .get(server.url("/auth/google/callback?code=c"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(no_state, 400, "invalid_state").await;
    let no_cookie = client()
        .get(server.url(&format!("/auth/google/callback?code=c&state={state}")))
        .send()
        .await
        .unwrap();
    assert_problem(no_cookie, 400, "invalid_state").await;
    assert_eq!(google.requests(Endpoint::Token), 0);
}

#[tokio::test]
async fn a_replayed_callback_is_refused_because_the_code_is_spent() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let came_back = flows::authorize(&server, Provider::Google, "").await;
    let callback = flows::finish(&server, Provider::Google, &came_back).await;
    assert_eq!(callback.status(), 200);
    let replay = flows::finish(&server, Provider::Google, &came_back).await;
    assert_problem(replay, 401, "invalid_grant").await;
}

#[tokio::test]
async fn a_rotated_google_key_is_accepted_after_one_jwks_refetch() {
    let google = FakeGoogle::start();
    let server = server_for(&google);
    assert_eq!(
        post_id_token(
            &server,
            &google.id_token_for(
                &user("sub-r1", "r1@example.com"),
                FakeGoogle::CLIENT_ID,
                None
            )
        )
        .await
        .status(),
        200
    );
    let fetched = google.requests(Endpoint::Jwks);
    google.rotate_key();
    assert_eq!(
        post_id_token(
            &server,
            &google.id_token_for(
                &user("sub-r2", "r2@example.com"),
                FakeGoogle::CLIENT_ID,
                None
            )
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        post_id_token(
            &server,
            &google.id_token_for(
                &user("sub-r3", "r3@example.com"),
                FakeGoogle::CLIENT_ID,
                None
            )
        )
        .await
        .status(),
        200
    );
    assert_eq!(google.requests(Endpoint::Jwks), fetched + 1);
}

#[tokio::test]
async fn a_key_withdrawn_from_google_s_jwks_is_refused_once_its_max_age_has_passed() {
    let google = FakeGoogle::start();
    // Five seconds: the shortest max-age zeropass honours.
    google.set_jwks_max_age(Some(5));
    let server = server_for(&google);
    let under_the_old_key = google.id_token_for(
        &user("sub-withdrawn", "withdrawn@example.com"),
        FakeGoogle::CLIENT_ID,
        None,
    );
    assert_eq!(
        post_id_token(&server, &under_the_old_key).await.status(),
        200
    );
    google.rotate_key();
    // The old kid is still in zeropass's cache, so nothing but the max-age can retire it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let refused = loop {
        let response = post_id_token(&server, &under_the_old_key).await;
        if response.status() != 200 {
            break response;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a key withdrawn from the JWKS was still trusted 30 s later (max-age 5 s)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_problem(refused, 401, "invalid_id_token").await;
    let under_the_new_key = google.id_token_for(
        &user("sub-withdrawn", "withdrawn@example.com"),
        FakeGoogle::CLIENT_ID,
        None,
    );
    assert_eq!(
        post_id_token(&server, &under_the_new_key).await.status(),
        200
    );
}

#[tokio::test]
async fn the_same_email_with_another_sub_is_409_and_a_new_email_for_the_same_sub_updates_the_user()
{
    let google = FakeGoogle::start();
    let server = server_for(&google);
    let first: Value = post_id_token(
        &server,
        &google.id_token_for(
            &user("sub-one", "shared@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let other_person = post_id_token(
        &server,
        &google.id_token_for(
            &user("sub-two", "shared@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        ),
    )
    .await;
    assert_problem(other_person, 409, "identity_conflict").await;
    let renamed: Value = post_id_token(
        &server,
        &google.id_token_for(
            &user("sub-one", "renamed@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(renamed["user"]["id"], first["user"]["id"]);
    assert_eq!(renamed["user"]["email"], "renamed@example.com");
    assert_eq!(server.database().count().await.unwrap(), 1);
}

#[tokio::test]
async fn google_slow_or_answering_garbage_is_a_502_in_bounded_time_while_health_stays_fast() {
    for failure in [Failure::Garbage, Failure::Delay(Duration::from_secs(15))] {
        let google = FakeGoogle::start();
        google.set_failure(Endpoint::Discovery, Some(failure));
        let server = server_for(&google);
        let id_token = google.id_token_for(
            &user("sub-slow", "slow@example.com"),
            FakeGoogle::CLIENT_ID,
            None,
        );
        let started = std::time::Instant::now();
        let sign_in = post_id_token(&server, &id_token);
        let health = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let asked = std::time::Instant::now();
            let response = client().get(server.url("/health")).send().await.unwrap();
            (response.status(), asked.elapsed())
        };
        let (response, (health_status, health_time)) = tokio::join!(sign_in, health);
        assert_problem(response, 502, "provider_unavailable").await;
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "502 took {:?}",
            started.elapsed()
        );
        assert_eq!(health_status, 200);
        assert!(
            health_time < Duration::from_secs(1),
            "/health took {health_time:?} while Google hung"
        );
    }
}
