//! Starting and stopping: zero configuration, refusal of a wrong configuration with one clear
//! line and exit code 2, and a graceful stop on SIGTERM/SIGINT that lets in-flight requests finish.

use crate::harness::{TestServer, client, run_to_exit, send_signal};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn assert_refused(variables: &[(&str, &str)], variable: &str) {
    let (status, stderr) = run_to_exit(variables);
    assert_eq!(status.code(), Some(2), "exit status; stderr:\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("cannot start"))
        .collect();
    assert_eq!(lines.len(), 1, "one line saying why; stderr:\n{stderr}");
    assert!(
        lines[0].contains(variable),
        "the line names {variable}: {}",
        lines[0]
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn a_ten_byte_jwt_secret_is_refused_at_start_up() {
    assert_refused(
        &[("BIND_ADDR", "127.0.0.1:0"), ("JWT_SECRET", "0123456789")],
        "JWT_SECRET",
    );
}

#[test]
fn a_facebook_pkce_value_other_than_true_or_false_is_refused_at_start_up() {
    assert_refused(
        &[("BIND_ADDR", "127.0.0.1:0"), ("FACEBOOK_PKCE", "maybe")],
        "FACEBOOK_PKCE",
    );
}

#[test]
fn wrong_values_are_refused_naming_their_variable() {
    assert_refused(&[("BIND_ADDR", "nowhere")], "BIND_ADDR");
    assert_refused(
        &[
            ("BIND_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", "postgres://db"),
        ],
        "DATABASE_URL",
    );
    assert_refused(
        &[
            ("BIND_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", "sqlite:///nonexistent-dir/sub/z.db"),
        ],
        "DATABASE_URL",
    );
    assert_refused(
        &[
            ("BIND_ADDR", "127.0.0.1:0"),
            ("GOOGLE_ISSUER_URL", "http://issuer.example"),
        ],
        "GOOGLE_ISSUER_URL",
    );
    assert_refused(
        &[("BIND_ADDR", "127.0.0.1:0"), ("JWT_TTL_SECONDS", "soon")],
        "JWT_TTL_SECONDS",
    );
}

#[test]
fn a_database_in_a_missing_directory_is_refused_naming_that_directory() {
    let (status, stderr) = run_to_exit(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", "sqlite:///nonexistent-dir/sub/z.db"),
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("'/nonexistent-dir/sub' does not exist"),
        "{stderr}"
    );
}

#[tokio::test]
async fn with_no_configuration_it_creates_its_database_and_warns_about_the_random_key() {
    // Only the port is chosen (the default 8080 may be taken on a shared machine).
    let server = TestServer::start_with_only(&[("BIND_ADDR", "127.0.0.1:0")]);
    let response = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        server.directory().join("zeropass.db").is_file(),
        "zeropass.db was not created in the working directory"
    );
    assert!(
        server.logs().contains("JWT_SECRET is unset"),
        "{}",
        server.logs()
    );
}

#[tokio::test]
async fn a_dotenv_file_in_the_working_directory_is_read() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join(".env"), "JWT_SECRET=short\n").unwrap();
    let mut child = crate::harness::zeropass_command(&directory, &[("BIND_ADDR", "127.0.0.1:0")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let mut server = TestServer::start();
    // A request whose body is only half sent is in flight until the rest arrives.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let body = r#"{"id_token":"x"}"#;
    let head = format!(
        "POST /auth/google/token HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    send_signal(server.pid(), "TERM");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[5..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 503"),
        "the in-flight request got: {response:?}"
    );

    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_stops_it_with_exit_code_zero() {
    let mut server = TestServer::start();
    send_signal(server.pid(), "INT");
    let status = server.terminate();
    assert_eq!(status.code(), Some(0));
}
