//! zeropass as other services see it: the example downstream service
//! (`examples/downstream`, run in-process on a loopback port) checks tokens from a real
//! zeropass (`JWT_ALGORITHM` `ES256` or `EdDSA`) with zeropass-verify and nothing secret —
//! a signed-in user's token is accepted, a tampered or expired one refused, and a
//! `keys rotate --now` leaves both the old and the new tokens accepted until the old key is
//! revoked. The downstream's clock is a settable one, so expiry and its key cache's lifetime
//! are moved forward rather than waited for.

use crate::flows;
use crate::harness::{PUBLIC_URL, TestServer, client, google_variables, pairs, token_for};
use actix_web::dev::ServerHandle;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zeropass_domain::Provider;
use zeropass_example_downstream::app;
use zeropass_example_downstream::zeropass_verify::{
    Clock, REFETCH_INTERVAL, SystemClock, Verifier,
};
use zeropass_fake_providers::{FakeGoogle, FakeGoogleUser};

/// The system clock plus an offset the test moves forward: the downstream's view of time.
#[derive(Debug, Clone, Default)]
struct MovableClock(Arc<AtomicU64>);

impl MovableClock {
    fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> u64 {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// The example service on a loopback port, on a thread with its own actix `System`; stopped
/// when dropped.
struct Downstream {
    address: String,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
    clock: MovableClock,
}

impl Downstream {
    /// The example app trusting `server`'s tokens: issuer `PUBLIC_URL`, keys fetched from the
    /// server's loopback address, no leeway on `exp`.
    fn trusting(server: &TestServer) -> Self {
        let clock = MovableClock::default();
        let verifier = Verifier::builder(PUBLIC_URL)
            .jwks_url(server.url("/.well-known/jwks.json"))
            .leeway(Duration::ZERO)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (started, handle) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || app(verifier.clone()))
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)
                    .unwrap()
                    .run();
                started.send(server.handle()).unwrap();
                server.await.unwrap();
            });
        });
        Self {
            address,
            handle: handle.recv_timeout(Duration::from_secs(10)).unwrap(),
            thread: Some(thread),
            clock,
        }
    }

    /// `GET /hello` with `token` as the bearer token.
    async fn hello(&self, token: &str) -> reqwest::Response {
        client()
            .get(format!("http://{}/hello", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Asserts `GET /hello` with `token` answers 200 naming `user`.
    async fn assert_accepts(&self, token: &str, user: &str, what: &str) {
        let response = self.hello(token).await;
        assert_eq!(response.status(), 200, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "user": user }), "{what}");
    }

    /// Asserts `GET /hello` with `token` answers 401 with the invalid-token challenge.
    async fn assert_refuses(&self, token: &str, what: &str) {
        let response = self.hello(token).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A zeropass signing with `algorithm`, its Google pointed at `google`, plus `extra`.
fn zeropass(google: &FakeGoogle, algorithm: &str, extra: &[(&str, &str)]) -> TestServer {
    let google = google_variables(google);
    let mut variables = pairs(&google);
    variables.push(("JWT_ALGORITHM", algorithm));
    variables.extend_from_slice(extra);
    TestServer::start_with(&variables)
}

/// Signs `email` in through the browser flow at the fake Google; returns the access token and
/// the user id.
async fn sign_in(server: &TestServer, google: &FakeGoogle, email: &str) -> (String, String) {
    google.set_user(FakeGoogleUser {
        sub: format!("sub-{email}"),
        email: Some(email.into()),
        email_verified: Some(true),
    });
    let response = flows::browser_sign_in(server, Provider::Google, "").await;
    assert_eq!(response.status(), 200, "sign-in of {email}");
    let body: Value = response.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The `alg` and `kid` of a token's header.
fn alg_and_kid(token: &str) -> (String, String) {
    let header = jsonwebtoken::decode_header(token).unwrap();
    (format!("{:?}", header.alg), header.kid.unwrap_or_default())
}

/// The server's published `kid`s.
async fn published_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The JWKS `max-age` the server sends, in seconds.
async fn jwks_max_age(server: &TestServer) -> u64 {
    let response = client()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let cache_control = response.headers()["cache-control"].to_str().unwrap();
    cache_control
        .split(',')
        .find_map(|part| part.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("no max-age in {cache_control:?}"))
        .parse()
        .unwrap()
}

/// `token` with its payload's `sub` replaced by another user id, the signature kept.
fn with_changed_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = Value::String("00000000-0000-4000-8000-000000000001".into());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// `token` with one bit of its signature flipped.
fn with_changed_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 0x01;
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs in again (a fresh token each time) until the server signs with a key other than
/// `old_kid` — it picks the rotation up at its next reload — and returns that token.
async fn token_signed_by_another_key(
    server: &TestServer,
    google: &FakeGoogle,
    email: &str,
    old_kid: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (token, _) = sign_in(server, google, email).await;
        if alg_and_kid(&token).1 != old_kid {
            return token;
        }
        assert!(
            Instant::now() < deadline,
            "the server still signs with {old_kid} 20 s after keys rotate --now"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A signed-in user's token reaches `/hello`; the same token with its payload or its signature
/// changed, an HS256 token (even one the server itself would have made under HS256) and no
/// token at all do not.
async fn a_real_token_is_accepted_and_tampered_ones_are_refused(algorithm: &str) {
    let google = FakeGoogle::start();
    let server = zeropass(&google, algorithm, &[]);
    let downstream = Downstream::trusting(&server);
    let (token, user) = sign_in(&server, &google, "ada@example.com").await;
    let (alg, kid) = alg_and_kid(&token);
    assert_eq!(alg, algorithm);
    assert!(published_kids(&server).await.contains(&kid), "{kid}");

    downstream
        .assert_accepts(&token, &user, "the token from the sign-in")
        .await;
    downstream
        .assert_refuses(&with_changed_payload(&token), "a changed payload")
        .await;
    downstream
        .assert_refuses(&with_changed_signature(&token), "a changed signature")
        .await;
    let hs256 = token_for(
        &server
            .create_user("hs256@example.com", Provider::Google)
            .await,
    );
    downstream
        .assert_refuses(&hs256, "an HS256 token made with JWT_SECRET")
        .await;
    let anonymous = client()
        .get(format!("http://{}/hello", downstream.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn an_es256_token_from_a_sign_in_is_accepted_downstream_and_a_tampered_one_is_refused() {
    a_real_token_is_accepted_and_tampered_ones_are_refused("ES256").await;
}

#[tokio::test]
async fn an_eddsa_token_from_a_sign_in_is_accepted_downstream_and_a_tampered_one_is_refused() {
    a_real_token_is_accepted_and_tampered_ones_are_refused("EdDSA").await;
}

#[tokio::test]
async fn a_token_is_refused_downstream_once_it_has_expired() {
    let google = FakeGoogle::start();
    let server = zeropass(&google, "ES256", &[("JWT_TTL_SECONDS", "60")]);
    let downstream = Downstream::trusting(&server);
    let (token, user) = sign_in(&server, &google, "grace@example.com").await;
    downstream
        .assert_accepts(&token, &user, "the fresh token")
        .await;

    // 60 s of lifetime, no leeway: one second past `exp` (at most 61 s after `iat`, which was
    // at or before now) it is refused.
    downstream.clock.advance(62);
    downstream
        .assert_refuses(&token, "the token after its lifetime")
        .await;
    let body: Value = downstream.hello(&token).await.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
}

/// An ES256 server and its downstream after `keys rotate --now`, with a token from before and
/// one from after the rotation (same user).
struct Rotated {
    google: FakeGoogle,
    server: TestServer,
    downstream: Downstream,
    old_token: String,
    new_token: String,
    old_kid: String,
    user: String,
}

/// A server reloading its keys every second, a downstream that has verified a first token
/// (so it holds a copy of the JWKS without the new key), then `keys rotate --now` and a
/// sign-in once the server signs with the new key.
async fn rotated_now() -> Rotated {
    let google = FakeGoogle::start();
    let server = zeropass(&google, "ES256", &[("JWT_KEY_RELOAD_SECONDS", "1")]);
    let downstream = Downstream::trusting(&server);
    let (old_token, user) = sign_in(&server, &google, "linus@example.com").await;
    downstream
        .assert_accepts(&old_token, &user, "the token before the rotation")
        .await;
    let (_, old_kid) = alg_and_kid(&old_token);

    let rotate = server.cli(&["keys", "rotate", "--now"]);
    assert_eq!(rotate.code(), Some(0), "{rotate:?}");
    let new_token =
        token_signed_by_another_key(&server, &google, "linus@example.com", &old_kid).await;
    Rotated {
        google,
        server,
        downstream,
        old_token,
        new_token,
        old_kid,
        user,
    }
}

#[tokio::test]
async fn after_keys_rotate_now_new_tokens_carry_the_new_kid_and_old_and_new_are_accepted() {
    let Rotated {
        server,
        downstream,
        old_token,
        new_token,
        old_kid,
        user,
        ..
    } = rotated_now().await;
    let (alg, new_kid) = alg_and_kid(&new_token);
    assert_eq!(alg, "ES256");
    let published = published_kids(&server).await;
    assert!(
        published.contains(&old_kid) && published.contains(&new_kid),
        "both keys are published: {published:?}"
    );
    let listed = server.cli(&["keys", "list", "--json"]).json();
    let state_of = |kid: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["kid"] == kid)
            .map(|key| key["state"].clone())
    };
    assert_eq!(state_of(&new_kid), Some("current".into()), "{listed}");
    assert_eq!(state_of(&old_kid), Some("retired".into()), "{listed}");

    // The downstream fetched the keys moments ago; it may fetch again for an unknown `kid`
    // once the refetch interval has passed.
    downstream.clock.advance(REFETCH_INTERVAL);
    downstream
        .assert_accepts(&new_token, &user, "the token signed by the new key")
        .await;
    downstream
        .assert_accepts(&old_token, &user, "the token signed before the rotation")
        .await;
}

#[tokio::test]
async fn after_a_compromise_a_revoked_key_s_tokens_are_refused_once_the_cached_keys_expire() {
    let Rotated {
        google,
        server,
        downstream,
        old_token,
        new_token,
        old_kid,
        user,
    } = rotated_now().await;
    let revoke = server.cli(&["keys", "revoke", &old_kid]);
    assert_eq!(revoke.code(), Some(0), "{revoke:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while published_kids(&server).await.contains(&old_kid) {
        assert!(Instant::now() < deadline, "{old_kid} still published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let me = client()
        .get(server.url("/users/me"))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "zeropass itself refuses the revoked key");

    // The downstream holds a copy fetched before the revocation for up to max-age.
    downstream.clock.advance(jwks_max_age(&server).await + 1);
    downstream
        .assert_refuses(&old_token, "a token of the revoked key")
        .await;
    downstream
        .assert_accepts(&new_token, &user, "a token of the new key")
        .await;
    let (fresh, _) = sign_in(&server, &google, "linus@example.com").await;
    downstream
        .assert_accepts(&fresh, &user, "a token issued after the revocation")
        .await;
}
