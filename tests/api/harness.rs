//! Starting and stopping the real server for a test, and what tests need around it: an HTTP
//! client, users seeded straight into the server's database file, tokens minted with the
//! test's own secret, and the server's captured log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use zeropass_domain::{
    AccessTokens, Email, Provider, Subject, User, UserRepository, VerifiedIdentity,
};
use zeropass_fake_providers::{FakeFacebook, FakeGoogle};
use zeropass_jwt::{JwtAccessTokens, JwtConfig, JwtSecret};
use zeropass_store::{DatabaseLocation, SqliteUserRepository};

/// The HS256 key every test server uses.
pub const TEST_SECRET: &str = "black-box-test-secret-of-at-least-32-bytes";
/// The `PUBLIC_URL` (and token issuer) of every test server.
pub const PUBLIC_URL: &str = "http://zeropass.test";
/// How long a server may take to print that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the server logs before the address of its API listener.
const LISTENING: &str = "listening on http://";
/// What the server logs before the address of its metrics listener (`METRICS_BIND_ADDR`).
const SERVING_METRICS: &str = "serving metrics on http://";

/// A running `zeropass` process, killed when dropped.
pub struct TestServer {
    child: Child,
    address: String,
    logs: Arc<Mutex<String>>,
    directory: TempDir,
    /// The environment it was started with, for the commands run beside it.
    variables: Vec<(String, String)>,
}

impl TestServer {
    /// A server with the test configuration: loopback port 0, a database file in a fresh
    /// directory, the test secret.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// The test configuration plus (or overridden by) `extra` variables.
    pub fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    /// Like [`start_with`](Self::start_with), but in `directory` and on the `zeropass.db` it
    /// already holds: for instance the one a killed server left behind
    /// ([`kill_keeping_directory`](Self::kill_keeping_directory)).
    pub fn start_in(directory: TempDir, extra: &[(&str, &str)]) -> Self {
        let database_url = format!(
            "sqlite://{}",
            directory.path().join("zeropass.db").display()
        );
        let mut variables = vec![
            ("BIND_ADDR", "127.0.0.1:0"),
            ("PUBLIC_URL", PUBLIC_URL),
            ("JWT_SECRET", TEST_SECRET),
            ("RUST_LOG", "info"),
            // Tests sign in in bursts from one address; the rate-limit test sets its own.
            ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
            ("DATABASE_URL", database_url.as_str()),
        ];
        variables.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
        variables.extend_from_slice(extra);
        Self::spawn(directory, &variables)
    }

    /// A server with exactly these variables and nothing else in its environment.
    pub fn start_with_only(variables: &[(&str, &str)]) -> Self {
        Self::spawn(tempfile::tempdir().unwrap(), variables)
    }

    fn spawn(directory: TempDir, variables: &[(&str, &str)]) -> Self {
        let mut child = zeropass_command(&directory, variables)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (address_sender, address_receiver) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = address_after(&line, LISTENING) {
                    let _ = address_sender.send(address);
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let address = match address_receiver.recv_timeout(START_TIMEOUT) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("zeropass did not start; its log:\n{}", logs.lock().unwrap());
            }
        };
        Self {
            child,
            address,
            logs,
            directory,
            variables: variables
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `http://127.0.0.1:PORT{path}` on the metrics listener, which the server announced
    /// before its API listener (so the log already holds it once the server has started).
    pub fn metrics_url(&self, path: &str) -> String {
        let logs = self.logs();
        let address = logs
            .lines()
            .find_map(|line| address_after(line, SERVING_METRICS))
            .unwrap_or_else(|| panic!("no metrics listener was announced:\n{logs}"));
        format!("http://{address}{path}")
    }

    /// What the server logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The log once a line containing `text` has arrived (lines written after the "listening"
    /// line reach the reader thread a moment later); panics after `limit`.
    pub fn log_once_it_contains(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let logs = self.logs();
            if logs.contains(text) {
                return logs;
            }
            assert!(
                Instant::now() < deadline,
                "no {text:?} within {limit:?}:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's working directory.
    pub fn directory(&self) -> PathBuf {
        self.directory.path().to_path_buf()
    }

    /// The server's database, opened by the test through the same adapter.
    pub fn database(&self) -> SqliteUserRepository {
        let location = DatabaseLocation::parse(&format!(
            "sqlite://{}",
            self.directory.path().join("zeropass.db").display()
        ))
        .unwrap();
        SqliteUserRepository::open(&location).unwrap()
    }

    /// A new active user in the server's database.
    pub async fn create_user(&self, email: &str, provider: Provider) -> User {
        let identity = VerifiedIdentity {
            provider,
            subject: Subject::parse(&format!("subject-of-{email}")).unwrap(),
            email: Email::parse(email).unwrap(),
        };
        self.database().resolve_or_create(&identity).await.unwrap()
    }

    /// Runs `zeropass ARGS` (an operator's command) to its end, in the server's directory with
    /// the server's environment: the same database, whatever `DATABASE_URL` it was given.
    pub fn cli(&self, args: &[&str]) -> CommandOutput {
        self.cli_with(args, &[])
    }

    /// [`cli`](Self::cli) with variables added to (or overriding) the server's.
    pub fn cli_with(&self, args: &[&str], extra: &[(&str, &str)]) -> CommandOutput {
        let mut variables: Vec<(&str, &str)> = self
            .variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .filter(|(name, _)| !extra.iter().any(|(other, _)| other == name))
            .collect();
        variables.extend_from_slice(extra);
        run_command(self.directory.path(), &variables, args)
    }

    /// The environment the server was started with, for a command run beside it in some other
    /// way than [`cli`](Self::cli) (under a terminal, say).
    pub fn variables(&self) -> Vec<(&str, &str)> {
        self.variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        send_signal(self.child.id(), "TERM");
        wait_bounded(&mut self.child, Duration::from_secs(40))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The database file (`zeropass.db` in the server's directory).
    pub fn database_path(&self) -> PathBuf {
        self.directory.path().join("zeropass.db")
    }

    /// Kills the process with SIGKILL — no graceful stop, as in a crash or an OOM kill — waits
    /// for it, and hands back its directory with the database as the process left it.
    pub fn kill_keeping_directory(mut self) -> TempDir {
        send_signal(self.child.id(), "KILL");
        wait_bounded(&mut self.child, Duration::from_secs(10));
        // `Drop` needs a directory to delete; it gets an empty one in place of the kept one.
        std::mem::replace(&mut self.directory, tempfile::tempdir().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address a log line announces after `marker`. Text and JSON lines alike: the address is
/// the run of address characters.
fn address_after(line: &str, marker: &str) -> Option<String> {
    let (_, rest) = line.split_once(marker)?;
    Some(
        rest.chars()
            .take_while(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
            .collect(),
    )
}

/// The `zeropass` binary with exactly these variables, run in `directory`.
pub fn zeropass_command(directory: &TempDir, variables: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zeropass"));
    command
        .env_clear()
        .envs(variables.iter().copied())
        .current_dir(directory.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// How a finished `zeropass` command exited and what it printed.
#[derive(Debug)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }

    /// Asserts the exit code and that stderr is exactly one line containing `reason`.
    #[track_caller]
    pub fn assert_refused(&self, code: i32, reason: &str) {
        assert_eq!(self.code(), Some(code), "{self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:?}");
        assert!(lines[0].contains(reason), "{reason:?} in {:?}", lines[0]);
        assert!(!self.stderr.contains("panicked"), "{self:?}");
    }
}

/// Runs `zeropass ARGS` in `directory` with exactly these variables and stdin closed (not a
/// terminal), until it exits (bounded).
pub fn run_command(directory: &Path, variables: &[(&str, &str)], args: &[&str]) -> CommandOutput {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zeropass"))
        .args(args)
        .env_clear()
        .envs(variables.iter().copied())
        .current_dir(directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    CommandOutput {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `zeropass` with exactly these variables until it exits (bounded); returns its status and stderr.
pub fn run_to_exit(variables: &[(&str, &str)]) -> (ExitStatus, String) {
    run_to_exit_in(&tempfile::tempdir().unwrap(), variables)
}

/// [`run_to_exit`] in `directory` (for instance one holding a `.env`).
pub fn run_to_exit_in(directory: &TempDir, variables: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = zeropass_command(directory, variables)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

/// Waits for `child` to exit; kills it and panics after `limit`.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("zeropass did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a signal with kill(1), so the tests need no unsafe code.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The variables that point a server at a fake Google.
pub fn google_variables(google: &FakeGoogle) -> Vec<(&'static str, String)> {
    vec![
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID.to_owned()),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET.to_owned()),
        ("GOOGLE_ISSUER_URL", google.issuer()),
    ]
}

/// The variables that point a server at a fake Facebook.
pub fn facebook_variables(facebook: &FakeFacebook) -> Vec<(&'static str, String)> {
    vec![
        ("FACEBOOK_APP_ID", FakeFacebook::APP_ID.to_owned()),
        ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET.to_owned()),
        ("FACEBOOK_GRAPH_URL", facebook.graph_url()),
        ("FACEBOOK_DIALOG_URL", facebook.dialog_url()),
    ]
}

/// Owned variables as the `(name, value)` pairs [`TestServer::start_with`] takes.
pub fn pairs<'a>(variables: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    variables.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A token for `user` signed with the test secret, as the server would issue it.
pub fn token_for(user: &User) -> String {
    let tokens = JwtAccessTokens::new(JwtConfig {
        secret: JwtSecret::new(TEST_SECRET.as_bytes().to_vec()).unwrap(),
        issuer: PUBLIC_URL.into(),
        ttl: Duration::from_secs(600),
    });
    tokens.issue(user).unwrap().token
}

/// The `name=value` of the flow cookie a `start` response set, to send back at the callback.
pub fn flow_cookie(start: &reqwest::Response) -> String {
    let set_cookie = start.headers()["set-cookie"].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// An HTTP client that never goes through a proxy and never follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts a response is an RFC 9457 problem with this status and code; returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(
        content_type,
        "application/problem+json",
        "content type of {}",
        response.url()
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:zeropass:problem:{code}"),
        "{body}"
    );
    assert!(
        body["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|detail| !detail.is_empty()),
        "{body}"
    );
    body
}
