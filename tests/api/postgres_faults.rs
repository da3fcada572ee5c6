//! PostgreSQL failing under a running server, provoked for real: the database gone (every
//! connection closed, new ones refused), hanging (connections accepted, nothing answered), its
//! sessions ended by `pg_terminate_backend`, and unreachable at start-up. A [`Proxy`] between
//! zeropass and the shared server makes the first two without touching that server. Under a
//! bounded load, requests that need the database must answer 503 `database_unavailable` with
//! `Retry-After` within 15 s, `/health` 503, both recover without a restart, and every user
//! who got a token is still there afterwards. Every wait is bounded; the figures are printed.

use crate::harness::{TestServer, client, google_variables, pairs, wait_bounded, zeropass_command};
use crate::proxy::{Mode, Proxy};
use serde_json::{Value, json};
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeropass_fake_providers::{FakeGoogle, FakeGoogleUser};
use zeropass_test_postgres::TestDatabase;

/// The contract's bound on a request while the database is unreachable.
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(15);
/// `/health`'s own bound on its ping (the connection wait, `DATABASE_CONNECT_TIMEOUT_SECONDS`,
/// 5 s by default) plus a margin: a load balancer's health check must get its 503 in time.
const HEALTH_WITHIN: Duration = Duration::from_secs(7);
/// How long the database may take to be used again once back (pool back-off, health).
const RECOVERY_WITHIN: Duration = Duration::from_secs(30);
/// A client's own bound on one request: longer than the contract's, so a hang is measured.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(25);

/// A server whose database connections go through a proxy the test controls.
struct Setup {
    server: TestServer,
    google: Arc<FakeGoogle>,
    proxy: Proxy,
    // Dropped last.
    database: TestDatabase,
}

impl Setup {
    async fn start(extra: &[(&str, &str)]) -> Option<Self> {
        let database = TestDatabase::create().await?;
        let proxy = Proxy::start(&database.server_address());
        let google = Arc::new(FakeGoogle::start());
        let through = database.url_through(proxy.address());
        let mut variables = google_variables(&google);
        variables.push(("DATABASE_URL", through));
        let mut all: Vec<(&str, &str)> = pairs(&variables);
        all.extend_from_slice(extra);
        let server = TestServer::start_with(&all);
        Some(Self {
            server,
            google,
            proxy,
            database,
        })
    }
}

fn person(name: &str) -> FakeGoogleUser {
    FakeGoogleUser {
        sub: format!("db-fault-{name}"),
        email: Some(format!("{name}@example.com")),
        email_verified: Some(true),
    }
}

/// One answer seen by the load: when sent, how long it took, and what came back.
#[derive(Debug, Clone)]
struct Seen {
    sent: Instant,
    took: Duration,
    /// The status, `None` for a transport error or a client time-out.
    status: Option<u16>,
    /// The problem `code` of an error answer.
    code: Option<String>,
    retry_after: bool,
}

/// Everything the load saw, and the users whose sign-in it saw succeed.
#[derive(Debug, Default)]
struct Observed {
    answers: Vec<Seen>,
    /// (user id, access token) of every sign-in answered 200.
    signed_in: Vec<(String, String)>,
}

async fn observe(request: reqwest::RequestBuilder) -> (Seen, Option<Value>) {
    let sent = Instant::now();
    let response = request.timeout(CLIENT_TIMEOUT).send().await;
    let (status, retry_after, body) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            (
                Some(status),
                retry_after,
                response.json::<Value>().await.ok(),
            )
        }
        Err(_) => (None, false, None),
    };
    let code = body
        .as_ref()
        .and_then(|body| body["code"].as_str().map(str::to_owned));
    let seen = Seen {
        sent,
        took: sent.elapsed(),
        status,
        code,
        retry_after,
    };
    (seen, body)
}

/// Four clients until `stop`: two read `/users/me` with `token`, two sign new people in.
fn start_load(
    setup: &Setup,
    token: &str,
    observed: &Arc<Mutex<Observed>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|n| {
            let base = setup.server.url("");
            let token = token.to_owned();
            let google = Arc::clone(&setup.google);
            let (observed, stop) = (Arc::clone(observed), Arc::clone(stop));
            tokio::spawn(async move {
                let http = client();
                for sequence in 0_u32.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if n < 2 {
                        let (seen, _) =
                            observe(http.get(format!("{base}/users/me")).bearer_auth(&token)).await;
                        observed.lock().unwrap().answers.push(seen);
                    } else {
                        let id_token = google.id_token_for(
                            &person(&format!("load-{n}-{sequence}")),
                            FakeGoogle::CLIENT_ID,
                            None,
                        );
                        let (seen, body) = observe(
                            http.post(format!("{base}/auth/google/token"))
                                .json(&json!({ "id_token": id_token })),
                        )
                        .await;
                        let mut observed = observed.lock().unwrap();
                        if seen.status == Some(200) {
                            let body = body.unwrap_or_default();
                            observed.signed_in.push((
                                body["user"]["id"].as_str().unwrap_or_default().to_owned(),
                                body["access_token"].as_str().unwrap_or_default().to_owned(),
                            ));
                        }
                        observed.answers.push(seen);
                    }
                    // A bounded load: a few dozen requests a second, not a flood.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect()
}

/// Polls `path` (with `token`) until it answers `status`; the time it took, which the caller
/// checks against its bound (after printing it). Panics when no poll sent within `limit` got it.
async fn until_status(
    setup: &Setup,
    path: &str,
    token: &str,
    status: u16,
    limit: Duration,
) -> Duration {
    let since = Instant::now();
    loop {
        let sent = since.elapsed();
        let answered = client()
            .get(setup.server.url(path))
            .bearer_auth(token)
            .timeout(CLIENT_TIMEOUT)
            .send()
            .await
            .map(|response| response.status().as_u16());
        if answered.as_ref().is_ok_and(|got| *got == status) {
            return since.elapsed();
        }
        assert!(
            sent < limit,
            "{path} did not answer {status} within {limit:?} (last: {answered:?}); log:\n{}",
            setup.server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The database made unreachable in `mode` under load, then back: the whole scenario.
async fn database_outage_under_load(mode: Mode) {
    let Some(setup) = Setup::start(&[]).await else {
        return;
    };
    let before = setup
        .google
        .id_token_for(&person("before"), FakeGoogle::CLIENT_ID, None);
    let (seen, body) = observe(
        client()
            .post(setup.server.url("/auth/google/token"))
            .json(&json!({ "id_token": before })),
    )
    .await;
    assert_eq!(seen.status, Some(200), "{body:?}");
    let body = body.unwrap();
    let (known_id, token) = (
        body["user"]["id"].as_str().unwrap().to_owned(),
        body["access_token"].as_str().unwrap().to_owned(),
    );

    let observed = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(&setup, &token, &observed, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let fault = Instant::now();
    setup.proxy.set(mode);
    let first_503 = until_status(&setup, "/users/me", &token, 503, UNAVAILABLE_WITHIN).await;
    let health_503 = until_status(&setup, "/health", "", 503, UNAVAILABLE_WITHIN).await;
    // A while down, so that the load meets the fault.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let back = Instant::now();
    setup.proxy.set(Mode::Forward);
    let users_me_back = until_status(&setup, "/users/me", &token, 200, RECOVERY_WITHIN).await;
    let health_back = until_status(&setup, "/health", "", 200, RECOVERY_WITHIN).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(CLIENT_TIMEOUT * 2, client)
            .await
            .expect("a load client hung")
            .unwrap();
    }

    let observed = std::mem::take(&mut *observed.lock().unwrap());
    let during: Vec<&Seen> = observed
        .answers
        .iter()
        .filter(|seen| seen.sent >= fault && seen.sent < back)
        .collect();
    let slowest = observed
        .answers
        .iter()
        .max_by_key(|seen| seen.took)
        .cloned();
    let refused = during
        .iter()
        .filter(|seen| seen.status == Some(503))
        .count();
    // The figures first, so that a failing run still gives them.
    eprintln!(
        "PostgreSQL {mode:?}: first 503 on /users/me {first_503:?} after the fault, /health \
         503 {:?} after it; {refused} of {} requests sent during the fault refused; slowest \
         request {:?} (sent {:?} after the fault, the fault lasted {:?}); back: /users/me 200 \
         after {users_me_back:?}, /health 200 after {health_back:?}; {} sign-ins succeeded",
        health_503 + first_503,
        during.len(),
        slowest.as_ref().map(|seen| seen.took),
        slowest
            .as_ref()
            .map(|seen| seen.sent.saturating_duration_since(fault)),
        back - fault,
        observed.signed_in.len()
    );
    assert!(
        first_503 < UNAVAILABLE_WITHIN && health_503 < HEALTH_WITHIN,
        "503 after {first_503:?}, /health 503 after {health_503:?} more"
    );
    assert!(
        users_me_back < RECOVERY_WITHIN && health_back < RECOVERY_WITHIN,
        "recovered after {users_me_back:?} (/health {health_back:?})"
    );
    for seen in &observed.answers {
        match (seen.status, seen.code.as_deref()) {
            (Some(200), _) => {}
            (Some(503), Some("database_unavailable")) => {
                assert!(seen.retry_after, "a 503 without Retry-After: {seen:?}")
            }
            _ => panic!("neither 200 nor 503 database_unavailable: {seen:?}"),
        }
        assert!(
            seen.took < UNAVAILABLE_WITHIN,
            "a request took {:?} ({seen:?})",
            seen.took
        );
    }
    assert!(refused >= 1, "the load never met the fault: {during:?}");
    let last: Vec<&Seen> = observed
        .answers
        .iter()
        .filter(|seen| seen.sent > back + users_me_back)
        .collect();
    assert!(
        last.iter().all(|seen| seen.status == Some(200)),
        "after recovery: {last:?}"
    );

    // Nothing a client saw succeed is lost.
    let me: Value = client()
        .get(setup.server.url("/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], known_id.as_str());
    for (id, token) in &observed.signed_in {
        let me: Value = client()
            .get(setup.server.url("/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["id"], id.as_str(), "a user who got a token is gone");
    }
    let users = setup.database.count("SELECT count(*) FROM users").await;
    assert!(
        users > observed.signed_in.len() as i64,
        "{users} users, {} tokens given",
        observed.signed_in.len()
    );
    eprintln!("PostgreSQL {mode:?}: every user who got a token is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_going_away_under_load_is_503_with_retry_after_in_time_and_recovers() {
    database_outage_under_load(Mode::Closed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_hanging_under_load_is_503_with_retry_after_in_time_and_recovers() {
    database_outage_under_load(Mode::Hang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_database_sessions_cost_at_most_a_few_503s_then_everything_answers() {
    // The proxy only forwards here: the server itself ends zeropass's sessions.
    let Some(setup) = Setup::start(&[("DATABASE_POOL_SIZE", "4")]).await else {
        return;
    };
    let id_token = setup
        .google
        .id_token_for(&person("steady"), FakeGoogle::CLIENT_ID, None);
    let (seen, body) = observe(
        client()
            .post(setup.server.url("/auth/google/token"))
            .json(&json!({ "id_token": id_token })),
    )
    .await;
    assert_eq!(seen.status, Some(200), "{body:?}");
    let token = body.unwrap()["access_token"].as_str().unwrap().to_owned();

    let observed = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(&setup, &token, &observed, &stop);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let terminated = setup.database.terminate_connections().await;
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(CLIENT_TIMEOUT * 2, client)
            .await
            .expect("a load client hung")
            .unwrap();
    }

    let observed = std::mem::take(&mut *observed.lock().unwrap());
    let refused: Vec<&Seen> = observed
        .answers
        .iter()
        .filter(|seen| seen.status != Some(200))
        .collect();
    assert!(terminated >= 1, "zeropass held no session to end");
    for seen in &refused {
        assert_eq!(seen.status, Some(503), "{seen:?}");
        assert_eq!(
            seen.code.as_deref(),
            Some("database_unavailable"),
            "{seen:?}"
        );
        assert!(seen.retry_after, "{seen:?}");
    }
    assert!(
        refused.len() <= 8,
        "{} requests refused after {terminated} sessions were ended",
        refused.len()
    );
    let settled: Vec<&Seen> = observed
        .answers
        .iter()
        .filter(|seen| seen.sent > ended + Duration::from_secs(1))
        .collect();
    assert!(!settled.is_empty());
    assert!(
        settled.iter().all(|seen| seen.status == Some(200)),
        "a second after the sessions ended: {settled:?}"
    );
    let health = client()
        .get(setup.server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    eprintln!(
        "pg_terminate_backend of {terminated} sessions under load: {} of {} requests refused \
         (503 database_unavailable), all 200 a second later",
        refused.len(),
        observed.answers.len()
    );
}

#[test]
fn an_unreachable_database_at_start_up_stops_it_after_about_30_s_naming_database_url_never_the_password()
 {
    const PASSWORD: &str = "pw-that-must-never-be-printed";
    // A loopback port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://zeropass:{PASSWORD}@127.0.0.1:{port}/zeropass");
    let directory = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = zeropass_command(
        &directory,
        &[
            ("BIND_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", url.as_str()),
            ("JWT_SECRET", crate::harness::TEST_SECRET),
        ],
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let took = started.elapsed();
    let stderr = reader.join().unwrap();

    assert!(
        !status.success(),
        "exit status {status:?}; stderr:\n{stderr}"
    );
    assert!(
        took >= Duration::from_secs(25) && took < Duration::from_secs(45),
        "gave up after {took:?} (retries for up to 30 s); stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains(PASSWORD),
        "the password was printed:\n{stderr}"
    );
    let last = stderr.lines().rev().find(|line| !line.trim().is_empty());
    assert!(
        last.is_some_and(|line| line.contains("DATABASE_URL")),
        "the last line names DATABASE_URL:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    eprintln!("unreachable database at start-up: exit {status} after {took:?}");
}
