//! Signing keys from outside (`JWT_ALGORITHM` `ES256` or `EdDSA`): the JWKS's exact shape and
//! headers, tokens whose `kid` names a published key and that an independent library
//! (jsonwebtoken) verifies with it, the algorithm pinned across a switch on one database,
//! instances starting at once on an empty database agreeing on one key, and the operator's
//! `keys` commands — a rotation picked up by every instance, a revocation refusing the old
//! tokens, the listing's shape, and bad input refused. The instances reload their keys every
//! second (`JWT_KEY_RELOAD_SECONDS=1`), so a change is polled for, within a bound, never slept
//! on. What does not depend on the database runs on SQLite alone; the rest on both.

use crate::database::{Backend, SharedDatabase, on_each_database};
use crate::harness::{
    CommandOutput, PUBLIC_URL, TEST_SECRET, TestServer, client, google_variables, pairs,
    run_command, run_to_exit,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use zeropass_fake_providers::{FakeGoogle, FakeGoogleUser};

/// How long a change may take to reach every instance in these tests (they reload every
/// second; the bound leaves room for a loaded machine).
const PICKUP_LIMIT: Duration = Duration::from_secs(20);
/// The bound on every single request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Polls `condition` (an expression that may `.await`) every 200 ms until it holds; fails
/// naming `what` after [`PICKUP_LIMIT`].
macro_rules! eventually {
    ($what:expr, $condition:expr) => {{
        let deadline = Instant::now() + PICKUP_LIMIT;
        loop {
            if $condition {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not happen within {:?}",
                $what,
                PICKUP_LIMIT
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

/// A database, the fake Google every instance trusts, and the instances running on it.
struct KeyBed {
    servers: Vec<TestServer>,
    google: FakeGoogle,
    // Dropped after the servers.
    database: SharedDatabase,
}

impl KeyBed {
    /// A fresh database and no instance yet; `None` when PostgreSQL is absent and tests may skip.
    async fn create(backend: Backend) -> Option<Self> {
        Some(Self {
            servers: Vec::new(),
            google: FakeGoogle::start(),
            database: SharedDatabase::create(backend).await?,
        })
    }

    /// Starts `count` instances at the same moment with `JWT_ALGORITHM=algorithm`, reloading
    /// their keys every second.
    fn start(&mut self, algorithm: &str, count: usize) {
        let mut variables = google_variables(&self.google);
        variables.push(("DATABASE_URL", self.database.url().to_owned()));
        variables.push(("JWT_ALGORITHM", algorithm.to_owned()));
        variables.push(("JWT_KEY_RELOAD_SECONDS", "1".to_owned()));
        let variables = pairs(&variables);
        let started: Vec<TestServer> = std::thread::scope(|scope| {
            let starting: Vec<_> = (0..count)
                .map(|_| scope.spawn(|| TestServer::start_with(&variables)))
                .collect();
            starting
                .into_iter()
                .map(|instance| instance.join().unwrap())
                .collect()
        });
        self.servers.extend(started);
    }

    /// Stops every instance (the database stays).
    fn stop(&mut self) {
        for server in &mut self.servers {
            server.terminate();
        }
        self.servers.clear();
    }

    /// A native Google sign-in of Ada at instance `at`: the access token.
    async fn sign_in(&self, at: usize) -> String {
        let ada = FakeGoogleUser {
            sub: "keys-ada".into(),
            email: Some("ada@example.com".into()),
            email_verified: Some(true),
        };
        let id_token = self.google.id_token_for(&ada, FakeGoogle::CLIENT_ID, None);
        let response = client()
            .post(self.servers[at].url("/auth/google/token"))
            .json(&json!({ "id_token": id_token }))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-in at instance {at}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The status of `GET /users/me` with `token` at instance `at`.
    async fn users_me(&self, at: usize, token: &str) -> u16 {
        client()
            .get(self.servers[at].url("/users/me"))
            .bearer_auth(token)
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Instance `at`'s JWKS, its headers checked.
    async fn jwks(&self, at: usize) -> Value {
        jwks_of(&self.servers[at]).await
    }

    /// The kids instance `at` publishes.
    async fn published(&self, at: usize) -> BTreeSet<String> {
        kids(&self.jwks(at).await)
    }

    /// `zeropass ARGS` with the first instance's environment.
    fn cli(&self, args: &[&str]) -> CommandOutput {
        self.servers[0].cli(args)
    }

    /// `keys list --json`, which must succeed.
    fn listed_keys(&self) -> Vec<Value> {
        let listed = self.cli(&["keys", "list", "--json"]);
        assert_eq!(listed.code(), Some(0), "{listed:?}");
        listed.json().as_array().unwrap().clone()
    }
}

/// `GET /.well-known/jwks.json`, asserting the status and the headers every answer carries.
async fn jwks_of(server: &TestServer) -> Value {
    let response = client()
        .get(server.url("/.well-known/jwks.json"))
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("cache-control"), "public, max-age=300");
    assert_eq!(header("x-content-type-options"), "nosniff");
    response.json().await.unwrap()
}

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The `kid` and `alg` of a token's header.
fn header_of(token: &str) -> (String, String) {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    (
        header["kid"].as_str().unwrap_or_default().to_owned(),
        header["alg"].as_str().unwrap().to_owned(),
    )
}

/// Asserts every key of `jwks` has exactly the contract's members for `algorithm`.
fn assert_exact_members(jwks: &Value, algorithm: &str) {
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty(), "{jwks}");
    for key in keys {
        let members: BTreeSet<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
        assert_eq!(key["alg"], algorithm, "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        match algorithm {
            "ES256" => {
                assert_eq!(
                    members,
                    BTreeSet::from(["kid", "alg", "use", "kty", "crv", "x", "y"])
                );
                assert_eq!(
                    (key["kty"].as_str(), key["crv"].as_str()),
                    (Some("EC"), Some("P-256"))
                );
                assert_eq!((coordinate("x").len(), coordinate("y").len()), (32, 32));
            }
            _ => {
                assert_eq!(
                    members,
                    BTreeSet::from(["kid", "alg", "use", "kty", "crv", "x"])
                );
                assert_eq!(
                    (key["kty"].as_str(), key["crv"].as_str()),
                    (Some("OKP"), Some("Ed25519"))
                );
                assert_eq!(coordinate("x").len(), 32);
            }
        }
    }
}

/// Verifies `token` with the key of `jwks` its header names, with jsonwebtoken (someone
/// else's reading of the JWK format): the claims.
fn verified_by_jwks(token: &str, jwks: &Value) -> Value {
    let (kid, _) = header_of(token);
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("{kid} is not in {jwks}"));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let decoding_key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&["zeropass"]);
    validation.set_issuer(&[PUBLIC_URL]);
    jsonwebtoken::decode::<Value>(token, &decoding_key, &validation)
        .unwrap()
        .claims
}

// --- the JWKS and the tokens ----------------------------------------------------------------

#[tokio::test]
async fn under_hs256_the_jwks_is_empty_and_carries_its_cache_headers() {
    let server = TestServer::start();
    let jwks = jwks_of(&server).await;
    assert_eq!(jwks, json!({"keys": []}));
    assert!(!jwks.to_string().contains(TEST_SECRET));
}

on_each_database!(es256_and_eddsa_tokens_name_a_published_key_that_verifies_them);
async fn es256_and_eddsa_tokens_name_a_published_key_that_verifies_them(backend: Backend) {
    for algorithm in ["ES256", "EdDSA"] {
        let Some(mut bed) = KeyBed::create(backend).await else {
            return;
        };
        bed.start(algorithm, 1);
        let jwks = bed.jwks(0).await;
        assert_exact_members(&jwks, algorithm);
        assert_eq!(kids(&jwks).len(), 1, "{jwks}");

        let token = bed.sign_in(0).await;
        let (kid, alg) = header_of(&token);
        assert_eq!(alg, algorithm);
        assert!(kids(&jwks).contains(&kid), "{kid} in {jwks}");
        let claims = verified_by_jwks(&token, &jwks);
        assert_eq!(claims["iss"], PUBLIC_URL);
        assert_eq!(bed.users_me(0, &token).await, 200);
        assert!(!jwks.to_string().contains(TEST_SECRET));
    }
}

on_each_database!(switching_the_algorithm_refuses_the_tokens_of_the_previous_one);
async fn switching_the_algorithm_refuses_the_tokens_of_the_previous_one(backend: Backend) {
    let Some(mut bed) = KeyBed::create(backend).await else {
        return;
    };
    bed.start("HS256", 1);
    let hs256_token = bed.sign_in(0).await;
    assert_eq!(bed.users_me(0, &hs256_token).await, 200);
    bed.stop();

    bed.start("ES256", 1);
    assert_eq!(
        bed.users_me(0, &hs256_token).await,
        401,
        "an HS256 token under ES256"
    );
    let es256_token = bed.sign_in(0).await;
    assert_eq!(bed.users_me(0, &es256_token).await, 200);
    bed.stop();

    bed.start("HS256", 1);
    assert_eq!(
        bed.users_me(0, &es256_token).await,
        401,
        "an ES256 token under HS256"
    );
    assert_eq!(
        bed.jwks(0).await,
        json!({"keys": []}),
        "HS256 publishes nothing, whatever keys are stored"
    );
    assert_eq!(bed.users_me(0, &hs256_token).await, 200);
}

// --- several instances, rotation and revocation ----------------------------------------------

on_each_database!(instances_started_at_once_share_one_key_then_follow_a_rotation_and_a_revocation);
async fn instances_started_at_once_share_one_key_then_follow_a_rotation_and_a_revocation(
    backend: Backend,
) {
    let Some(mut bed) = KeyBed::create(backend).await else {
        return;
    };
    bed.start("ES256", 3);
    let keys = bed.listed_keys();
    assert_eq!(keys.len(), 1, "exactly one key is made: {keys:?}");
    let old = keys[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(keys[0]["state"], "current");
    for at in 0..3 {
        assert_eq!(bed.published(at).await, BTreeSet::from([old.clone()]));
    }
    let old_token = bed.sign_in(1).await;
    assert_eq!(header_of(&old_token).0, old);

    let rotated = bed.cli(&["keys", "rotate", "--now"]);
    assert_eq!(rotated.code(), Some(0), "{rotated:?}");
    let keys = bed.listed_keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let new = keys
        .iter()
        .find(|key| key["state"] == "current")
        .unwrap_or_else(|| panic!("a current key in {keys:?}"))["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert!(rotated.stdout.contains(&new), "{rotated:?}");
    assert!(
        rotated.stderr.contains(&new),
        "the change is logged: {rotated:?}"
    );
    let retired = keys.iter().find(|key| key["kid"] == old.as_str()).unwrap();
    assert_eq!(retired["state"], "retired");
    assert!(retired["expires_at"].is_string(), "{retired}");
    for at in 0..3 {
        eventually!(format!("instance {at} signing with {new}"), {
            header_of(&bed.sign_in(at).await).0 == new
        });
        assert_eq!(
            bed.users_me(at, &old_token).await,
            200,
            "the old token still works"
        );
    }
    let new_token = bed.sign_in(2).await;

    let revoked = bed.cli(&["keys", "revoke", &old]);
    assert_eq!(revoked.code(), Some(0), "{revoked:?}");
    assert!(
        revoked.stderr.contains(&old),
        "the change is logged: {revoked:?}"
    );
    for at in 0..3 {
        eventually!(format!("instance {at} refusing the revoked key's token"), {
            bed.users_me(at, &old_token).await == 401
        });
        assert_eq!(bed.published(at).await, BTreeSet::from([new.clone()]));
        assert_eq!(bed.users_me(at, &new_token).await, 200);
    }
    let keys = bed.listed_keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_rotation_is_published_at_once_and_signs_only_later() {
    let mut bed = KeyBed::create(Backend::Sqlite).await.unwrap();
    bed.start("EdDSA", 1);
    let current = bed.sign_in(0).await;
    let (signing, _) = header_of(&current);

    let rotated = bed.cli(&["keys", "rotate"]);
    assert_eq!(rotated.code(), Some(0), "{rotated:?}");
    let keys = bed.listed_keys();
    for key in &keys {
        let members: BTreeSet<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            members,
            BTreeSet::from([
                "kid",
                "alg",
                "state",
                "created_at",
                "activates_at",
                "expires_at"
            ])
        );
        assert_eq!(key["alg"], "EdDSA");
        assert!(
            key["expires_at"].is_null(),
            "nothing is superseded yet: {key}"
        );
        for time in ["created_at", "activates_at"] {
            chrono::DateTime::parse_from_rfc3339(key[time].as_str().unwrap()).unwrap();
        }
    }
    let states: Vec<&str> = keys
        .iter()
        .map(|key| key["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["current", "next"]);
    let next = keys[1]["kid"].as_str().unwrap().to_owned();
    assert!(rotated.stdout.contains(&next), "{rotated:?}");
    let lead = chrono::DateTime::parse_from_rfc3339(keys[1]["activates_at"].as_str().unwrap())
        .unwrap()
        - chrono::DateTime::parse_from_rfc3339(keys[1]["created_at"].as_str().unwrap()).unwrap();
    assert!(
        lead >= chrono::Duration::seconds(300),
        "published at least max-age before it signs: {lead}"
    );

    eventually!("the next key in the JWKS", {
        bed.published(0).await.contains(&next)
    });
    assert_eq!(
        header_of(&bed.sign_in(0).await).0,
        signing,
        "not signing yet"
    );
    let table = bed.cli(&["keys", "list"]);
    assert_eq!(table.code(), Some(0), "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table:?}");
    for column in ["KID", "ALG", "STATE", "CREATED", "ACTIVATES", "EXPIRES"] {
        assert!(lines[0].contains(column), "{table:?}");
    }
    assert!(
        lines[2].contains(&next) && lines[2].contains("next"),
        "{table:?}"
    );
}

// --- refusals ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_an_unknown_key_exits_1_and_a_malformed_kid_exits_2() {
    let mut bed = KeyBed::create(Backend::Sqlite).await.unwrap();
    bed.start("ES256", 1);
    let before = bed.listed_keys();
    // At RUST_LOG=warn the refusal is the only line: the use case logs every revocation
    // attempt at info.
    let quiet = [("RUST_LOG", "warn")];
    bed.servers[0]
        .cli_with(&["keys", "revoke", "AAAAAAAAAAAAAAAAAAAAAA"], &quiet)
        .assert_refused(1, "no such key");
    for malformed in ["some-kid", "AAAAAAAAAAAAAAAAAAAAA=", ""] {
        let output = bed.servers[0].cli_with(&["keys", "revoke", malformed], &quiet);
        output.assert_refused(2, "KID");
        assert!(output.stdout.is_empty(), "{output:?}");
    }
    assert_eq!(bed.listed_keys(), before, "nothing changed");
}

#[test]
fn every_keys_command_under_hs256_exits_2_saying_keys_need_es256_or_eddsa() {
    let directory = tempfile::tempdir().unwrap();
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--json"],
        &["keys", "rotate"],
        &["keys", "rotate", "--now"],
        &["keys", "revoke", "AAAAAAAAAAAAAAAAAAAAAA"],
    ] {
        let output = run_command(directory.path(), &[("JWT_SECRET", TEST_SECRET)], args);
        output.assert_refused(2, "JWT_ALGORITHM=ES256");
        assert!(output.stdout.is_empty(), "{args:?}: {output:?}");
    }
    assert!(
        !directory.path().join("zeropass.db").exists(),
        "nothing is opened under HS256"
    );
}

#[test]
fn a_server_refuses_to_start_with_an_unknown_algorithm_or_stored_keys_without_a_secret() {
    for (variables, named) in [
        (&[("JWT_ALGORITHM", "RS256")][..], "JWT_ALGORITHM"),
        (&[("JWT_ALGORITHM", "es256")], "JWT_ALGORITHM"),
        (&[("JWT_ALGORITHM", "EdDSA")], "JWT_SECRET"),
        (
            &[
                ("JWT_ALGORITHM", "ES256"),
                ("JWT_SECRET", TEST_SECRET),
                ("JWT_KEY_RELOAD_SECONDS", "61"),
            ],
            "JWT_KEY_RELOAD_SECONDS",
        ),
        (
            &[
                ("JWT_ALGORITHM", "ES256"),
                ("JWT_SECRET", TEST_SECRET),
                ("JWT_KEY_ROTATION_DAYS", "3651"),
            ],
            "JWT_KEY_ROTATION_DAYS",
        ),
    ] {
        let (status, stderr) = run_to_exit(variables);
        assert_eq!(status.code(), Some(2), "{variables:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{variables:?}: {stderr}");
        assert!(lines[0].contains(named), "{named} in {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_jwt_secret_cannot_open_the_stored_keys_and_the_start_stops_naming_it() {
    let mut bed = KeyBed::create(Backend::Sqlite).await.unwrap();
    bed.start("ES256", 1);
    bed.stop();
    let other_secret = "another-secret-of-at-least-thirty-two-bytes";
    let (status, stderr) = run_to_exit(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", bed.database.url()),
        ("JWT_ALGORITHM", "ES256"),
        ("JWT_SECRET", other_secret),
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("cannot start"))
        .collect();
    assert_eq!(refusals.len(), 1, "one line saying why: {stderr}");
    assert!(refusals[0].contains("JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains(other_secret) && !stderr.contains(TEST_SECRET));
    assert!(!stderr.contains("listening"), "{stderr}");
}
