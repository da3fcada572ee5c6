//! The fake Facebook seen from outside, over HTTP with reqwest: the Login dialog, the code
//! exchange it enforces, what `debug_token` and `/me` answer, and the failures it plays.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::{FacebookEndpoint, Failure, FakeFacebook, FakeFacebookUser};

const REDIRECT_URI: &str = "http://127.0.0.1:8080/auth/facebook/callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn bob() -> FakeFacebookUser {
    FakeFacebookUser {
        id: "10000000000000002".into(),
        email: None,
    }
}

/// Sends the browser to the dialog with `params` over the defaults; returns where it redirects.
async fn dialog_with(fake: &FakeFacebook, params: &[(&str, &str)]) -> Url {
    let mut query = vec![
        ("client_id", FakeFacebook::APP_ID),
        ("redirect_uri", REDIRECT_URI),
        ("state", "the-state"),
        ("response_type", "code"),
        ("scope", "email"),
    ];
    query.retain(|(name, _)| !params.iter().any(|(overridden, _)| overridden == name));
    query.extend(params);
    let response = client()
        .get(fake.dialog_url())
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

async fn code(fake: &FakeFacebook) -> String {
    query_param(&dialog_with(fake, &[]).await, "code").unwrap()
}

/// GETs `{graph}/{path}` with `query`; returns the status and the JSON body.
async fn graph(fake: &FakeFacebook, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let url = format!("{}/{path}", fake.graph_url());
    let response = client().get(url).query(query).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Exchanges `code` with the right credentials; `overrides` replace default parameters.
async fn exchange(
    fake: &FakeFacebook,
    code: &str,
    overrides: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut query = vec![
        ("client_id", FakeFacebook::APP_ID),
        ("redirect_uri", REDIRECT_URI),
        ("client_secret", FakeFacebook::APP_SECRET),
        ("code", code),
    ];
    query.retain(|(name, _)| !overrides.iter().any(|(overridden, _)| overridden == name));
    query.extend(overrides);
    graph(fake, "oauth/access_token", &query).await
}

/// `debug_token`'s `data` for `input_token`, asked with the app token.
async fn debug(fake: &FakeFacebook, input_token: &str) -> Value {
    let app_token = FakeFacebook::app_access_token();
    let query = [("input_token", input_token), ("access_token", &app_token)];
    let (status, body) = graph(fake, "debug_token", &query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

/// `/me?fields=id,email` with `token` and the given proof.
async fn me(fake: &FakeFacebook, token: &str, proof: Option<&str>) -> (StatusCode, Value) {
    let mut query = vec![("fields", "id,email"), ("access_token", token)];
    query.extend(proof.map(|proof| ("appsecret_proof", proof)));
    graph(fake, "me", &query).await
}

async fn me_with_proof(fake: &FakeFacebook, token: &str) -> (StatusCode, Value) {
    me(fake, token, Some(&FakeFacebook::appsecret_proof(token))).await
}

/// Asserts a Graph error object with this status, type and code.
fn assert_graph_error(answer: &(StatusCode, Value), kind: &str, code: u32) {
    let (status, body) = answer;
    let error = &body["error"];
    assert_eq!(
        (*status, &error["type"], &error["code"]),
        (StatusCode::BAD_REQUEST, &json!(kind), &json!(code)),
        "{body}"
    );
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["fbtrace_id"].is_string());
}

#[test]
fn the_urls_are_versioned_like_graph_facebook_com() {
    let fake = FakeFacebook::start();
    let base = format!("http://{}", fake.addr());
    assert_eq!(fake.graph_url(), format!("{base}/v21.0"));
    assert_eq!(fake.dialog_url(), format!("{base}/v21.0/dialog/oauth"));
    assert_eq!(
        fake.url(FacebookEndpoint::Me),
        format!("{}/me", fake.graph_url())
    );
}

#[tokio::test]
async fn the_dialog_code_exchanges_for_a_user_token_of_the_dialogs_user() {
    let fake = FakeFacebook::start();
    fake.set_user(bob());
    let location = dialog_with(&fake, &[]).await;
    fake.set_user(FakeFacebookUser::default());
    assert!(location.as_str().starts_with(REDIRECT_URI));
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("the-state")
    );
    let code = query_param(&location, "code").unwrap();

    let (status, body) = exchange(&fake, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["token_type"], &body["expires_in"]),
        (&json!("bearer"), &json!(5_183_944))
    );
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        fake.last_code_exchange().unwrap(),
        crate::CodeExchange {
            client_id: FakeFacebook::APP_ID.into(),
            redirect_uri: REDIRECT_URI.into(),
            code,
            client_secret_ok: true,
            code_verifier: None,
        }
    );
    let (status, user) = me_with_proof(&fake, token).await;
    assert_eq!((status, user), (StatusCode::OK, json!({"id": bob().id})));
    assert_eq!(debug(&fake, token).await["is_valid"], true);
}

#[tokio::test]
async fn a_code_works_once_only() {
    let fake = FakeFacebook::start();
    let code = code(&fake).await;
    assert_eq!(exchange(&fake, &code, &[]).await.0, StatusCode::OK);
    let again = exchange(&fake, &code, &[]).await;
    assert_graph_error(&again, "OAuthException", 100);
    assert_eq!(again.1["error"]["error_subcode"], 36009);
    assert_graph_error(
        &exchange(&fake, "AQnot-a-code", &[]).await,
        "OAuthException",
        100,
    );
}

#[tokio::test]
async fn a_redirect_uri_other_than_the_dialogs_is_refused() {
    let fake = FakeFacebook::start();
    for other in [
        "http://127.0.0.1:8080/auth/facebook/callback/",
        "http://127.0.0.1:8080/elsewhere",
        "",
    ] {
        let code = code(&fake).await;
        let answer = exchange(&fake, &code, &[("redirect_uri", other)]).await;
        assert_graph_error(&answer, "OAuthException", 100);
        assert!(
            answer.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains("redirect_uri"),
            "{other}"
        );
    }
}

#[tokio::test]
async fn a_code_issued_with_a_pkce_challenge_needs_the_matching_verifier() {
    let fake = FakeFacebook::start();
    // RFC 7636 appendix B's example verifier and challenge.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let pkce = [
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    for wrong in [
        None,
        Some("another-verifier-that-is-long-enough-0123456789"),
    ] {
        let code = query_param(&dialog_with(&fake, &pkce).await, "code").unwrap();
        let overrides: Vec<(&str, &str)> =
            wrong.map(|v| ("code_verifier", v)).into_iter().collect();
        let answer = exchange(&fake, &code, &overrides).await;
        assert_graph_error(&answer, "OAuthException", 100);
        assert_eq!(
            fake.last_code_exchange().unwrap().code_verifier.as_deref(),
            wrong
        );
    }
    let code = query_param(&dialog_with(&fake, &pkce).await, "code").unwrap();
    let (status, body) = exchange(&fake, &code, &[("code_verifier", verifier)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn set_require_pkce_makes_the_dialog_refuse_a_request_without_a_challenge() {
    let fake = FakeFacebook::start();
    fake.set_require_pkce(true);
    let back = dialog_with(&fake, &[]).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&back, "code"), None);
    assert_eq!(query_param(&back, "state").as_deref(), Some("the-state"));
    let back = dialog_with(
        &fake,
        &[("code_challenge", "c"), ("code_challenge_method", "S512")],
    )
    .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    let back = dialog_with(
        &fake,
        &[("code_challenge", "c"), ("code_challenge_method", "S256")],
    )
    .await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn a_wrong_secret_or_app_id_is_refused_without_using_the_code() {
    let fake = FakeFacebook::start();
    let code = code(&fake).await;
    let wrong_secret = exchange(&fake, &code, &[("client_secret", "wrong")]).await;
    assert_graph_error(&wrong_secret, "OAuthException", 1);
    assert!(!fake.last_code_exchange().unwrap().client_secret_ok);
    let wrong_app = exchange(&fake, &code, &[("client_id", "999")]).await;
    assert_graph_error(&wrong_app, "OAuthException", 101);
    assert_eq!(exchange(&fake, &code, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_client_id_or_no_redirect_uri_gets_a_400_page_at_the_dialog() {
    let fake = FakeFacebook::start();
    for query in [
        [("client_id", "999"), ("redirect_uri", REDIRECT_URI)],
        [
            ("client_id", FakeFacebook::APP_ID),
            ("redirect_uri", "nope"),
        ],
    ] {
        let response = client()
            .get(fake.dialog_url())
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(!response.text().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn set_deny_redirects_back_with_access_denied_and_the_state() {
    let fake = FakeFacebook::start();
    fake.set_deny(true);
    let location = dialog_with(&fake, &[]).await;
    let query = location.query().unwrap();
    assert_eq!(
        query,
        "error=access_denied&error_code=200&error_description=Permissions+error\
         &error_reason=user_denied&state=the-state"
    );
    fake.set_deny(false);
    assert!(query_param(&dialog_with(&fake, &[]).await, "code").is_some());
}

#[tokio::test]
async fn debug_token_describes_a_valid_token_of_the_app() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for(&FakeFacebookUser::default());
    let data = debug(&fake, &token).await;
    let now = unix_now();
    assert_eq!(data["app_id"], FakeFacebook::APP_ID);
    assert_eq!(data["user_id"], "10000000000000001");
    assert_eq!(
        (&data["type"], &data["application"], &data["is_valid"]),
        (&json!("USER"), &json!("zeropass-fake"), &json!(true))
    );
    assert_eq!(data["scopes"], json!(["email", "public_profile"]));
    for field in ["expires_at", "data_access_expires_at"] {
        assert!(data[field].as_u64().unwrap() > now + 3600, "{field}");
    }
    assert!(data.get("error").is_none());
    assert_eq!(fake.graph_requests_without_valid_proof(), 1);
}

#[tokio::test]
async fn debug_token_reports_a_token_of_another_app_as_valid_for_that_app() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for_app(&FakeFacebookUser::default(), "6543210987654321");
    let data = debug(&fake, &token).await;
    assert_eq!(
        (&data["app_id"], &data["is_valid"]),
        (&json!("6543210987654321"), &json!(true))
    );
}

#[tokio::test]
async fn debug_token_reports_an_unknown_token_as_invalid_with_error_190() {
    let fake = FakeFacebook::start();
    let data = debug(&fake, "EAAnever-issued").await;
    assert_eq!(
        data,
        json!({"is_valid": false, "scopes": [],
               "error": {"code": 190, "message": "Invalid OAuth access token."}})
    );
}

#[tokio::test]
async fn debug_token_reports_an_expired_token_as_invalid_with_its_user_and_past_expiry() {
    let fake = FakeFacebook::start();
    let token = fake.expired_user_token_for(&bob());
    let data = debug(&fake, &token).await;
    assert_eq!(data["is_valid"], false);
    assert!(data["expires_at"].as_u64().unwrap() < unix_now());
    assert_eq!(
        (&data["user_id"], &data["app_id"]),
        (&json!(bob().id), &json!(FakeFacebook::APP_ID))
    );
    assert_eq!(data["error"]["code"], 190);
}

#[tokio::test]
async fn the_debug_token_tamper_rewrites_the_data_object() {
    let fake = FakeFacebook::start();
    fake.set_debug_token_tamper(|data| {
        data["user_id"] = json!("666");
        data["is_valid"] = json!(false);
    });
    let data = debug(&fake, &fake.user_token_for(&FakeFacebookUser::default())).await;
    assert_eq!(
        (&data["user_id"], &data["is_valid"], &data["app_id"]),
        (&json!("666"), &json!(false), &json!(FakeFacebook::APP_ID))
    );
}

#[tokio::test]
async fn debug_token_refuses_a_missing_or_wrong_app_token_or_proof() {
    let fake = FakeFacebook::start();
    let input = fake.user_token_for(&FakeFacebookUser::default());
    let wrong_app_token = format!("{}|wrong", FakeFacebook::APP_ID);
    for query in [
        vec![("input_token", input.as_str())],
        vec![("input_token", &input), ("access_token", &wrong_app_token)],
        vec![("input_token", &input), ("access_token", &input)],
    ] {
        let answer = graph(&fake, "debug_token", &query).await;
        assert_graph_error(&answer, "OAuthException", 190);
    }
    let app_token = FakeFacebook::app_access_token();
    let proof = FakeFacebook::appsecret_proof(&app_token);
    let query = [
        ("input_token", input.as_str()),
        ("access_token", &app_token),
    ];
    for (proof, expected) in [("00", StatusCode::BAD_REQUEST), (&proof, StatusCode::OK)] {
        let with_proof = [&query[..], &[("appsecret_proof", proof)]].concat();
        let answer = graph(&fake, "debug_token", &with_proof).await;
        assert_eq!(answer.0, expected, "{}", answer.1);
    }
    assert_eq!(fake.graph_requests_without_valid_proof(), 4);
}

#[tokio::test]
async fn debug_token_and_me_accept_the_access_token_as_a_bearer_header() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for(&FakeFacebookUser::default());
    let get = |path: &str, bearer: &str, query: Vec<(&str, String)>| {
        client()
            .get(format!("{}/{path}", fake.graph_url()))
            .bearer_auth(bearer)
            .query(&query)
            .send()
    };
    let app_token = FakeFacebook::app_access_token();
    let response = get(
        "debug_token",
        &app_token,
        vec![("input_token", token.clone())],
    )
    .await
    .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["is_valid"], true, "{body}");
    let query = vec![
        ("fields", "id,email".to_owned()),
        ("appsecret_proof", FakeFacebook::appsecret_proof(&token)),
    ];
    let response = get("me", &token, query).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "alice@example.com");
}

#[tokio::test]
async fn me_requires_a_correct_appsecret_proof_and_counts_those_without() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for(&FakeFacebookUser::default());
    let missing = me(&fake, &token, None).await;
    assert_graph_error(&missing, "GraphMethodException", 100);
    let right = FakeFacebook::appsecret_proof(&token);
    let of_other_token = FakeFacebook::appsecret_proof("EAAanother-token");
    for proof in [of_other_token.as_str(), &right[..32], ""] {
        let wrong = me(&fake, &token, Some(proof)).await;
        assert_graph_error(&wrong, "GraphMethodException", 100);
        assert_eq!(
            wrong.1["error"]["message"],
            "Invalid appsecret_proof provided in the API argument"
        );
    }
    assert_eq!(fake.graph_requests_without_valid_proof(), 4);
    let (status, body) = me_with_proof(&fake, &token).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"id": "10000000000000001", "email": "alice@example.com"})
        )
    );
    assert_eq!(fake.graph_requests_without_valid_proof(), 4);
}

#[test]
fn the_appsecret_proof_is_the_lowercase_hex_hmac_sha256_of_the_token_under_the_app_secret() {
    // Computed independently: `printf %s EAAtest-token | openssl dgst -sha256 -hmac <secret>`.
    assert_eq!(
        FakeFacebook::appsecret_proof("EAAtest-token"),
        "2014ebf89a4684a925cf800aeefd47b51acd2fdebb3336ea95fed83b6f3eaf52"
    );
}

#[tokio::test]
async fn me_refuses_unknown_expired_or_other_app_tokens_with_190() {
    let fake = FakeFacebook::start();
    let alice = FakeFacebookUser::default();
    let tokens = [
        "EAAnever-issued".to_owned(),
        fake.expired_user_token_for(&alice),
        fake.user_token_for_app(&alice, "6543210987654321"),
    ];
    for token in tokens {
        assert_graph_error(&me_with_proof(&fake, &token).await, "OAuthException", 190);
    }
    assert_eq!(fake.graph_requests_without_valid_proof(), 0);
}

#[tokio::test]
async fn me_omits_the_email_when_the_user_has_none_or_it_is_not_asked_for() {
    let fake = FakeFacebook::start();
    let (status, body) = me_with_proof(&fake, &fake.user_token_for(&bob())).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"id": bob().id})));
    let token = fake.user_token_for(&FakeFacebookUser::default());
    let proof = FakeFacebook::appsecret_proof(&token);
    let query = [
        ("access_token", token.as_str()),
        ("appsecret_proof", &proof),
    ];
    let (_, body) = graph(&fake, "me", &query).await;
    assert_eq!(body, json!({"id": "10000000000000001"}));
}

#[tokio::test]
async fn a_scripted_failure_replaces_the_answer_until_cleared_and_requests_are_counted() {
    let fake = FakeFacebook::start();
    let token = fake.user_token_for(&FakeFacebookUser::default());
    fake.set_failure(FacebookEndpoint::Me, Some(Failure::Status(503)));
    let response = client()
        .get(fake.url(FacebookEndpoint::Me))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    fake.set_failure(FacebookEndpoint::Me, None);
    assert_eq!(me_with_proof(&fake, &token).await.0, StatusCode::OK);

    fake.set_failure(FacebookEndpoint::DebugToken, Some(Failure::Garbage));
    let response = client()
        .get(fake.url(FacebookEndpoint::DebugToken))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());

    fake.set_failure(FacebookEndpoint::AccessToken, Some(Failure::Huge));
    let response = client()
        .get(fake.url(FacebookEndpoint::AccessToken))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.bytes().await.unwrap().len(),
        Failure::HUGE_BODY_BYTES
    );
    assert!(fake.last_code_exchange().is_none());

    let counts = [
        FacebookEndpoint::Dialog,
        FacebookEndpoint::AccessToken,
        FacebookEndpoint::DebugToken,
        FacebookEndpoint::Me,
    ]
    .map(|endpoint| fake.requests(endpoint));
    assert_eq!(counts, [0, 1, 1, 2]);
}

#[tokio::test]
async fn a_delayed_endpoint_answers_late_without_holding_up_the_others() {
    let fake = FakeFacebook::start();
    let delay = Duration::from_millis(300);
    fake.set_failure(FacebookEndpoint::AccessToken, Some(Failure::Delay(delay)));
    let started = Instant::now();
    let slow = exchange(&fake, "AQno-such-code", &[]);
    let fast = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        dialog_with(&fake, &[]).await;
        started.elapsed()
    };
    let (answer, fast_elapsed) = tokio::join!(slow, fast);
    assert!(started.elapsed() >= delay);
    assert!(fast_elapsed < delay, "the dialog waited: {fast_elapsed:?}");
    assert_graph_error(&answer, "OAuthException", 100);
}

#[test]
fn the_fake_starts_from_sync_code_and_stops_when_dropped() {
    let fake = FakeFacebook::start();
    let addr = fake.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    assert!(FakeFacebook::start_on(addr).is_err());
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
}
