//! What the first hour with zeropass sees: the start-up log (where the docs are, which
//! providers answer, no framework chatter), warnings about names in `.env` and the environment
//! that zeropass does not know, `.env` read from the working directory only, and the fake
//! providers' printed environment, pasted as is.

use crate::harness::{TestServer, client, run_to_exit_in};
use std::collections::HashMap;
use std::time::Duration;
use zeropass_fake_providers::{FakeFacebook, FakeGoogle, instructions};

/// The `export NAME=value` lines of what `fake-providers` prints, as the shell would read them
/// (single-quoted values unquoted); any other line must be a `#` comment.
fn exported(printed: &str) -> HashMap<String, String> {
    let mut variables = HashMap::new();
    for line in printed.lines().filter(|line| !line.trim().is_empty()) {
        if line.starts_with('#') {
            continue;
        }
        let assignment = line
            .strip_prefix("export ")
            .unwrap_or_else(|| panic!("neither a comment nor an export: {line:?}"));
        let (name, value) = assignment.split_once('=').unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{line:?}"
        );
        let value = match value.strip_prefix('\'') {
            Some(quoted) => quoted.strip_suffix('\'').unwrap().replace(r"'\''", "'"),
            None => {
                assert!(
                    !value.contains([' ', '$', '"', '\'', '`', ';', '&']),
                    "{line:?}"
                );
                value.to_owned()
            }
        };
        variables.insert(name.to_owned(), value);
    }
    variables
}

/// How long a log line may take to reach the test once written.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// The lines of `logs` that mention `text`.
fn lines_with<'a>(logs: &'a str, text: &str) -> Vec<&'a str> {
    logs.lines().filter(|line| line.contains(text)).collect()
}

#[tokio::test]
async fn what_the_fake_providers_print_pasted_into_a_shell_configures_both_providers() {
    let (google, facebook) = (FakeGoogle::start(), FakeFacebook::start());
    let variables = exported(&instructions(&google, &facebook));
    let pairs: Vec<(&str, &str)> = variables
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let server = TestServer::start_with(&pairs);
    for provider in ["google", "facebook"] {
        let start = client()
            .get(server.url(&format!("/auth/{provider}/start")))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302, "{provider} is not configured");
    }
    let logs = server.logs();
    assert_eq!(
        lines_with(&logs, "Google sign-in configured").len(),
        1,
        "{logs}"
    );
    assert_eq!(
        lines_with(&logs, "Facebook sign-in configured").len(),
        1,
        "{logs}"
    );
    assert!(lines_with(&logs, "not configured").is_empty(), "{logs}");
    assert!(lines_with(&logs, "does not know").is_empty(), "{logs}");
}

#[test]
fn the_start_up_log_gives_the_docs_url_without_actix_chatter() {
    let mut server = TestServer::start();
    // Everything the process wrote, up to its last line: actix's lines come once it runs.
    assert!(server.terminate().success());
    let logs = server.log_once_it_contains("stopped", LOG_WAIT);
    assert_eq!(
        lines_with(&logs, "API docs at http://zeropass.test/docs").len(),
        1,
        "{logs}"
    );
    assert!(lines_with(&logs, "actix_server").is_empty(), "{logs}");
    assert!(lines_with(&logs, "workers").is_empty(), "{logs}");

    let asked = TestServer::start_with(&[("RUST_LOG", "info,actix_server=info")]);
    asked.log_once_it_contains("actix_server", LOG_WAIT);
}

#[tokio::test]
async fn without_providers_start_up_warns_once_and_refused_sign_ins_are_no_errors() {
    let mut server = TestServer::start();
    for provider in ["google", "facebook"] {
        let response = client()
            .get(server.url(&format!("/auth/{provider}/start")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
    }
    assert!(server.terminate().success());
    let logs = server.log_once_it_contains("stopped", LOG_WAIT);
    let warnings = lines_with(&logs, "no sign-in provider is configured");
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(lines_with(&logs, "ERROR").is_empty(), "{logs}");
    assert_eq!(
        lines_with(&logs, "provider_not_configured").len(),
        1,
        "only the start-up warning names it: {logs}"
    );
}

#[tokio::test]
async fn typos_in_dotenv_and_the_environment_are_named_with_the_likely_name_never_the_value() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join(".env"),
        "GOGLE_CLIENT_ID=value-of-the-typo-1\nJWT_SECERT=value-of-the-typo-2-long-enough-for-a-key\nJWT_TTL_SECONDS=600\n",
    )
    .unwrap();
    let server = TestServer::start_in(directory, &[("FACEBOK_APP_ID", "value-of-the-typo-3")]);
    let logs = server.logs();
    for (typo, known) in [
        ("GOGLE_CLIENT_ID", "GOOGLE_CLIENT_ID"),
        ("JWT_SECERT", "JWT_SECRET"),
        ("FACEBOK_APP_ID", "FACEBOOK_APP_ID"),
    ] {
        let lines = lines_with(&logs, typo);
        assert_eq!(lines.len(), 1, "{typo}: {logs}");
        assert!(lines[0].contains("WARN"), "{}", lines[0]);
        assert!(
            lines[0].contains(&format!("did you mean {known}?")),
            "{}",
            lines[0]
        );
    }
    assert!(lines_with(&logs, "value-of-the-typo").is_empty(), "{logs}");
    assert!(
        lines_with(&logs, "JWT_TTL_SECONDS").is_empty(),
        "a known name is not reported: {logs}"
    );
}

#[test]
fn a_dotenv_in_a_parent_directory_is_ignored() {
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(parent.path().join(".env"), "JWT_TTL_SECONDS=soon\n").unwrap();
    let working = tempfile::tempdir_in(parent.path()).unwrap();
    let server = TestServer::start_in(working, &[]);
    assert!(
        lines_with(&server.logs(), "JWT_TTL_SECONDS").is_empty(),
        "{}",
        server.logs()
    );

    // The same file in the working directory is read (and refused).
    let here = tempfile::tempdir().unwrap();
    std::fs::copy(parent.path().join(".env"), here.path().join(".env")).unwrap();
    let (status, stderr) = run_to_exit_in(&here, &[("BIND_ADDR", "127.0.0.1:0")]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("JWT_TTL_SECONDS"), "{stderr}");
}
