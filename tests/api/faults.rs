//! Faults the server survives, each provoked for real around the running binary: the database
//! locked by another process past the busy timeout, the database files made unwritable, a
//! `kill -9` in the middle of a sign-in load, SIGTERM in the middle of one, and identity
//! providers that refuse connections or answer 429, 503, HTML, truncated JSON or 10 MB.
//! Everything stays on loopback; every wait is bounded.

use crate::flows;
use crate::harness::{
    TestServer, assert_problem, client, facebook_variables, google_variables, pairs, token_for,
};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeropass_domain::Provider;
use zeropass_fake_providers::{
    Endpoint, FacebookEndpoint, Failure, FakeFacebook, FakeFacebookUser, FakeGoogle, FakeGoogleUser,
};
use zeropass_store::DEFAULT_BUSY_TIMEOUT;

/// The longest the server may take to give up on an identity provider (the contract's "slow
/// (over 10 s)").
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

// ---- servers, fakes and sign-ins --------------------------------------------------------

fn google_server(google: &FakeGoogle) -> TestServer {
    TestServer::start_with(&pairs(&google_variables(google)))
}

fn facebook_server(facebook: &FakeFacebook) -> TestServer {
    TestServer::start_with(&pairs(&facebook_variables(facebook)))
}

fn google_user(name: &str) -> FakeGoogleUser {
    FakeGoogleUser {
        sub: format!("fault-sub-{name}"),
        email: Some(format!("{name}@example.com")),
        email_verified: Some(true),
    }
}

fn facebook_user(id: u64) -> FakeFacebookUser {
    FakeFacebookUser {
        id: id.to_string(),
        email: Some(format!("fb-{id}@example.com")),
    }
}

async fn post_id_token(server: &TestServer, google: &FakeGoogle, name: &str) -> reqwest::Response {
    let id_token = google.id_token_for(&google_user(name), FakeGoogle::CLIENT_ID, None);
    client()
        .post(server.url("/auth/google/token"))
        .json(&json!({ "id_token": id_token }))
        .send()
        .await
        .unwrap()
}

async fn post_facebook_token(server: &TestServer, access_token: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/facebook/token"))
        .json(&json!({ "access_token": access_token }))
        .send()
        .await
        .unwrap()
}

/// A successful response's JSON body.
async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn users_me(server: &TestServer, token: &str) -> reqwest::Response {
    client()
        .get(server.url("/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Sends `failing` (a request the fault makes fail) and, while it is under way, `/health` and
/// `/users/me` for `bystander`; asserts those two answer at once and normally. Returns the
/// failing request's response and how long it took.
async fn while_others_answer(
    server: &TestServer,
    bystander: &str,
    failing: impl std::future::Future<Output = reqwest::Response>,
) -> (reqwest::Response, Duration) {
    let failing = async {
        let started = Instant::now();
        let response = failing.await;
        (response, started.elapsed())
    };
    let others = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        let health = client().get(server.url("/health")).send().await.unwrap();
        let health_status = health.status().as_u16();
        let report: Value = health.json().await.unwrap();
        let me = users_me(server, bystander).await.status().as_u16();
        (health_status, report, me, asked.elapsed())
    };
    let ((response, took), (health_status, report, me, others_took)) =
        tokio::join!(failing, others);
    // The report may call a provider that is down unavailable; the database must be fine.
    assert!(
        matches!(health_status, 200 | 503) && report["database"] == "ok",
        "/health during the fault: {health_status} {report}"
    );
    assert_eq!(me, 200, "/users/me during the fault");
    assert!(
        others_took < Duration::from_secs(2),
        "/health and /users/me took {others_took:?} during the fault"
    );
    (response, took)
}

// ---- the database locked by another process -----------------------------------------------

/// A `python3` process that holds `BEGIN EXCLUSIVE` on a database file until dropped (and
/// gives up by itself after a minute, should the test process die first).
struct DatabaseLock(Child);

impl DatabaseLock {
    fn take(path: &Path) -> Self {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(
                "import sqlite3, sys, time\n\
                 c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n\
                 c.execute('BEGIN EXCLUSIVE')\n\
                 print('locked', flush=True)\n\
                 time.sleep(60)\n",
            )
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed to lock the database from another process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "python3 could not lock {path:?}");
        Self(child)
    }
}

impl Drop for DatabaseLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One SQL statement run on a database file by `python3`'s sqlite3 module (an independent
/// SQLite); rows are lines, columns separated by `|`.
fn sqlite_query(path: &Path, sql: &str) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], timeout=10)\n\
             for row in c.execute(sys.argv[2]):\n    print('|'.join(map(str, row)))\n",
        )
        .arg(path)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_database_locked_past_the_busy_timeout_is_a_503_without_a_hang_and_sign_in_recovers() {
    let google = FakeGoogle::start();
    let server = google_server(&google);
    let known = ok_json(post_id_token(&server, &google, "known").await).await;
    let known_token = known["access_token"].as_str().unwrap();

    let lock = DatabaseLock::take(&server.database_path());
    let (refused, took) = while_others_answer(
        &server,
        known_token,
        post_id_token(&server, &google, "newcomer"),
    )
    .await;
    assert!(
        refused.headers().contains_key("retry-after"),
        "{:?}",
        refused.headers()
    );
    let body = assert_problem(refused, 503, "database_unavailable").await;
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(
        took < DEFAULT_BUSY_TIMEOUT + Duration::from_secs(3),
        "the 503 took {took:?} (busy timeout {DEFAULT_BUSY_TIMEOUT:?})"
    );
    eprintln!("database locked: 503 database_unavailable after {took:?}");

    drop(lock);
    let newcomer = ok_json(post_id_token(&server, &google, "newcomer").await).await;
    assert_eq!(newcomer["user"]["email"], "newcomer@example.com");
    assert_eq!(server.database().count().await.unwrap(), 2);
}

// ---- a read-only database -----------------------------------------------------------------

/// The immutable attribute (`chattr +i`) on some files, removed again when dropped. It stops
/// even root from writing, also through descriptors opened before: the closest thing to a
/// read-only disk that a test can arrange for a running server. `None` where it cannot be set
/// (not root, or a file system without the attribute).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Option<Self> {
        let mut done = Self(Vec::new());
        for path in paths {
            let set = Command::new("chattr")
                .arg("+i")
                .arg(path)
                .stderr(Stdio::null())
                .status();
            if !set.is_ok_and(|status| status.success()) {
                return None; // `done` is dropped: what was set is cleared
            }
            done.0.push(path.clone());
        }
        Some(done)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

#[tokio::test]
async fn a_read_only_database_refuses_new_users_with_503_while_users_me_still_answers() {
    let google = FakeGoogle::start();
    let server = google_server(&google);
    let known = ok_json(post_id_token(&server, &google, "reader").await).await;
    let known_token = known["access_token"].as_str().unwrap();

    // The database and its write-ahead log (where every write goes first) become unwritable;
    // the shared-memory index stays as it is, as on a read-only mount.
    let database = server.database_path();
    let wal = database.with_extension("db-wal");
    assert!(wal.is_file(), "the database is expected in WAL mode");
    let Some(read_only) = Immutable::set(&[database, wal]) else {
        eprintln!(
            "SKIPPED: `chattr +i` is not available here (it needs root and ext2/3/4, XFS, \
             Btrfs...); the read-only case is covered by zeropass-store's \
             writes_to_a_read_only_database_are_unavailable_while_reads_work"
        );
        return;
    };
    let (refused, took) = while_others_answer(
        &server,
        known_token,
        post_id_token(&server, &google, "writer"),
    )
    .await;
    let body = assert_problem(refused, 503, "database_unavailable").await;
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(took < Duration::from_secs(3), "the 503 took {took:?}");
    eprintln!("read-only database: 503 database_unavailable after {took:?}");
    let me: Value = users_me(&server, known_token).await.json().await.unwrap();
    assert_eq!(me["id"], known["user"]["id"]);

    drop(read_only);
    ok_json(post_id_token(&server, &google, "writer").await).await;
    assert_eq!(server.database().count().await.unwrap(), 2);
}

// ---- kill -9 and SIGTERM under load ------------------------------------------------------

/// What the load's clients saw.
#[derive(Default)]
struct Load {
    /// Facebook ids whose sign-in was sent (whatever came of it).
    attempted: HashSet<u64>,
    /// (user id, access token) of every sign-in answered 200.
    signed_in: Vec<(String, String)>,
    /// Statuses other than 200.
    other_statuses: Vec<u16>,
    /// (sent, answered) of every request, answered `None` for a transport error.
    requests: Vec<(Instant, Option<Instant>)>,
}

/// Eight clients, each signing in new Facebook users one after the other until `stop` is set or
/// the server stops answering; everything they see goes into `load`.
fn start_load(
    server: &TestServer,
    facebook: &Arc<FakeFacebook>,
    load: &Arc<Mutex<Load>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    const CLIENTS: u64 = 8;
    (0..CLIENTS)
        .map(|number| {
            let url = server.url("/auth/facebook/token");
            let (facebook, load, stop) = (Arc::clone(facebook), Arc::clone(load), Arc::clone(stop));
            tokio::spawn(async move {
                let http = client();
                for sequence in 0_u64.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let id = 1_000_000_000 + number * 1_000_000 + sequence;
                    let access_token = facebook.user_token_for(&facebook_user(id));
                    load.lock().unwrap().attempted.insert(id);
                    let sent = Instant::now();
                    let response = http
                        .post(&url)
                        .json(&json!({ "access_token": access_token }))
                        .timeout(Duration::from_secs(15))
                        .send()
                        .await;
                    let outcome = match response {
                        Ok(response) if response.status() == 200 => {
                            match response.json::<Value>().await {
                                Ok(body) => Some(Ok((
                                    body["user"]["id"].as_str().unwrap().to_owned(),
                                    body["access_token"].as_str().unwrap().to_owned(),
                                ))),
                                Err(_) => None, // the connection died while the body came
                            }
                        }
                        Ok(response) => Some(Err(response.status().as_u16())),
                        Err(_) => None,
                    };
                    let mut load = load.lock().unwrap();
                    match outcome {
                        Some(Ok(signed_in)) => {
                            load.signed_in.push(signed_in);
                            load.requests.push((sent, Some(Instant::now())));
                        }
                        Some(Err(status)) => {
                            load.other_statuses.push(status);
                            load.requests.push((sent, Some(Instant::now())));
                        }
                        None => {
                            load.requests.push((sent, None));
                            break; // the server is gone
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_sign_in_load_leaves_a_sound_database_holding_every_token_holder() {
    let facebook = Arc::new(FakeFacebook::start());
    let variables = facebook_variables(&facebook);
    let server = TestServer::start_with(&pairs(&variables));
    let load = Arc::new(Mutex::new(Load::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(&server, &facebook, &load, &stop);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let directory = tokio::task::spawn_blocking(move || server.kill_keeping_directory())
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("a client hung after the kill")
            .unwrap();
    }

    let restarted = TestServer::start_in(directory, &pairs(&variables));
    let database = restarted.database_path();
    assert_eq!(sqlite_query(&database, "PRAGMA integrity_check"), "ok");
    assert_eq!(
        sqlite_query(
            &database,
            "SELECT COUNT(*) FROM (SELECT 1 FROM users GROUP BY provider, subject HAVING COUNT(*) > 1)"
        ),
        "0",
        "two rows for one identity"
    );
    let load = std::mem::take(&mut *load.lock().unwrap());
    let count = restarted.database().count().await.unwrap();
    let signed_in = load.signed_in.len();
    assert!(
        signed_in >= 8,
        "too little load before the kill: {signed_in}"
    );
    assert!(
        load.other_statuses.is_empty(),
        "statuses other than 200 under load: {:?}",
        load.other_statuses
    );
    assert!(
        (signed_in as u64) <= count && count <= load.attempted.len() as u64,
        "{signed_in} tokens received, {count} users, {} identities tried",
        load.attempted.len()
    );
    let distinct: HashSet<&str> = load.signed_in.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        distinct.len(),
        signed_in,
        "one user id for two new identities"
    );
    for (id, token) in &load.signed_in {
        let me = ok_json(users_me(&restarted, token).await).await;
        assert_eq!(me["id"], id.as_str());
    }
    eprintln!(
        "kill -9 under load: {signed_in} tokens issued, {count} users after the restart, {} \
         identities tried, integrity ok",
        load.attempted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_sign_in_load_finishes_every_request_already_sent_and_exits_0() {
    // Every sign-in waits 800 ms on Facebook's debug_token, so each client's requests go out
    // in rounds (0 s, 0.8 s, 1.6 s, ...) and SIGTERM at 1.2 s lands in the middle of a round.
    let facebook = Arc::new(FakeFacebook::start());
    facebook.set_failure(
        FacebookEndpoint::DebugToken,
        Some(Failure::Delay(Duration::from_millis(800))),
    );
    let mut server = facebook_server(&facebook);
    let load = Arc::new(Mutex::new(Load::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients = start_load(&server, &facebook, &load, &stop);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let signalled = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    let stopped = signalled.elapsed();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("a client hung after SIGTERM")
            .unwrap();
    }

    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    let load = std::mem::take(&mut *load.lock().unwrap());
    assert!(
        load.other_statuses.is_empty(),
        "statuses other than 200: {:?}",
        load.other_statuses
    );
    let before: Vec<_> = load
        .requests
        .iter()
        .filter(|(sent, _)| *sent < signalled)
        .collect();
    let failed = before
        .iter()
        .filter(|(_, answered)| answered.is_none())
        .count();
    let in_flight = before
        .iter()
        .filter(|(_, answered)| answered.is_some_and(|at| at > signalled))
        .count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests sent before SIGTERM got no answer",
        before.len()
    );
    assert!(
        in_flight >= 8,
        "only {in_flight} requests were in flight at SIGTERM"
    );
    let after = load.requests.len() - before.len();
    let refused = load
        .requests
        .iter()
        .filter(|(sent, answered)| *sent >= signalled && answered.is_none())
        .count();
    eprintln!(
        "SIGTERM under load: {} requests sent before it all answered 200 ({in_flight} of them \
         in flight at the signal), {after} sent after it ({refused} refused); exit 0 after \
         {stopped:?}",
        before.len()
    );
}

// ---- identity providers refusing or answering garbage -----------------------------------

/// The failures a provider's endpoint is made to answer with.
fn bad_answers() -> [Failure; 5] {
    [
        Failure::Status(429),
        Failure::Status(503),
        // `<html>...{"keys": [` under `Content-Type: application/json`: HTML and truncated JSON.
        Failure::Garbage,
        Failure::Huge,
        Failure::Status(500),
    ]
}

#[tokio::test]
async fn facebook_refusing_or_answering_429_5xx_html_or_10_mb_is_a_502_in_time_and_recovers() {
    let facebook = FakeFacebook::start();
    let server = facebook_server(&facebook);
    let bystander = token_for(
        &server
            .create_user("bystander@example.com", Provider::Google)
            .await,
    );
    let mut next_id = 2_000_000_000_u64;
    let mut new_token = |facebook: &FakeFacebook| {
        next_id += 1;
        facebook.user_token_for(&facebook_user(next_id))
    };

    let mut slowest = Duration::ZERO;
    for endpoint in [FacebookEndpoint::DebugToken, FacebookEndpoint::Me] {
        for failure in bad_answers() {
            facebook.set_failure(endpoint, Some(failure.clone()));
            let token = new_token(&facebook);
            let (response, took) =
                while_others_answer(&server, &bystander, post_facebook_token(&server, &token))
                    .await;
            assert_problem(response, 502, "provider_unavailable").await;
            assert!(
                took < PROVIDER_TIMEOUT,
                "{endpoint:?} {failure:?}: 502 after {took:?}"
            );
            slowest = slowest.max(took);
            facebook.set_failure(endpoint, None);
            ok_json(post_facebook_token(&server, &new_token(&facebook)).await).await;
        }
    }

    // Down: nothing listens on its port any more.
    let addr = facebook.addr();
    drop(facebook);
    let down = PortHeldDown::hold(addr);
    let (response, took) = while_others_answer(
        &server,
        &bystander,
        post_facebook_token(&server, "EAAno-longer-checkable"),
    )
    .await;
    assert_problem(response, 502, "provider_unavailable").await;
    assert!(
        took < Duration::from_secs(2),
        "502 after {took:?} with Facebook down"
    );

    // Back, on the same address.
    drop(down);
    let facebook = FakeFacebook::start_on(addr).unwrap();
    ok_json(post_facebook_token(&server, &new_token(&facebook)).await).await;
    eprintln!(
        "Facebook faults: 502 within {slowest:?} for scripted failures, {took:?} when down; \
         recovered"
    );
}

#[tokio::test]
async fn google_refusing_or_answering_429_5xx_html_or_10_mb_at_the_code_exchange_is_a_502_and_recovers()
 {
    let google = FakeGoogle::start();
    let server = google_server(&google);
    let bystander = token_for(
        &server
            .create_user("bystander@example.com", Provider::Google)
            .await,
    );

    let mut slowest = Duration::ZERO;
    for failure in bad_answers() {
        let came_back = flows::authorize(&server, Provider::Google, "").await;
        google.set_failure(Endpoint::Token, Some(failure.clone()));
        let (response, took) = while_others_answer(
            &server,
            &bystander,
            flows::finish(&server, Provider::Google, &came_back),
        )
        .await;
        assert_problem(response, 502, "provider_unavailable").await;
        assert!(took < PROVIDER_TIMEOUT, "{failure:?}: 502 after {took:?}");
        slowest = slowest.max(took);
        google.set_failure(Endpoint::Token, None);
        let came_back = flows::authorize(&server, Provider::Google, "").await;
        ok_json(flows::finish(&server, Provider::Google, &came_back).await).await;
    }

    // Down between the authorization and the code exchange.
    let came_back = flows::authorize(&server, Provider::Google, "").await;
    let addr = google.addr();
    drop(google);
    let down = PortHeldDown::hold(addr);
    let (response, took) = while_others_answer(
        &server,
        &bystander,
        flows::finish(&server, Provider::Google, &came_back),
    )
    .await;
    assert_problem(response, 502, "provider_unavailable").await;
    assert!(
        took < Duration::from_secs(2),
        "502 after {took:?} with Google down"
    );

    // Back, on the same address (same issuer, same test keys).
    drop(down);
    let google = FakeGoogle::start_on(addr).unwrap();
    let came_back = flows::authorize(&server, Provider::Google, "").await;
    ok_json(flows::finish(&server, Provider::Google, &came_back).await).await;
    ok_json(post_id_token(&server, &google, "after-the-outage").await).await;
    eprintln!(
        "Google faults: 502 within {slowest:?} for scripted failures, {took:?} when down; \
         recovered"
    );
}

/// A provider's port while the provider is down: bound but not listening, so that connections
/// to it are refused, as with nothing there, while no other test's server (tests run in
/// parallel, and a freed port is soon handed out again) can start listening on it and answer
/// in the provider's place.
struct PortHeldDown {
    _socket: socket2::Socket,
}

impl PortHeldDown {
    fn hold(addr: std::net::SocketAddr) -> Self {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        // The provider's closed connections may linger in TIME_WAIT on this port.
        socket.set_reuse_address(true).unwrap();
        socket.bind(&addr.into()).unwrap();
        Self { _socket: socket }
    }
}
