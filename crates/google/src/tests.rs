//! The adapter against the fake Google issuer on loopback (`zeropass-fake-providers`): both
//! doors end to end, every id_token rule with genuinely signed tokens, key rotation and the
//! refetch limit, and a Google that is down, slow, garbled or oversized.

use crate::{
    Clock, GoogleConfig, GoogleIdentityProvider, JWKS_MAX_MAX_AGE, JWKS_MIN_MAX_AGE,
    JWKS_REFETCH_INTERVAL, Tuning,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zeropass_domain::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential, Provider,
    VerifiedIdentity,
};
use zeropass_fake_providers::{ClientAuth, Endpoint, Failure, FakeGoogle, FakeGoogleUser};
use zeropass_outbound_http::Limits;

const CLIENT_ID: &str = FakeGoogle::CLIENT_ID;
const IOS_CLIENT_ID: &str = "ios-client.apps.googleusercontent.com";
const CALLBACK: &str = "http://127.0.0.1:8080/auth/google/callback";

fn config_for(issuer: &str, secret: &str) -> GoogleConfig {
    GoogleConfig {
        client_id: CLIENT_ID.to_owned(),
        client_secret: SecretString::from(secret),
        issuer_url: issuer.parse().unwrap(),
        extra_audiences: vec![IOS_CLIENT_ID.to_owned()],
    }
}

/// Limits for tests: real ones, except that a failed discovery may be retried at once.
fn tuning() -> Tuning {
    Tuning {
        discovery_retry_interval: Duration::ZERO,
        ..Tuning::default()
    }
}

fn google(fake: &FakeGoogle) -> GoogleIdentityProvider {
    GoogleIdentityProvider::with_tuning(
        config_for(&fake.issuer(), FakeGoogle::CLIENT_SECRET),
        tuning(),
    )
    .unwrap()
}

/// A provider whose calls give up after one second.
fn impatient_google(fake: &FakeGoogle) -> GoogleIdentityProvider {
    let tuning = Tuning {
        limits: Limits {
            connect_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        ..tuning()
    };
    GoogleIdentityProvider::with_tuning(
        config_for(&fake.issuer(), FakeGoogle::CLIENT_SECRET),
        tuning,
    )
    .unwrap()
}

static FLOWS: AtomicUsize = AtomicUsize::new(0);

fn flow() -> AuthorizationFlow {
    let n = FLOWS.fetch_add(1, Ordering::Relaxed);
    AuthorizationFlow {
        state: format!("state-{n}"),
        nonce: format!("nonce-{n}"),
        pkce_verifier: format!("verifier-{n}-{}", "v".repeat(43)),
        callback_url: CALLBACK.to_owned(),
    }
}

/// What the browser would do: follow the authorization URL to the fake, which redirects to
/// our callback with a code; returns the code.
async fn authorize(google: &GoogleIdentityProvider, flow: &AuthorizationFlow) -> String {
    let url = google.authorization_url(flow).await.unwrap();
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
    google: &GoogleIdentityProvider,
) -> Result<VerifiedIdentity, IdentityError> {
    let flow = flow();
    let code = authorize(google, &flow).await;
    google.complete_authorization(&code, &flow).await
}

async fn native(
    google: &GoogleIdentityProvider,
    token: String,
    nonce: Option<&str>,
) -> Result<VerifiedIdentity, IdentityError> {
    google
        .verify_native_credential(&NativeCredential {
            token,
            nonce: nonce.map(str::to_owned),
        })
        .await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a good id_token from the fake, for our client; `overrides` replace (or with
/// `null`, remove) claims.
fn claims(fake: &FakeGoogle, overrides: Value) -> Value {
    let now = now();
    let mut claims = json!({
        "iss": fake.issuer(), "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": "fake-google-sub-alice",
        "email": "alice@example.com", "email_verified": true, "iat": now, "exp": now + 3600,
    });
    for (name, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn signed(fake: &FakeGoogle, overrides: Value) -> String {
    fake.sign_claims(json!({"typ": "JWT"}), claims(fake, overrides))
}

fn reason(result: Result<VerifiedIdentity, IdentityError>) -> String {
    match result {
        Err(IdentityError::InvalidIdToken(reason)) => reason,
        other => panic!("expected InvalidIdToken, got {other:?}"),
    }
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, IdentityError>) {
    assert!(
        matches!(result, Err(IdentityError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

// ---- the redirect flow -------------------------------------------------------------------

#[tokio::test]
async fn a_browser_sign_in_returns_the_verified_identity_with_a_lower_cased_email() {
    let fake = FakeGoogle::start();
    fake.set_user(FakeGoogleUser {
        sub: "1076915035000615".into(),
        email: Some("Alice.Liddell@Example.COM".into()),
        email_verified: Some(true),
    });
    let google = google(&fake);
    let identity = browser_sign_in(&google).await.unwrap();
    assert_eq!(identity.provider, Provider::Google);
    assert_eq!(identity.subject.as_str(), "1076915035000615");
    assert_eq!(identity.email.as_str(), "alice.liddell@example.com");
}

#[tokio::test]
async fn the_code_is_exchanged_with_the_pkce_verifier_the_secret_and_the_callback() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let flow = flow();
    let url = google.authorization_url(&flow).await.unwrap();
    assert!(url.starts_with(&fake.url(Endpoint::Authorize)), "{url}");
    let code = authorize(&google, &flow).await;
    google.complete_authorization(&code, &flow).await.unwrap();
    let request = fake.last_token_request().unwrap();
    assert_eq!(request.grant_type, "authorization_code");
    assert_eq!(request.code, code);
    assert_eq!(
        request.code_verifier.as_deref(),
        Some(flow.pkce_verifier.as_str())
    );
    assert_eq!(request.redirect_uri, CALLBACK);
    assert_eq!(request.client_id, CLIENT_ID);
    assert_eq!(request.client_auth, ClientAuth::Basic);
}

#[tokio::test]
async fn a_used_or_made_up_code_is_an_invalid_authorization_code_and_is_not_retried() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let flow = flow();
    let code = authorize(&google, &flow).await;
    google.complete_authorization(&code, &flow).await.unwrap();
    let before = fake.requests(Endpoint::Token);
    let replay = google.complete_authorization(&code, &flow).await;
    assert!(
        matches!(replay, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{replay:?}"
    );
    assert_eq!(
        fake.requests(Endpoint::Token),
        before + 1,
        "one attempt, no retry"
    );
    let forged = google.complete_authorization("4/0made-up", &flow).await;
    assert!(
        matches!(forged, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{forged:?}"
    );
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_by_google_as_an_invalid_code() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let flow = flow();
    let code = authorize(&google, &flow).await;
    let other = AuthorizationFlow {
        pkce_verifier: format!("other-{}", "w".repeat(43)),
        ..flow
    };
    let result = google.complete_authorization(&code, &other).await;
    assert!(
        matches!(result, Err(IdentityError::InvalidAuthorizationCode(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_wrong_client_secret_makes_google_unavailable_rather_than_the_code_invalid() {
    let fake = FakeGoogle::start();
    let google =
        GoogleIdentityProvider::with_tuning(config_for(&fake.issuer(), "not-the-secret"), tuning())
            .unwrap();
    let flow = flow();
    let code = authorize(&google, &flow).await;
    assert_unavailable(google.complete_authorization(&code, &flow).await);
}

#[tokio::test]
async fn a_wrong_nonce_in_the_redirect_flow_is_refused() {
    let fake = FakeGoogle::start();
    fake.set_tamper(|claims| claims["nonce"] = json!("someone-else's-nonce"));
    assert_eq!(
        reason(browser_sign_in(&google(&fake)).await),
        "nonce mismatch"
    );
}

#[tokio::test]
async fn a_missing_nonce_in_the_redirect_flow_is_refused() {
    let fake = FakeGoogle::start();
    fake.set_tamper(|claims| {
        claims.as_object_mut().unwrap().remove("nonce");
    });
    assert_eq!(
        reason(browser_sign_in(&google(&fake)).await),
        "missing nonce"
    );
}

#[tokio::test]
async fn the_redirect_flow_accepts_only_our_web_client_as_audience() {
    let fake = FakeGoogle::start();
    fake.set_tamper(|claims| {
        claims["aud"] = json!(IOS_CLIENT_ID);
        claims["azp"] = json!(IOS_CLIENT_ID);
    });
    assert_eq!(
        reason(browser_sign_in(&google(&fake)).await),
        "not issued for this client"
    );
}

/// Rewrites the claims the fake's token endpoint signs.
type Tamper = fn(&mut Value);

#[tokio::test]
async fn tampered_claims_from_the_token_endpoint_are_refused() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let cases: [(Tamper, &str); 4] = [
        (
            |c| c["iss"] = json!("https://evil.example"),
            "unexpected issuer",
        ),
        (|c| c["exp"] = json!(1_000_000_000), "expired"),
        (
            |c| c["iat"] = json!(4_000_000_000_u64),
            "issued in the future",
        ),
        (
            |c| {
                c.as_object_mut().unwrap().remove("sub");
            },
            "no subject",
        ),
    ];
    for (tamper, expected) in cases {
        fake.set_tamper(tamper);
        assert_eq!(reason(browser_sign_in(&google).await), expected);
    }
}

#[tokio::test]
async fn an_unverified_or_unstated_email_is_refused_as_not_verified() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    for email_verified in [Some(false), None] {
        fake.set_user(FakeGoogleUser {
            email_verified,
            ..FakeGoogleUser::default()
        });
        let result = browser_sign_in(&google).await;
        assert!(
            matches!(result, Err(IdentityError::EmailNotVerified)),
            "{result:?}"
        );
    }
    fake.set_user(FakeGoogleUser {
        email: None,
        ..FakeGoogleUser::default()
    });
    assert_eq!(reason(browser_sign_in(&google).await), "no email");
}

// ---- native credentials --------------------------------------------------------------------

#[tokio::test]
async fn a_native_id_token_for_our_client_is_verified() {
    let fake = FakeGoogle::start();
    let user = FakeGoogleUser {
        email: Some("Bob@Example.com".into()),
        ..FakeGoogleUser::default()
    };
    let token = fake.id_token_for(&user, CLIENT_ID, None);
    let identity = native(&google(&fake), token, None).await.unwrap();
    assert_eq!(identity.provider, Provider::Google);
    assert_eq!(identity.subject.as_str(), user.sub);
    assert_eq!(identity.email.as_str(), "bob@example.com");
}

#[tokio::test]
async fn a_native_id_token_for_an_extra_audience_is_verified() {
    let fake = FakeGoogle::start();
    let token = fake.id_token_for(&FakeGoogleUser::default(), IOS_CLIENT_ID, None);
    assert!(native(&google(&fake), token, None).await.is_ok());
}

#[tokio::test]
async fn a_native_id_token_for_an_unknown_audience_is_refused() {
    let fake = FakeGoogle::start();
    let token = fake.id_token_for(
        &FakeGoogleUser::default(),
        "someone-else.apps.googleusercontent.com",
        None,
    );
    assert_eq!(
        reason(native(&google(&fake), token, None).await),
        "not issued for this client"
    );
}

#[tokio::test]
async fn several_audiences_are_accepted_only_with_an_authorized_party_of_ours() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let audiences = json!([CLIENT_ID, "someone-else"]);
    let ok = signed(&fake, json!({"aud": audiences, "azp": CLIENT_ID}));
    assert!(native(&google, ok, None).await.is_ok());
    let extra = signed(&fake, json!({"aud": audiences, "azp": IOS_CLIENT_ID}));
    assert!(native(&google, extra, None).await.is_ok());
    let foreign = signed(&fake, json!({"aud": audiences, "azp": "someone-else"}));
    assert_eq!(
        reason(native(&google, foreign, None).await),
        "authorized party is not this client"
    );
    let absent = signed(&fake, json!({"aud": audiences, "azp": null}));
    assert_eq!(
        reason(native(&google, absent, None).await),
        "several audiences and no authorized party"
    );
}

#[tokio::test]
async fn the_native_nonce_must_match_when_posted_and_is_not_looked_at_otherwise() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let user = FakeGoogleUser::default();
    let with_nonce = || fake.id_token_for(&user, CLIENT_ID, Some("app-nonce"));
    assert!(
        native(&google, with_nonce(), Some("app-nonce"))
            .await
            .is_ok()
    );
    assert_eq!(
        reason(native(&google, with_nonce(), Some("other")).await),
        "nonce mismatch"
    );
    assert!(
        native(&google, with_nonce(), None).await.is_ok(),
        "an id_token with a nonce is accepted when the app posts none"
    );
    let without = fake.id_token_for(&user, CLIENT_ID, None);
    assert!(native(&google, without.clone(), None).await.is_ok());
    assert_eq!(
        reason(native(&google, without, Some("app-nonce")).await),
        "missing nonce"
    );
}

#[tokio::test]
async fn expired_future_or_foreign_tokens_are_refused() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let now = now();
    let cases = [
        (json!({"exp": now - 120, "iat": now - 3720}), "expired"),
        (json!({"iat": now + 600}), "issued in the future"),
        (json!({"iat": null}), "no issue time"),
        (
            json!({"iss": "https://accounts.google.com"}),
            "unexpected issuer",
        ),
        (json!({"iss": "accounts.google.com"}), "unexpected issuer"),
        (json!({"sub": null}), "no subject"),
        (json!({"email": null}), "no email"),
    ];
    for (overrides, expected) in cases {
        let token = signed(&fake, overrides.clone());
        assert_eq!(
            reason(native(&google, token, None).await),
            expected,
            "{overrides}"
        );
    }
    let unverified = signed(&fake, json!({"email_verified": false}));
    assert!(matches!(
        native(&google, unverified, None).await,
        Err(IdentityError::EmailNotVerified)
    ));
}

// ---- signatures and algorithms -------------------------------------------------------------

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let fake = FakeGoogle::start();
    let claims = claims(&fake, json!({}));
    let token = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        encode(&claims)
    );
    assert_eq!(
        reason(native(&google(&fake), token, None).await),
        "signature algorithm not allowed"
    );
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let fake = FakeGoogle::start();
    let public_key = fake.jwks()["keys"][0].to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(fake.current_kid());
    let token = jsonwebtoken::encode(
        &header,
        &claims(&fake, json!({})),
        &jsonwebtoken::EncodingKey::from_secret(public_key.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        reason(native(&google(&fake), token, None).await),
        "signature algorithm not allowed"
    );
}

#[tokio::test]
async fn a_header_naming_another_algorithm_is_refused_even_over_a_valid_signature() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    for alg in ["RS384", "RS512", "PS256", "HS256", "none"] {
        let token = fake.sign_claims(json!({"alg": alg}), claims(&fake, json!({})));
        assert_eq!(
            reason(native(&google, token, None).await),
            "signature algorithm not allowed",
            "{alg}"
        );
    }
}

#[tokio::test]
async fn a_token_signed_with_an_unpublished_key_is_refused() {
    let fake = FakeGoogle::start();
    let token = fake.sign_with_unpublished_key(claims(&fake, json!({})));
    assert_eq!(
        reason(native(&google(&fake), token, None).await),
        "unknown signing key"
    );
}

#[tokio::test]
async fn a_forged_signature_under_the_current_kid_is_refused() {
    let fake = FakeGoogle::start();
    let forged = fake.sign_with_unpublished_key(claims(&fake, json!({})));
    let genuine = signed(&fake, json!({}));
    // The genuine header (current kid), the forger's payload and signature.
    let header = genuine.split('.').next().unwrap();
    let rest = forged.split_once('.').unwrap().1;
    let token = format!("{header}.{rest}");
    assert_eq!(
        reason(native(&google(&fake), token, None).await),
        "bad signature"
    );
    // And a genuine signature over altered claims.
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let altered = encode(&claims(&fake, json!({"sub": "mallory"})));
    parts[1] = &altered;
    assert_eq!(
        reason(native(&google(&fake), parts.join("."), None).await),
        "bad signature"
    );
}

// ---- keys ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_one_jwks_refetch() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let user = FakeGoogleUser::default();
    native(&google, fake.id_token_for(&user, CLIENT_ID, None), None)
        .await
        .unwrap();
    let fetched = fake.requests(Endpoint::Jwks);
    fake.rotate_key();
    native(&google, fake.id_token_for(&user, CLIENT_ID, None), None)
        .await
        .unwrap();
    native(&google, fake.id_token_for(&user, CLIENT_ID, None), None)
        .await
        .unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), fetched + 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_refetches_the_jwks_at_most_once() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    google.warm_up().await;
    assert!(google.is_ready().await);
    let fetched = fake.requests(Endpoint::Jwks);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..50 {
        let token = fake.sign_claims(
            json!({"kid": format!("random-kid-{n}-{}", now())}),
            claims(&fake, json!({})),
        );
        let google = google.clone();
        tasks.spawn(async move { native(&google, token, None).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(reason(result.unwrap()), "unknown signing key");
    }
    assert!(
        fake.requests(Endpoint::Jwks) <= fetched + 1,
        "{} refetches",
        fake.requests(Endpoint::Jwks) - fetched
    );
    // Within the interval even a genuine rotation waits: the limit holds whatever the traffic.
    fake.rotate_key();
    let rotated = fake.id_token_for(&FakeGoogleUser::default(), CLIENT_ID, None);
    assert_eq!(
        reason(native(&google, rotated, None).await),
        "unknown signing key"
    );
    assert!(fake.requests(Endpoint::Jwks) <= fetched + 1);
}

/// A provider on `fake` whose key cache runs on `clock`.
fn google_on(fake: &FakeGoogle, clock: &Clock) -> GoogleIdentityProvider {
    let tuning = Tuning {
        clock: clock.clone(),
        ..tuning()
    };
    GoogleIdentityProvider::with_tuning(
        config_for(&fake.issuer(), FakeGoogle::CLIENT_SECRET),
        tuning,
    )
    .unwrap()
}

#[tokio::test]
async fn a_withdrawn_key_is_refused_once_the_jwks_max_age_has_passed() {
    let fake = FakeGoogle::start();
    fake.set_jwks_max_age(Some(600));
    let clock = Clock::default();
    let google = google_on(&fake, &clock);
    let user = FakeGoogleUser::default();
    let under_the_old_key = fake.id_token_for(&user, CLIENT_ID, None);
    native(&google, under_the_old_key.clone(), None)
        .await
        .unwrap();
    fake.rotate_key();
    let fetched = fake.requests(Endpoint::Jwks);

    clock.advance(Duration::from_secs(599));
    native(&google, under_the_old_key.clone(), None)
        .await
        .expect("trusted while the JWKS answer is fresh");
    assert_eq!(fake.requests(Endpoint::Jwks), fetched);

    clock.advance(Duration::from_secs(2));
    assert_eq!(
        reason(native(&google, under_the_old_key, None).await),
        "unknown signing key"
    );
    assert_eq!(
        fake.requests(Endpoint::Jwks),
        fetched + 1,
        "one refresh, and no unknown-kid refetch right after it"
    );
    native(&google, fake.id_token_for(&user, CLIENT_ID, None), None)
        .await
        .unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), fetched + 1);
}

#[tokio::test]
async fn the_max_age_honoured_is_at_least_the_floor_and_at_most_a_day() {
    let fake = FakeGoogle::start();
    fake.set_jwks_max_age(Some(0));
    let clock = Clock::default();
    let google = google_on(&fake, &clock);
    let token = fake.id_token_for(&FakeGoogleUser::default(), CLIENT_ID, None);
    let sign_in = || native(&google, token.clone(), None);
    for _ in 0..5 {
        sign_in().await.unwrap();
    }
    assert_eq!(
        fake.requests(Endpoint::Jwks),
        1,
        "max-age=0 must not make every sign-in fetch the JWKS"
    );
    clock.advance(JWKS_MIN_MAX_AGE);
    sign_in().await.unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), 2);

    fake.set_jwks_max_age(Some(365 * 24 * 60 * 60));
    clock.advance(JWKS_MIN_MAX_AGE);
    sign_in().await.unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), 3);
    clock.advance(JWKS_MAX_MAX_AGE - Duration::from_secs(1));
    sign_in().await.unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), 3);
    clock.advance(Duration::from_secs(2));
    sign_in().await.unwrap();
    assert_eq!(
        fake.requests(Endpoint::Jwks),
        4,
        "a year asked for, a day honoured"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_keys_and_is_retried_after_the_refetch_interval() {
    let fake = FakeGoogle::start();
    fake.set_jwks_max_age(Some(600));
    let clock = Clock::default();
    let google = google_on(&fake, &clock);
    let user = FakeGoogleUser::default();
    let under_the_old_key = fake.id_token_for(&user, CLIENT_ID, None);
    native(&google, under_the_old_key.clone(), None)
        .await
        .unwrap();

    fake.set_failure(Endpoint::Jwks, Some(Failure::Status(503)));
    clock.advance(Duration::from_secs(601));
    for _ in 0..3 {
        native(&google, under_the_old_key.clone(), None)
            .await
            .expect("Google's JWKS failing is no reason to refuse a key it published");
    }
    assert_eq!(fake.requests(Endpoint::Jwks), 2, "one failed attempt");

    fake.set_failure(Endpoint::Jwks, None);
    fake.rotate_key();
    clock.advance(JWKS_REFETCH_INTERVAL);
    assert_eq!(
        reason(native(&google, under_the_old_key, None).await),
        "unknown signing key"
    );
    assert_eq!(fake.requests(Endpoint::Jwks), 3);
}

#[tokio::test]
async fn lookups_during_a_refresh_use_the_keys_they_have_instead_of_waiting() {
    let fake = FakeGoogle::start();
    fake.set_jwks_max_age(Some(600));
    let clock = Clock::default();
    let google = google_on(&fake, &clock);
    let token = fake.id_token_for(&FakeGoogleUser::default(), CLIENT_ID, None);
    native(&google, token.clone(), None).await.unwrap();

    fake.set_failure(Endpoint::Jwks, Some(Failure::Delay(Duration::from_secs(3))));
    clock.advance(Duration::from_secs(601));
    let refreshing = tokio::spawn({
        let (google, token) = (google.clone(), token.clone());
        async move { native(&google, token, None).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.requests(Endpoint::Jwks) < 2 {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached Google"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    native(&google, token, None).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a lookup waited {:?} for another's refresh",
        started.elapsed()
    );
    refreshing.await.unwrap().unwrap();
    assert_eq!(fake.requests(Endpoint::Jwks), 2);
}

#[tokio::test]
async fn keys_zeropass_does_not_use_are_skipped_not_fatal() {
    let fake = FakeGoogle::start();
    let current = fake.jwks()["keys"][0].clone();
    let mut encryption = current.clone();
    encryption["use"] = json!("enc");
    encryption["kid"] = json!("rsa-enc");
    let mut rs384 = current.clone();
    rs384["alg"] = json!("RS384");
    rs384["kid"] = json!("rsa-384");
    fake.set_jwks_extra(vec![
        json!({"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
               "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
               "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
        json!({"kty": "oct", "kid": "oct-1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}),
        json!({"kty": "OKP", "kid": "okp-1", "crv": "X25519", "x": "AAAA"}),
        json!({"kty": "future-type", "kid": "alien"}),
        encryption,
        rs384,
    ]);
    let google = google(&fake);
    let token = fake.id_token_for(&FakeGoogleUser::default(), CLIENT_ID, None);
    assert!(native(&google, token, None).await.is_ok());
    // A token pointing at a skipped key finds nothing to verify with.
    let at_rs384 = fake.sign_claims(json!({"kid": "rsa-384"}), claims(&fake, json!({})));
    assert_eq!(
        reason(native(&google, at_rs384, None).await),
        "unknown signing key"
    );
}

// ---- discovery -----------------------------------------------------------------------------

#[tokio::test]
async fn building_the_adapter_does_no_io_and_a_dead_google_is_unavailable() {
    let dead = {
        let fake = FakeGoogle::start();
        fake.issuer()
    }; // stopped: nothing listens there any more
    let google = GoogleIdentityProvider::with_tuning(config_for(&dead, "s"), tuning()).unwrap();
    google.warm_up().await;
    assert!(!google.is_ready().await);
    assert_unavailable(google.authorization_url(&flow()).await);
    assert_unavailable(native(&google, "a.b.c".into(), None).await);
    assert_unavailable(google.complete_authorization("code", &flow()).await);
}

#[tokio::test]
async fn discovery_down_at_first_then_up_is_unavailable_then_works_and_is_cached() {
    let fake = FakeGoogle::start();
    fake.set_failure(Endpoint::Discovery, Some(Failure::Status(503)));
    let google = google(&fake);
    google.warm_up().await;
    assert!(!google.is_ready().await);
    assert_unavailable(google.authorization_url(&flow()).await);
    fake.set_failure(Endpoint::Discovery, None);
    assert!(google.authorization_url(&flow()).await.is_ok());
    assert!(google.is_ready().await);
    let discoveries = fake.requests(Endpoint::Discovery);
    browser_sign_in(&google).await.unwrap();
    native(
        &google,
        fake.id_token_for(&FakeGoogleUser::default(), CLIENT_ID, None),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        fake.requests(Endpoint::Discovery),
        discoveries,
        "cached once it succeeded"
    );
    assert_eq!(discoveries, 3);
}

#[tokio::test]
async fn a_failed_discovery_is_not_retried_within_the_interval() {
    let fake = FakeGoogle::start();
    fake.set_failure(Endpoint::Discovery, Some(Failure::Status(500)));
    let google =
        GoogleIdentityProvider::new(config_for(&fake.issuer(), FakeGoogle::CLIENT_SECRET)).unwrap();
    assert_unavailable(google.authorization_url(&flow()).await);
    fake.set_failure(Endpoint::Discovery, None);
    assert_unavailable(google.authorization_url(&flow()).await);
    assert_unavailable(native(&google, "a.b.c".into(), None).await);
    assert_eq!(fake.requests(Endpoint::Discovery), 1);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_unavailable() {
    let fake = FakeGoogle::start();
    // Same server, spelled differently: its document names `http://127.0.0.1:PORT`.
    let elsewhere = format!("http://localhost:{}", fake.addr().port());
    let google = GoogleIdentityProvider::with_tuning(
        config_for(&elsewhere, FakeGoogle::CLIENT_SECRET),
        tuning(),
    )
    .unwrap();
    assert_unavailable(google.authorization_url(&flow()).await);
    assert!(fake.requests(Endpoint::Discovery) >= 1);
    assert!(!google.is_ready().await);
}

// ---- a broken Google -----------------------------------------------------------------------

fn failures() -> [Failure; 4] {
    [
        Failure::Status(500),
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
async fn a_broken_discovery_endpoint_makes_google_unavailable() {
    let fake = FakeGoogle::start();
    let google = impatient_google(&fake);
    for failure in failures() {
        fake.set_failure(Endpoint::Discovery, Some(failure.clone()));
        assert_unavailable_quickly(&failure, google.authorization_url(&flow())).await;
    }
    assert!(!google.is_ready().await);
}

#[tokio::test]
async fn a_broken_jwks_endpoint_makes_google_unavailable() {
    let fake = FakeGoogle::start();
    let user = FakeGoogleUser::default();
    for failure in failures() {
        // During discovery: the keys come with the metadata.
        let cold = impatient_google(&fake);
        fake.set_failure(Endpoint::Jwks, Some(failure.clone()));
        let token = fake.id_token_for(&user, CLIENT_ID, None);
        assert_unavailable_quickly(&failure, native(&cold, token, None)).await;
        // During a refetch after a rotation.
        fake.set_failure(Endpoint::Jwks, None);
        let warm = impatient_google(&fake);
        native(&warm, fake.id_token_for(&user, CLIENT_ID, None), None)
            .await
            .unwrap();
        fake.rotate_key();
        fake.set_failure(Endpoint::Jwks, Some(failure.clone()));
        let token = fake.id_token_for(&user, CLIENT_ID, None);
        assert_unavailable_quickly(&failure, native(&warm, token, None)).await;
        fake.set_failure(Endpoint::Jwks, None);
    }
}

#[tokio::test]
async fn a_broken_token_endpoint_makes_google_unavailable() {
    let fake = FakeGoogle::start();
    let google = impatient_google(&fake);
    for failure in failures() {
        let flow = flow();
        let code = authorize(&google, &flow).await;
        fake.set_failure(Endpoint::Token, Some(failure.clone()));
        let before = fake.requests(Endpoint::Token);
        assert_unavailable_quickly(&failure, google.complete_authorization(&code, &flow)).await;
        assert_eq!(
            fake.requests(Endpoint::Token),
            before + 1,
            "{failure:?}: never retried"
        );
        fake.set_failure(Endpoint::Token, None);
    }
}

#[tokio::test]
async fn a_token_endpoint_error_naming_invalid_grant_with_a_5xx_is_still_unavailable() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let flow = flow();
    let code = authorize(&google, &flow).await;
    fake.set_failure(Endpoint::Token, Some(Failure::Status(502)));
    assert_unavailable(google.complete_authorization(&code, &flow).await);
}

// ---- hygiene -------------------------------------------------------------------------------

#[tokio::test]
async fn debug_output_never_shows_the_client_secret() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    google.warm_up().await;
    let shown = format!("{google:?}");
    assert!(!shown.contains(FakeGoogle::CLIENT_SECRET), "{shown}");
    assert!(shown.contains(CLIENT_ID));
}

#[tokio::test]
async fn refusal_reasons_never_quote_the_token() {
    let fake = FakeGoogle::start();
    let google = google(&fake);
    let token = signed(&fake, json!({"aud": "someone-else"}));
    let shown = match native(&google, token.clone(), None).await {
        Err(error) => format!("{error} {error:?}"),
        Ok(_) => panic!("accepted"),
    };
    for part in token.split('.') {
        assert!(!shown.contains(part), "{shown}");
    }
    assert!(!shown.contains("alice@example.com"));
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

    let fake = FakeGoogle::start();
    let user = FakeGoogleUser {
        email: Some("Carol.Secret@Example.com".into()),
        ..FakeGoogleUser::default()
    };
    fake.set_user(user.clone());
    let google = google(&fake);
    let mut secrets = vec![
        FakeGoogle::CLIENT_SECRET.to_owned(),
        "carol.secret".to_owned(),
    ];

    // A sign-in, a replayed code, a wrong nonce, good and bad native tokens, a key refetch.
    let flow = flow();
    let code = authorize(&google, &flow).await;
    google.complete_authorization(&code, &flow).await.unwrap();
    assert!(google.complete_authorization(&code, &flow).await.is_err());
    secrets.extend([code, flow.nonce, flow.pkce_verifier, flow.state]);
    fake.set_tamper(|claims| claims["nonce"] = json!("tampered-nonce-value"));
    assert!(browser_sign_in(&google).await.is_err());
    secrets.push("tampered-nonce-value".into());
    let good = fake.id_token_for(&user, CLIENT_ID, Some("native-nonce-value"));
    let bad = fake.id_token_for(&user, "someone-else", None);
    let unknown = fake.sign_with_unpublished_key(claims(&fake, json!({})));
    native(&google, good.clone(), Some("native-nonce-value"))
        .await
        .unwrap();
    assert!(native(&google, bad.clone(), None).await.is_err());
    assert!(native(&google, unknown.clone(), None).await.is_err());
    secrets.push("native-nonce-value".into());
    for token in [good, bad, unknown] {
        secrets.extend(token.split('.').map(str::to_owned));
    }
    // And an outage.
    fake.set_failure(Endpoint::Discovery, Some(Failure::Status(500)));
    let cold = self::google(&fake);
    cold.warm_up().await;
    assert!(cold.authorization_url(&self::flow()).await.is_err());

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
