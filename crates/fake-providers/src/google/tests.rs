//! The fake Google seen from outside, over HTTP with reqwest: the shape of what it serves, the
//! code flow it enforces, the tokens it signs and the failures it plays.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::{ClientAuth, Endpoint, Failure, FakeGoogle, FakeGoogleUser};

const REDIRECT_URI: &str = "http://127.0.0.1:8080/auth/google/callback";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn get_json(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Sends the browser to the authorization endpoint with `params` over the defaults; returns
/// where the fake redirects to.
async fn authorize_with(fake: &FakeGoogle, params: &[(&str, &str)]) -> Url {
    let challenge = challenge(VERIFIER);
    let mut query = vec![
        ("client_id", FakeGoogle::CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "the-state"),
        ("nonce", "the-nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    query.retain(|(name, _)| !params.iter().any(|(overridden, _)| overridden == name));
    query.extend(params.iter().filter(|(_, value)| !value.is_empty()));
    let response = client()
        .get(fake.url(Endpoint::Authorize))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn code(fake: &FakeGoogle) -> String {
    query_param(&authorize_with(fake, &[]).await, "code").unwrap()
}

/// Exchanges with Basic client authentication; `form` overrides the default fields ("" drops one).
async fn exchange(fake: &FakeGoogle, code: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    fields.retain(|(name, _)| !form.iter().any(|(overridden, _)| overridden == name));
    fields.extend(form.iter().filter(|(_, value)| !value.is_empty()));
    let request = client().post(fake.url(Endpoint::Token)).form(&fields);
    let request = match fields.iter().any(|(name, _)| *name == "client_secret") {
        true => request,
        false => request.basic_auth(FakeGoogle::CLIENT_ID, Some(FakeGoogle::CLIENT_SECRET)),
    };
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

fn header_kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Verifies `token` against the key the JWKS publishes under its kid, as a client would.
async fn verify(fake: &FakeGoogle, token: &str) -> Value {
    let jwks = get_json(&fake.url(Endpoint::Jwks)).await;
    let kid = header_kid(token);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[FakeGoogle::CLIENT_ID]);
    validation.set_issuer(&[fake.issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn the_discovery_document_has_googles_shape_and_points_at_the_fake() {
    let fake = FakeGoogle::start();
    let issuer = fake.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:") && !issuer.ends_with('/'));
    let document = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(document["issuer"], issuer.as_str());
    assert_eq!(
        document["authorization_endpoint"],
        format!("{issuer}/o/oauth2/v2/auth")
    );
    assert_eq!(document["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(document["jwks_uri"], format!("{issuer}/oauth2/v3/certs"));
    assert_eq!(document["subject_types_supported"], json!(["public"]));
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        document["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    assert!(
        document["response_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("code"))
    );
    let auth_methods = &document["token_endpoint_auth_methods_supported"];
    assert_eq!(
        auth_methods,
        &json!(["client_secret_post", "client_secret_basic"])
    );
    for field in ["userinfo_endpoint", "scopes_supported", "claims_supported"] {
        assert!(document.get(field).is_some(), "{field} missing");
    }
}

#[tokio::test]
async fn the_jwks_is_served_with_the_max_age_a_test_sets_like_google_s() {
    let fake = FakeGoogle::start();
    let cache_control = |response: &reqwest::Response| {
        response
            .headers()
            .get("cache-control")
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let response = client().get(fake.url(Endpoint::Jwks)).send().await.unwrap();
    assert_eq!(
        cache_control(&response).as_deref(),
        Some("public, max-age=19008, must-revalidate, no-transform")
    );
    fake.set_jwks_max_age(Some(5));
    let response = client().get(fake.url(Endpoint::Jwks)).send().await.unwrap();
    assert_eq!(
        cache_control(&response).as_deref(),
        Some("public, max-age=5, must-revalidate, no-transform")
    );
    fake.set_jwks_max_age(None);
    let response = client().get(fake.url(Endpoint::Jwks)).send().await.unwrap();
    assert_eq!(cache_control(&response), None);
}

#[tokio::test]
async fn the_jwks_publishes_the_current_rsa_key_and_the_extra_keys() {
    let fake = FakeGoogle::start();
    let extra = json!({"kty": "oct", "kid": "a-symmetric-key", "k": "c2VjcmV0"});
    fake.set_jwks_extra(vec![extra.clone()]);
    let jwks = get_json(&fake.url(Endpoint::Jwks)).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kid"], fake.current_kid().as_str());
    assert_eq!(
        (&keys[0]["kty"], &keys[0]["alg"], &keys[0]["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[0]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert_eq!(keys[1], extra);
    assert_eq!(jwks, fake.jwks());
}

#[tokio::test]
async fn the_code_flow_with_s256_pkce_and_basic_auth_returns_a_verifiable_id_token() {
    let fake = FakeGoogle::start();
    let location = authorize_with(&fake, &[]).await;
    assert!(location.as_str().starts_with(REDIRECT_URI));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("the-state")
    );
    let code = query_param(&location, "code").unwrap();

    let (status, body) = exchange(&fake, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|token| !token.is_empty())
    );
    let received = fake.last_token_request().unwrap();
    assert_eq!(received.client_auth, ClientAuth::Basic);
    assert_eq!(
        (received.client_id.as_str(), received.code.as_str()),
        (FakeGoogle::CLIENT_ID, code.as_str())
    );
    assert_eq!(received.code_verifier.as_deref(), Some(VERIFIER));
    assert_eq!(received.redirect_uri, REDIRECT_URI);
    assert_eq!(received.grant_type, "authorization_code");
}

#[tokio::test]
async fn the_code_flow_with_client_secret_post_works() {
    let fake = FakeGoogle::start();
    let code = code(&fake).await;
    let credentials = [
        ("client_id", FakeGoogle::CLIENT_ID),
        ("client_secret", FakeGoogle::CLIENT_SECRET),
    ];
    let (status, body) = exchange(&fake, &code, &credentials).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        fake.last_token_request().unwrap().client_auth,
        ClientAuth::Post
    );
}

#[tokio::test]
async fn the_id_token_verifies_against_the_jwks_and_carries_nonce_aud_iss_and_email() {
    let fake = FakeGoogle::start();
    let (_, body) = exchange(&fake, &code(&fake).await, &[]).await;
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(header_kid(id_token), fake.current_kid());
    let claims = verify(&fake, id_token).await;
    assert_eq!(claims["nonce"], "the-nonce");
    assert_eq!(claims["aud"], FakeGoogle::CLIENT_ID);
    assert_eq!(claims["azp"], FakeGoogle::CLIENT_ID);
    assert_eq!(claims["iss"], fake.issuer().as_str());
    assert_eq!(claims["sub"], "fake-google-sub-alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    let at_hash = URL_SAFE_NO_PAD
        .encode(&Sha256::digest(body["access_token"].as_str().unwrap().as_bytes())[..16]);
    assert_eq!(claims["at_hash"], at_hash);
}

#[tokio::test]
async fn the_code_signs_in_the_user_set_at_authorize_time() {
    let fake = FakeGoogle::start();
    let bob = FakeGoogleUser {
        sub: "bob".into(),
        email: None,
        email_verified: None,
    };
    fake.set_user(bob);
    let code = code(&fake).await;
    fake.set_user(FakeGoogleUser::default());
    let (_, body) = exchange(&fake, &code, &[]).await;
    let claims = verify(&fake, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "bob");
    assert!(claims.get("email").is_none() && claims.get("email_verified").is_none());
}

#[tokio::test]
async fn a_login_hint_signs_in_a_user_with_that_email() {
    let fake = FakeGoogle::start();
    let location = authorize_with(&fake, &[("login_hint", "carol@example.com")]).await;
    let (_, body) = exchange(&fake, &query_param(&location, "code").unwrap(), &[]).await;
    let claims = verify(&fake, body["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["email"], "carol@example.com");
    assert_eq!(claims["sub"], "fake-google-sub-carol@example.com");
}

#[tokio::test]
async fn a_code_works_once_only() {
    let fake = FakeGoogle::start();
    let code = code(&fake).await;
    assert_eq!(exchange(&fake, &code, &[]).await.0, StatusCode::OK);
    let (status, body) = exchange(&fake, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_or_another_redirect_uri_is_refused_with_invalid_grant() {
    let fake = FakeGoogle::start();
    let cases: [&[(&str, &str)]; 3] = [
        &[(
            "code_verifier",
            "not-the-verifier-that-made-the-challenge-0123456",
        )],
        &[("code_verifier", "")],
        &[("redirect_uri", "http://127.0.0.1:8080/elsewhere")],
    ];
    for form in cases {
        let (status, body) = exchange(&fake, &code(&fake).await, form).await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::BAD_REQUEST, &json!("invalid_grant")),
            "{form:?}"
        );
        assert!(body["error_description"].is_string());
    }
}

#[tokio::test]
async fn a_wrong_client_secret_or_none_is_refused_with_invalid_client() {
    let fake = FakeGoogle::start();
    let code = code(&fake).await;
    let request = |secret: &str| {
        client()
            .post(fake.url(Endpoint::Token))
            .basic_auth(FakeGoogle::CLIENT_ID, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ])
    };
    let response = request("wrong-secret").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let (status, body) = exchange(
        &fake,
        &code,
        &[
            ("client_id", FakeGoogle::CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", FakeGoogle::CLIENT_ID),
    ];
    let response = client()
        .post(fake.url(Endpoint::Token))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        fake.last_token_request().unwrap().client_auth,
        ClientAuth::None
    );
    // The refusals did not use the code up: the client, not the code, was wrong.
    assert_eq!(exchange(&fake, &code, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_client_id_gets_a_400_page_at_authorize() {
    let fake = FakeGoogle::start();
    let response = client()
        .get(fake.url(Endpoint::Authorize))
        .query(&[
            ("client_id", "someone-else"),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!response.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_consent_or_a_bad_request_redirects_back_with_the_error_and_the_state() {
    let fake = FakeGoogle::start();
    let cases = [
        (vec![("deny", "1")], "access_denied"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "email")], "invalid_scope"),
    ];
    for (params, error) in cases {
        let location = authorize_with(&fake, &params).await;
        assert_eq!(query_param(&location, "error").as_deref(), Some(error));
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("the-state")
        );
        assert!(query_param(&location, "code").is_none());
    }
    fake.set_deny(true);
    let location = authorize_with(&fake, &[]).await;
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn rotate_key_changes_the_kid_of_new_tokens_and_the_jwks() {
    let fake = FakeGoogle::start();
    let old_kid = fake.current_kid();
    let old_token = fake.id_token_for(&FakeGoogleUser::default(), FakeGoogle::CLIENT_ID, None);
    fake.rotate_key();
    let new_kid = fake.current_kid();
    assert_ne!(new_kid, old_kid);
    let jwks = get_json(&fake.url(Endpoint::Jwks)).await;
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| &key["kid"])
        .collect();
    assert_eq!(kids, [&json!(new_kid)]);
    let new_token = fake.id_token_for(&FakeGoogleUser::default(), FakeGoogle::CLIENT_ID, Some("n"));
    assert_eq!(header_kid(&new_token), new_kid);
    assert_eq!(verify(&fake, &new_token).await["nonce"], "n");
    assert_eq!(header_kid(&old_token), old_kid);
}

#[tokio::test]
async fn a_token_signed_with_the_unpublished_key_has_a_kid_the_jwks_does_not_know() {
    let fake = FakeGoogle::start();
    let token = fake.sign_with_unpublished_key(json!({"sub": "mallory"}));
    let kid = header_kid(&token);
    for _ in 0..2 {
        assert!(
            fake.jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .all(|key| key["kid"] != kid.as_str())
        );
        fake.rotate_key();
    }
}

#[tokio::test]
async fn sign_claims_keeps_the_given_header_and_defaults_alg_and_kid() {
    let fake = FakeGoogle::start();
    let token = fake.sign_claims(
        json!({"alg": "HS256", "typ": "at+jwt"}),
        json!({"sub": "x"}),
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({"alg": "HS256", "typ": "at+jwt", "kid": fake.current_kid()})
    );
    let token = fake.sign_claims(json!({}), json!({"sub": "x", "aud": FakeGoogle::CLIENT_ID, "iss": fake.issuer(), "exp": 4_000_000_000_u64}));
    assert_eq!(verify(&fake, &token).await["sub"], "x");
}

#[tokio::test]
async fn tamper_rewrites_the_claims_the_token_endpoint_signs() {
    let fake = FakeGoogle::start();
    fake.set_tamper(|claims| {
        claims["nonce"] = json!("another-nonce");
        claims["email_verified"] = json!(false);
    });
    let (_, body) = exchange(&fake, &code(&fake).await, &[]).await;
    let claims = verify(&fake, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (&claims["nonce"], &claims["email_verified"]),
        (&json!("another-nonce"), &json!(false))
    );
}

#[tokio::test]
async fn a_status_failure_answers_that_status_until_cleared() {
    let fake = FakeGoogle::start();
    fake.set_failure(Endpoint::Discovery, Some(Failure::Status(503)));
    let response = client()
        .get(fake.url(Endpoint::Discovery))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    fake.set_failure(Endpoint::Discovery, None);
    get_json(&fake.url(Endpoint::Discovery)).await;
    assert_eq!(fake.requests(Endpoint::Discovery), 2);
}

#[tokio::test]
async fn a_garbage_failure_answers_200_with_a_body_that_is_not_json() {
    let fake = FakeGoogle::start();
    fake.set_failure(Endpoint::Jwks, Some(Failure::Garbage));
    let response = client().get(fake.url(Endpoint::Jwks)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());
}

#[tokio::test]
async fn a_delayed_endpoint_answers_late_without_holding_up_the_others() {
    let fake = FakeGoogle::start();
    let delay = Duration::from_millis(300);
    fake.set_failure(Endpoint::Token, Some(Failure::Delay(delay)));
    let started = Instant::now();
    let slow = exchange(&fake, "no-such-code", &[]);
    let fast = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        get_json(&fake.url(Endpoint::Discovery)).await;
        started.elapsed()
    };
    let ((status, body), fast_elapsed) = tokio::join!(slow, fast);
    assert!(started.elapsed() >= delay);
    assert!(
        fast_elapsed < delay,
        "discovery waited for the delayed token endpoint: {fast_elapsed:?}"
    );
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
}

#[tokio::test]
async fn a_huge_failure_sends_ten_megabytes() {
    let fake = FakeGoogle::start();
    fake.set_failure(Endpoint::Discovery, Some(Failure::Huge));
    let response = client()
        .get(fake.url(Endpoint::Discovery))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.bytes().await.unwrap().len(),
        Failure::HUGE_BODY_BYTES
    );
}

#[tokio::test]
async fn requests_are_counted_per_endpoint() {
    let fake = FakeGoogle::start();
    let code = code(&fake).await;
    exchange(&fake, &code, &[]).await;
    exchange(&fake, &code, &[]).await;
    get_json(&fake.url(Endpoint::Jwks)).await;
    let counts = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Authorize,
        Endpoint::Token,
    ]
    .map(|endpoint| fake.requests(endpoint));
    assert_eq!(counts, [0, 1, 1, 2]);
}

#[test]
fn the_fake_starts_from_sync_code_and_stops_when_dropped() {
    let fake = FakeGoogle::start();
    let addr = fake.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    assert!(
        FakeGoogle::start_on(addr).is_err(),
        "a second fake took the same port"
    );
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}
