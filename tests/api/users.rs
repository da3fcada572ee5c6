//! `/users/me`: reading and erasing one's own record, and every way a bearer token is refused.

use crate::harness::{PUBLIC_URL, TEST_SECRET, TestServer, assert_problem, client, token_for};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use zeropass_domain::{Provider, User, UserRepository};

fn claims_for(user: &User) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": user.id.to_string(), "email": user.email.as_str(), "provider": "google",
           "iat": now, "exp": now + 600, "iss": PUBLIC_URL, "aud": "zeropass", "jti": uuid::Uuid::new_v4().to_string()})
}

fn sign(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn get_me(server: &TestServer, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client().get(server.url("/users/me"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

async fn assert_unauthorized(response: reqwest::Response, code: &str) -> Value {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer")),
        "challenge: {challenge:?}"
    );
    assert_problem(response, 401, code).await
}

#[tokio::test]
async fn a_valid_token_returns_the_user_and_nothing_more() {
    let server = TestServer::start();
    let user = server
        .create_user("Ada@Example.com", Provider::Google)
        .await;
    let response = get_me(&server, Some(&format!("Bearer {}", token_for(&user)))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": user.id.to_string(), "email": "ada@example.com", "provider": "google", "is_active": true,
               "created_at": user.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::start();
    let user = server
        .create_user("grace@example.com", Provider::Facebook)
        .await;
    let response = get_me(&server, Some(&format!("bEaReR {}", token_for(&user)))).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_doubled_bearer_scheme_is_refused_with_a_detail_that_says_so() {
    let server = TestServer::start();
    let user = server
        .create_user("swagger@example.com", Provider::Google)
        .await;
    let doubled = format!("Bearer Bearer {}", token_for(&user));
    let body = assert_unauthorized(get_me(&server, Some(&doubled)).await, "invalid_token").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("Bearer scheme twice"), "{detail}");
    assert!(!detail.contains(&token_for(&user)[..20]), "{detail}");
}

#[tokio::test]
async fn no_token_or_another_scheme_is_a_401_missing_token() {
    let server = TestServer::start();
    assert_unauthorized(get_me(&server, None).await, "missing_token").await;
    assert_unauthorized(
        get_me(&server, Some("Basic dXNlcjpwYXNz")).await,
        "missing_token",
    )
    .await;
}

#[tokio::test]
async fn every_bad_token_is_a_401_invalid_token() {
    let server = TestServer::start();
    let user = server
        .create_user("alan@example.com", Provider::Google)
        .await;
    let claims = claims_for(&user);
    let now = chrono::Utc::now().timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut changed = claims.clone();
        change(&mut changed);
        sign(&changed, TEST_SECRET.as_bytes())
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("two segments", "a.b".to_owned()),
        ("alg none", unsigned),
        ("HS512", hs512),
        (
            "another key",
            sign(&claims, b"another-secret-that-is-at-least-32-bytes"),
        ),
        (
            "expired",
            with(&|c| {
                c["iat"] = json!(now - 7200);
                c["exp"] = json!(now - 3600);
            }),
        ),
        (
            "another issuer",
            with(&|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "another audience",
            with(&|c| c["aud"] = json!("someone-else")),
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        ("sub not a user id", with(&|c| c["sub"] = json!("admin"))),
    ];
    for (case, token) in cases {
        let response = get_me(&server, Some(&format!("Bearer {token}"))).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_unauthorized(response, "invalid_token").await;
    }
    assert!(
        !server.logs().contains(TEST_SECRET),
        "the secret reached the log"
    );
}

#[tokio::test]
async fn a_valid_token_of_a_user_that_does_not_exist_is_refused() {
    let server = TestServer::start();
    let ghost = crate::harness::TestServer::start();
    let user = ghost
        .create_user("ghost@example.com", Provider::Google)
        .await;
    drop(ghost);
    assert_unauthorized(
        get_me(&server, Some(&format!("Bearer {}", token_for(&user)))).await,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn a_disabled_user_is_refused_with_403() {
    let server = TestServer::start();
    let user = server
        .create_user("disabled@example.com", Provider::Google)
        .await;
    assert!(
        server
            .database()
            .set_active(user.id, false)
            .await
            .unwrap()
            .is_some()
    );
    let authorization = format!("Bearer {}", token_for(&user));
    assert_problem(
        get_me(&server, Some(&authorization)).await,
        403,
        "account_disabled",
    )
    .await;
    let response = client()
        .delete(server.url("/users/me"))
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "account_disabled").await;
    assert!(
        server
            .database()
            .find_by_id(user.id)
            .await
            .unwrap()
            .is_some(),
        "a disabled user deleted itself"
    );
}

#[tokio::test]
async fn deleting_me_erases_the_row_and_the_token_stops_working() {
    let server = TestServer::start();
    let user = server
        .create_user("erase@example.com", Provider::Facebook)
        .await;
    let authorization = format!("Bearer {}", token_for(&user));
    let response = client()
        .delete(server.url("/users/me"))
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        server
            .database()
            .find_by_id(user.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_unauthorized(get_me(&server, Some(&authorization)).await, "invalid_token").await;
    let again = client()
        .delete(server.url("/users/me"))
        .header("authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_unauthorized(again, "invalid_token").await;
}

#[tokio::test]
async fn deleting_without_a_token_is_a_401() {
    let server = TestServer::start();
    let response = client()
        .delete(server.url("/users/me"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, "missing_token").await;
}
