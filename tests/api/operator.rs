//! The operator's commands where they meet a person or a slow world: the delete confirmation
//! answered on a real (pseudo-)terminal, the log line each change leaves, and `check` against
//! a provider that accepts the connection but never answers.

use crate::harness::{CommandOutput, TestServer, client, token_for, wait_bounded};
use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zeropass_domain::{Provider, User, UserRepository};
use zeropass_fake_providers::{FakeFacebook, FakeGoogle};

/// A `PUBLIC_URL` `check` accepts without https.
const LOOPBACK_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Runs `zeropass ARGS` beside `server` (its directory and environment) with a pseudo-terminal
/// as stdin, stdout and stderr — util-linux `script` makes one — and types `typed` on it.
/// What the terminal showed is the output's stdout.
fn on_a_terminal(server: &TestServer, args: &[&str], typed: &str) -> CommandOutput {
    let command_line = std::iter::once(env!("CARGO_BIN_EXE_zeropass"))
        .chain(args.iter().copied())
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            &command_line,
            "/dev/null",
        ])
        .env_clear()
        .envs(server.variables())
        .current_dir(server.directory())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("`script` (util-linux) is needed here: {error}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let read = |pipe: &mut dyn std::io::Read| {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    };
    CommandOutput {
        status,
        stdout: read(&mut child.stdout.take().unwrap()),
        stderr: read(&mut child.stderr.take().unwrap()),
    }
}

async fn users_me_status(server: &TestServer, user: &User) -> u16 {
    client()
        .get(server.url("/users/me"))
        .bearer_auth(token_for(user))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn on_a_terminal_delete_asks_and_only_yes_deletes() {
    let server = TestServer::start();
    let user = server
        .create_user("ada@example.com", Provider::Google)
        .await;
    let id = user.id.to_string();

    for typed in ["n\n", "\n", ""] {
        let kept = on_a_terminal(&server, &["users", "delete", &id], typed);
        assert_eq!(kept.code(), Some(2), "{typed:?}: {kept:?}");
        assert!(
            kept.stdout
                .contains(&format!("Delete user {id} (ada@example.com, google)?")),
            "{typed:?}: {kept:?}"
        );
        assert!(
            kept.stdout.contains("not confirmed: nothing deleted"),
            "{typed:?}: {kept:?}"
        );
        assert_eq!(users_me_status(&server, &user).await, 200, "{typed:?}");
    }

    let deleted = on_a_terminal(&server, &["users", "delete", &id], "y\n");
    assert_eq!(deleted.code(), Some(0), "{deleted:?}");
    assert!(
        deleted.stdout.contains(&format!("user {id} deleted")),
        "{deleted:?}"
    );
    assert_eq!(server.database().find_by_id(user.id).await.unwrap(), None);
    assert_eq!(users_me_status(&server, &user).await, 401);
}

/// The JSON log lines at INFO that name `user_id` and `action`.
fn info_lines_about(stderr: &str, user_id: &str, action: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["level"] == "INFO"
                && line["fields"]["user_id"] == user_id
                && line["fields"]["action"] == action
        })
        .collect()
}

#[tokio::test]
async fn every_change_logs_the_user_id_and_the_action_at_info_and_never_the_email() {
    let server = TestServer::start();
    let user = server
        .create_user("ada.lovelace@example.com", Provider::Google)
        .await;
    let id = user.id.to_string();

    for (args, action) in [
        (&["users", "disable", id.as_str()][..], "disable"),
        (&["users", "enable", id.as_str()], "enable"),
        (&["users", "delete", id.as_str(), "--yes"], "delete"),
    ] {
        let output = server.cli_with(args, &[("LOG_FORMAT", "json")]);
        assert_eq!(output.code(), Some(0), "{output:?}");
        assert_eq!(
            info_lines_about(&output.stderr, &id, action).len(),
            1,
            "one INFO line with user_id and action {action:?}: {output:?}"
        );
        for text in [&output.stderr, &output.stdout] {
            assert!(!text.contains("ada.lovelace"), "{action}: {output:?}");
        }
    }
}

#[tokio::test]
async fn check_reports_a_provider_that_never_answers_as_down_within_its_timeout() {
    // Listening, never accepting: the kernel completes the TCP handshake (the backlog), the
    // request is sent, and no answer ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let silent_graph = format!("{silent_url}/v21.0");
    let server = TestServer::start();

    let started = Instant::now();
    let check = server.cli_with(
        &["check"],
        &[
            ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET),
            ("GOOGLE_ISSUER_URL", silent_url.as_str()),
            ("FACEBOOK_APP_ID", FakeFacebook::APP_ID),
            ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET),
            ("FACEBOOK_GRAPH_URL", silent_graph.as_str()),
            ("PUBLIC_URL", LOOPBACK_PUBLIC_URL),
        ],
    );
    let took = started.elapsed();

    assert_eq!(check.code(), Some(2), "{check:?}");
    for provider in ["google: discovery", "facebook: Graph API"] {
        let line = check
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("FAIL  {provider}")))
            .unwrap_or_else(|| panic!("no FAIL line for {provider}: {check:?}"));
        assert!(
            line.ends_with("unreachable: no answer within 5 s"),
            "{line}"
        );
    }
    assert!(check.stdout.contains("ok    database"), "{check:?}");
    assert!(check.stderr.contains("2 problems found"), "{check:?}");
    // Two providers, 5 s each, one after the other — not the outbound client's 10 s each.
    assert!(took < Duration::from_secs(18), "check took {took:?}");
    drop(silent);
}
