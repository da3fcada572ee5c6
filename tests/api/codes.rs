//! Apps that receive a one-time code instead of a token: `start` with a PKCE `code_challenge`,
//! the callback's `303 URI?code=…` (or `?error=…`), and `POST /auth/token` with the verifier —
//! through the real server and both fake providers, every refusal included.

use crate::flows::browser_sign_in;
use crate::harness::{TestServer, assert_problem, client, flow_cookie};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use zeropass_domain::{
    AccessTokenClaims, AccessTokens, Clock, CodeChallenge, CodeGrant, IssueTokenError, IssuedToken,
    OneTimeCode, Provider, TokenRejection, User, UserId, UserRepository,
};
use zeropass_fake_providers::{FakeFacebook, FakeFacebookUser, FakeGoogle, FakeGoogleUser};
use zeropass_store::SqliteSignInCodes;

/// A mobile deep link, and a web app's URI that already has a query.
const APP: &str = "com.example.app:/signed-in";
const WEB_APP: &str = "https://app.example.com/cb?from=zeropass";

/// The app's PKCE secret and its S256 challenge.
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new(seed: &str) -> Self {
        // 43+ characters of the unreserved set, different per seed.
        let verifier = format!("{seed}-{}", "v".repeat(43));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

struct Fakes {
    google: FakeGoogle,
    facebook: FakeFacebook,
}

fn fakes() -> Fakes {
    Fakes {
        google: FakeGoogle::start(),
        facebook: FakeFacebook::start(),
    }
}

/// A server with both providers against their fakes, allowing both client URIs; `extra`
/// variables added.
fn server_with(fakes: &Fakes, extra: &[(&str, &str)]) -> TestServer {
    let (issuer, graph, dialog) = (
        fakes.google.issuer(),
        fakes.facebook.graph_url(),
        fakes.facebook.dialog_url(),
    );
    let allowed = format!("{APP},{WEB_APP}");
    let mut variables = vec![
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET),
        ("GOOGLE_ISSUER_URL", issuer.as_str()),
        ("FACEBOOK_APP_ID", FakeFacebook::APP_ID),
        ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET),
        ("FACEBOOK_GRAPH_URL", graph.as_str()),
        ("FACEBOOK_DIALOG_URL", dialog.as_str()),
        ("ALLOWED_REDIRECT_URIS", allowed.as_str()),
    ];
    variables.extend_from_slice(extra);
    TestServer::start_with(&variables)
}

fn server_for(fakes: &Fakes) -> TestServer {
    server_with(fakes, &[])
}

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `?redirect_uri=…&code_challenge=…&code_challenge_method=S256`.
fn code_flow_query(redirect_uri: &str, pkce: &Pkce) -> String {
    format!(
        "?redirect_uri={}&code_challenge={}&code_challenge_method=S256",
        encoded(redirect_uri),
        pkce.challenge
    )
}

async fn start(server: &TestServer, provider: &str, query: &str) -> reqwest::Response {
    client()
        .get(server.url(&format!("/auth/{provider}/start{query}")))
        .send()
        .await
        .unwrap()
}

/// The parameters the callback put in the query of `redirect_uri`, after checking the 303
/// goes there (and carries no fragment).
fn delivered(callback: &reqwest::Response, redirect_uri: &str) -> Vec<(String, String)> {
    assert_eq!(callback.status(), 303);
    let location = callback.headers()["location"].to_str().unwrap();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let query = location
        .strip_prefix(&format!("{redirect_uri}{separator}"))
        .unwrap_or_else(|| panic!("not a redirect to {redirect_uri}: {location}"));
    assert!(!query.contains('#'), "{location}");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The one-time code a successful code flow delivered.
async fn code_from(
    server: &TestServer,
    provider: Provider,
    redirect_uri: &str,
    pkce: &Pkce,
) -> String {
    let callback = browser_sign_in(server, provider, &code_flow_query(redirect_uri, pkce)).await;
    let pairs = delivered(&callback, redirect_uri);
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0].0, "code");
    pairs[0].1.clone()
}

async fn redeem_json(server: &TestServer, code: &str, verifier: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/token"))
        .json(&json!({"grant_type": "authorization_code", "code": code, "code_verifier": verifier}))
        .send()
        .await
        .unwrap()
}

async fn redeem_form(server: &TestServer, code: &str, verifier: &str) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("code_verifier", verifier)
        .append_pair("client_id", "ignored-by-zeropass")
        .finish();
    client()
        .post(server.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Checks a 200 token response and that its token works; returns the body.
async fn assert_signed_in(response: reqwest::Response, server: &TestServer) -> Value {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let me: Value = client()
        .get(server.url("/users/me"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], body["user"]["id"], "{me}");
    body
}

#[tokio::test]
async fn an_app_signs_in_with_google_through_a_code_redeemed_as_json() {
    let fakes = fakes();
    fakes.google.set_user(FakeGoogleUser {
        sub: "sub-app".into(),
        email: Some("app@example.com".into()),
        email_verified: Some(true),
    });
    let server = server_for(&fakes);
    let pkce = Pkce::new("google");
    let code = code_from(&server, Provider::Google, APP, &pkce).await;
    assert!(code.len() >= 43, "a code of at least 256 bits: {code}");
    let body = assert_signed_in(redeem_json(&server, &code, &pkce.verifier).await, &server).await;
    assert_eq!(body["user"]["email"], "app@example.com");
    assert_eq!(body["user"]["provider"], "google");
    let logs = server.logs();
    assert!(
        !logs.contains(&code) && !logs.contains(&pkce.verifier),
        "the code or the verifier reached the log"
    );
}

#[tokio::test]
async fn an_app_signs_in_with_facebook_through_a_code_redeemed_form_encoded() {
    let fakes = fakes();
    fakes.facebook.set_user(FakeFacebookUser {
        id: "10077".into(),
        email: Some("web@example.com".into()),
    });
    let server = server_for(&fakes);
    let pkce = Pkce::new("facebook");
    // WEB_APP already has a query: the code is appended with `&`.
    let code = code_from(&server, Provider::Facebook, WEB_APP, &pkce).await;
    let body = assert_signed_in(redeem_form(&server, &code, &pkce.verifier).await, &server).await;
    assert_eq!(body["user"]["email"], "web@example.com");
    assert_eq!(body["user"]["provider"], "facebook");
}

#[tokio::test]
async fn a_failed_sign_in_sends_the_problem_code_to_the_app_in_the_query() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("refused");
    fakes.google.set_deny(true);
    let denied = browser_sign_in(&server, Provider::Google, &code_flow_query(APP, &pkce)).await;
    assert_eq!(
        delivered(&denied, APP),
        [("error".to_owned(), "access_denied".to_owned())]
    );
    fakes.facebook.set_user(FakeFacebookUser {
        id: "10078".into(),
        email: None,
    });
    let no_email = browser_sign_in(
        &server,
        Provider::Facebook,
        &code_flow_query(WEB_APP, &pkce),
    )
    .await;
    assert_eq!(
        delivered(&no_email, WEB_APP),
        [("error".to_owned(), "email_required".to_owned())]
    );
}

#[tokio::test]
async fn a_missing_or_forged_state_in_a_code_flow_stays_a_plain_400_invalid_state() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let started = start(&server, "google", &code_flow_query(APP, &Pkce::new("s"))).await;
    let cookie = flow_cookie(&started);
    let forged = client()
        .get(server.url("/auth/google/callback?code=anything&state=forged"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_problem(forged, 400, "invalid_state").await;
    let no_cookie = client()
        .get(server.url("/auth/google/callback?code=anything&state=forged"))
        .send()
        .await
        .unwrap();
    assert_problem(no_cookie, 400, "invalid_state").await;
}

#[tokio::test]
async fn every_malformed_code_challenge_at_start_is_400_invalid_request() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let challenge = Pkce::new("x").challenge;
    let app = encoded(APP);
    let cases = [
        (
            "without redirect_uri",
            format!("?code_challenge={challenge}&code_challenge_method=S256"),
        ),
        (
            "without code_challenge_method",
            format!("?redirect_uri={app}&code_challenge={challenge}"),
        ),
        (
            "with method plain",
            format!("?redirect_uri={app}&code_challenge={challenge}&code_challenge_method=plain"),
        ),
        (
            "with method s256 (the method is case-sensitive)",
            format!("?redirect_uri={app}&code_challenge={challenge}&code_challenge_method=s256"),
        ),
        (
            "with a challenge that is not a SHA-256 in base64url",
            format!("?redirect_uri={app}&code_challenge=too-short&code_challenge_method=S256"),
        ),
        (
            "with a method but no challenge",
            format!("?redirect_uri={app}&code_challenge_method=S256"),
        ),
    ];
    for provider in ["google", "facebook"] {
        for (case, query) in &cases {
            let response = start(&server, provider, query).await;
            assert_eq!(response.status(), 400, "{provider} {case}");
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{provider} {case}"
            );
            assert_problem(response, 400, "invalid_request").await;
        }
    }
}

#[tokio::test]
async fn without_code_challenge_the_token_still_arrives_in_the_fragment() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let callback = browser_sign_in(
        &server,
        Provider::Google,
        &format!("?redirect_uri={}", encoded(APP)),
    )
    .await;
    assert_eq!(callback.status(), 303);
    let location = callback.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{APP}#access_token=")),
        "{location}"
    );
}

#[tokio::test]
async fn a_replayed_code_is_invalid_grant() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("replay");
    let code = code_from(&server, Provider::Google, APP, &pkce).await;
    assert_eq!(
        redeem_json(&server, &code, &pkce.verifier).await.status(),
        200
    );
    assert_problem(
        redeem_json(&server, &code, &pkce.verifier).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_verifier_is_invalid_grant_and_burns_the_code() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("right");
    for wrong in [Pkce::new("wrong").verifier, "short".to_owned()] {
        let code = code_from(&server, Provider::Facebook, APP, &pkce).await;
        assert_problem(
            redeem_form(&server, &code, &wrong).await,
            400,
            "invalid_grant",
        )
        .await;
        assert_problem(
            redeem_form(&server, &code, &pkce.verifier).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

#[tokio::test]
async fn an_unknown_code_is_invalid_grant() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("unknown");
    assert_problem(
        redeem_json(&server, "no-such-code", &pkce.verifier).await,
        400,
        "invalid_grant",
    )
    .await;
}

/// A clock set in the past, for issuing codes that are already expired.
struct ClockAt(i64);

impl Clock for ClockAt {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap()
    }
}

/// Token issuing is the server's business: codes issued here are redeemed there.
struct NoTokens;

impl AccessTokens for NoTokens {
    fn issue(&self, _user: &User) -> Result<IssuedToken, IssueTokenError> {
        Err(IssueTokenError("this side only issues codes".into()))
    }

    fn verify(&self, _token: &str) -> Result<AccessTokenClaims, TokenRejection> {
        Err(TokenRejection::Invalid(
            "this side only issues codes".into(),
        ))
    }
}

/// Issues a code for `user` straight into the server's database, as an instance whose clock
/// reads `issued_at` would: another instance sharing the store.
async fn code_issued_at(
    server: &TestServer,
    user: &User,
    pkce: &Pkce,
    issued_at: i64,
) -> OneTimeCode {
    let database = server.database();
    let grant = CodeGrant::new(
        Arc::new(SqliteSignInCodes::new(&database)),
        Arc::new(database),
        Arc::new(NoTokens),
        Arc::new(ClockAt(issued_at)),
    );
    grant
        .issue(user, CodeChallenge::parse_s256(&pkce.challenge).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_code_issued_by_another_instance_is_redeemed_here_until_it_expires() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let user = server
        .create_user("shared@example.com", Provider::Google)
        .await;
    let pkce = Pkce::new("shared");
    let now = Utc::now().timestamp();
    let fresh = code_issued_at(&server, &user, &pkce, now).await;
    let body = assert_signed_in(
        redeem_json(&server, fresh.as_str(), &pkce.verifier).await,
        &server,
    )
    .await;
    assert_eq!(body["user"]["id"], user.id.to_string());
    let expired = code_issued_at(&server, &user, &pkce, now - 61).await;
    assert_problem(
        redeem_json(&server, expired.as_str(), &pkce.verifier).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn of_concurrent_redemptions_of_one_code_exactly_one_succeeds() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let user = server
        .create_user("race@example.com", Provider::Google)
        .await;
    let pkce = Pkce::new("race");
    for round in 0..5 {
        let code = code_issued_at(&server, &user, &pkce, Utc::now().timestamp()).await;
        let (a, b, c, d) = tokio::join!(
            redeem_json(&server, code.as_str(), &pkce.verifier),
            redeem_form(&server, code.as_str(), &pkce.verifier),
            redeem_json(&server, code.as_str(), &pkce.verifier),
            redeem_form(&server, code.as_str(), &pkce.verifier),
        );
        let statuses: Vec<u16> = [a, b, c, d].iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|&&status| status == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|&status| status == 200 || status == 400),
            "round {round}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn a_user_disabled_after_the_callback_gets_403_account_disabled_for_the_code() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("disabled");
    let first = code_from(&server, Provider::Google, APP, &pkce).await;
    let signed_in =
        assert_signed_in(redeem_json(&server, &first, &pkce.verifier).await, &server).await;
    let id = UserId::from_uuid(signed_in["user"]["id"].as_str().unwrap().parse().unwrap());

    let pending = code_from(&server, Provider::Google, APP, &pkce).await;
    assert!(
        server
            .database()
            .set_active(id, false)
            .await
            .unwrap()
            .is_some()
    );
    assert_problem(
        redeem_json(&server, &pending, &pkce.verifier).await,
        403,
        "account_disabled",
    )
    .await;
}

#[tokio::test]
async fn token_requests_of_the_wrong_shape_are_400_invalid_request_or_415() {
    let fakes = fakes();
    let server = server_for(&fakes);
    let pkce = Pkce::new("shape");
    let post = |body: Value| client().post(server.url("/auth/token")).json(&body).send();
    let wrong_grant =
        post(json!({"grant_type": "refresh_token", "code": "c", "code_verifier": pkce.verifier}));
    assert_problem(wrong_grant.await.unwrap(), 400, "invalid_request").await;
    let no_verifier = post(json!({"grant_type": "authorization_code", "code": "c"}));
    assert_problem(no_verifier.await.unwrap(), 400, "invalid_request").await;
    let form_without_code = client()
        .post(server.url("/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code_verifier=v")
        .send()
        .await
        .unwrap();
    assert_problem(form_without_code, 400, "invalid_request").await;
    let text = client()
        .post(server.url("/auth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_problem(text, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn token_requests_count_against_the_sign_in_rate_limit() {
    let fakes = fakes();
    let server = server_with(
        &fakes,
        &[
            ("AUTH_RATE_LIMIT_PER_MINUTE", "6"),
            ("AUTH_RATE_LIMIT_BURST", "3"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let pkce = Pkce::new("limited");
    let post = || {
        client()
            .post(server.url("/auth/token"))
            .header("x-forwarded-for", "198.51.100.9")
            .json(&json!({"grant_type": "authorization_code", "code": "guess", "code_verifier": pkce.verifier}))
            .send()
    };
    for attempt in 1..=3 {
        assert_eq!(post().await.unwrap().status(), 400, "attempt {attempt}");
    }
    assert_problem(post().await.unwrap(), 429, "rate_limited").await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_token_endpoint_and_the_code_parameters() {
    let server = TestServer::start();
    let document: Value = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = &document["paths"]["/auth/token"]["post"];
    for media_type in ["application/json", "application/x-www-form-urlencoded"] {
        assert!(
            token["requestBody"]["content"][media_type].is_object(),
            "{media_type} body undocumented: {token}"
        );
    }
    for status in ["200", "400", "403", "413", "415", "429", "503"] {
        assert!(
            token["responses"][status].is_object(),
            "{status} undocumented: {token}"
        );
    }
    for provider in ["google", "facebook"] {
        let parameters: Vec<&str> =
            document["paths"][format!("/auth/{provider}/start")]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|parameter| parameter["in"] == "query")
                .map(|parameter| parameter["name"].as_str().unwrap())
                .collect();
        for name in ["redirect_uri", "code_challenge", "code_challenge_method"] {
            assert!(parameters.contains(&name), "{provider}: {parameters:?}");
        }
    }
}
