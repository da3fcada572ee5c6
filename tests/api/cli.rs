//! The operator's command line, run as the real binary beside a running server on the same
//! database: exit codes, the `--json` shapes, the effect of each change on the server's next
//! request, and bad input refused with one line and nothing changed. The commands run with
//! the server's own environment (`TestServer::cli`), so the database URL is whatever the
//! server was started with. The scenarios that do not reach into SQLite's file run on a fresh
//! PostgreSQL database too (`on_each_database!`), their users made by signing in.

use crate::database::{Backend, SharedDatabase, on_each_database};
use crate::harness::{
    CommandOutput, TestServer, assert_problem, client, facebook_variables, google_variables, pairs,
    run_command, token_for,
};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use zeropass_domain::{Provider, User, UserRepository};
use zeropass_fake_providers::{FakeFacebook, FakeFacebookUser, FakeGoogle, FakeGoogleUser};
use zeropass_store::{DatabaseLocation, SqliteUserRepository};

/// A `PUBLIC_URL` `check` accepts without https.
const LOOPBACK_PUBLIC_URL: &str = "http://127.0.0.1:8080";

async fn users_me_status(server: &TestServer, user: &User) -> reqwest::Response {
    client()
        .get(server.url("/users/me"))
        .bearer_auth(token_for(user))
        .send()
        .await
        .unwrap()
}

#[track_caller]
fn assert_done(output: &CommandOutput) {
    assert_eq!(output.code(), Some(0), "{output:?}");
}

/// Every user id in the database, through the command line.
fn all_ids(server: &TestServer) -> BTreeSet<String> {
    let listed = server.cli(&["users", "list", "--json"]);
    assert_done(&listed);
    listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Inserts `count` users in one transaction (much faster than signing them in one by one).
fn seed_users(database: &Path, count: usize) {
    let mut conn = SqliteConnection::establish(database.to_str().unwrap()).unwrap();
    conn.batch_execute("BEGIN").unwrap();
    for n in 0..count {
        diesel::sql_query(
            "INSERT INTO users (id, email, provider, subject, is_active, created_at) \
             VALUES (?, ?, 'google', ?, 1, 1795000000)",
        )
        .bind::<diesel::sql_types::Binary, _>(uuid::Uuid::new_v4().as_bytes().to_vec())
        .bind::<diesel::sql_types::Text, _>(format!("seeded{n}@example.com"))
        .bind::<diesel::sql_types::Text, _>(format!("seeded-subject-{n}"))
        .execute(&mut conn)
        .unwrap();
    }
    conn.batch_execute("COMMIT").unwrap();
}

// --- help and version ------------------------------------------------------------------------

#[test]
fn help_and_version_neither_create_a_database_nor_serve() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["-V"],
        &["help"],
        &["users", "--help"],
    ] {
        let directory = tempfile::tempdir().unwrap();
        // Were it to serve, it would not exit and `run_command` would fail the test.
        let output = run_command(directory.path(), &[("BIND_ADDR", "127.0.0.1:0")], args);
        assert_done(&output);
        assert!(!output.stdout.is_empty(), "{args:?}: {output:?}");
        assert!(!output.stderr.contains("listening"), "{args:?}: {output:?}");
        let left: Vec<_> = std::fs::read_dir(directory.path()).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left files behind: {left:?}");
    }
    let directory = tempfile::tempdir().unwrap();
    let version = run_command(directory.path(), &[], &["--version"]);
    assert_eq!(
        version.stdout.trim(),
        format!("zeropass {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    let directory = tempfile::tempdir().unwrap();
    for command in [
        "",
        "serve",
        "migrate",
        "check",
        "backup",
        "users",
        "users list",
        "users show",
        "users disable",
        "users enable",
        "users delete",
        "keys",
        "keys list",
        "keys rotate",
        "keys revoke",
    ] {
        let mut args: Vec<&str> = command.split_whitespace().collect();
        args.push("--help");
        let output = run_command(directory.path(), &[], &args);
        assert_done(&output);
        assert!(
            output.stdout.contains("Usage: zeropass"),
            "{command}: {output:?}"
        );
        assert!(output.stdout.contains("Example"), "{command}: {output:?}");
    }
}

// --- the scenarios that hold on SQLite and PostgreSQL alike ---------------------------------

/// A server on a fresh database of `backend` with both fake providers: users are made by
/// signing in, as in production, so the same scenario runs on either database.
struct Bed {
    server: TestServer,
    google: FakeGoogle,
    facebook: FakeFacebook,
    // Dropped after the server.
    _database: SharedDatabase,
}

/// A user made by signing in: the id and the access token the sign-in answered.
struct Person {
    id: String,
    token: String,
}

impl Bed {
    /// `None` when `backend` is PostgreSQL and the tests may skip.
    async fn start(backend: Backend) -> Option<Self> {
        let database = SharedDatabase::create(backend).await?;
        let (google, facebook) = (FakeGoogle::start(), FakeFacebook::start());
        let mut variables = google_variables(&google);
        variables.extend(facebook_variables(&facebook));
        variables.push(("DATABASE_URL", database.url().to_owned()));
        let server = TestServer::start_with(&pairs(&variables));
        Some(Self {
            server,
            google,
            facebook,
            _database: database,
        })
    }

    /// Signs `email` in at `provider` (a subject derived from the email) and returns the user.
    async fn create_user(&self, email: &str, provider: Provider) -> Person {
        let request = match provider {
            Provider::Google => {
                let person = FakeGoogleUser {
                    sub: format!("subject-of-{email}"),
                    email: Some(email.to_owned()),
                    email_verified: Some(true),
                };
                let id_token = self
                    .google
                    .id_token_for(&person, FakeGoogle::CLIENT_ID, None);
                client()
                    .post(self.server.url("/auth/google/token"))
                    .json(&json!({ "id_token": id_token }))
            }
            Provider::Facebook => {
                let person = FakeFacebookUser {
                    id: facebook_id(email),
                    email: Some(email.to_owned()),
                };
                let access_token = self.facebook.user_token_for(&person);
                client()
                    .post(self.server.url("/auth/facebook/token"))
                    .json(&json!({ "access_token": access_token }))
            }
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "signing {email} in at {provider}");
        let body: Value = response.json().await.unwrap();
        Person {
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn users_me(&self, person: &Person) -> reqwest::Response {
        client()
            .get(self.server.url("/users/me"))
            .bearer_auth(&person.token)
            .send()
            .await
            .unwrap()
    }
}

/// A Facebook app-scoped id (digits) for `email`, the same at every call (FNV-1a).
fn facebook_id(email: &str) -> String {
    let hash = email.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % 1_000_000_000_000_000).to_string()
}

// --- changes seen by the running server -------------------------------------------------------

on_each_database!(
    disabling_refuses_the_user_at_the_servers_next_request_and_enabling_lets_them_back
);
async fn disabling_refuses_the_user_at_the_servers_next_request_and_enabling_lets_them_back(
    backend: Backend,
) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let user = bed.create_user("ada@example.com", Provider::Google).await;
    assert_eq!(bed.users_me(&user).await.status(), 200);

    let disabled = bed.server.cli(&["users", "disable", &user.id]);
    assert_done(&disabled);
    assert_problem(bed.users_me(&user).await, 403, "account_disabled").await;
    assert_eq!(
        bed.server
            .cli(&["users", "show", &user.id, "--json"])
            .json()["is_active"],
        false
    );

    assert_done(&bed.server.cli(&["users", "enable", &user.id]));
    assert_eq!(bed.users_me(&user).await.status(), 200);
}

on_each_database!(deleting_with_yes_ends_the_users_session_at_the_running_server);
async fn deleting_with_yes_ends_the_users_session_at_the_running_server(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let user = bed.create_user("ada@example.com", Provider::Google).await;
    assert_eq!(bed.users_me(&user).await.status(), 200);

    assert_done(&bed.server.cli(&["users", "delete", &user.id, "--yes"]));
    assert_eq!(bed.users_me(&user).await.status(), 401);
    bed.server
        .cli(&["users", "show", &user.id])
        .assert_refused(1, "no such user");
    assert!(all_ids(&bed.server).is_empty());
}

on_each_database!(an_inactive_user_who_cannot_erase_themselves_is_erased_by_the_operator);
async fn an_inactive_user_who_cannot_erase_themselves_is_erased_by_the_operator(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let user = bed.create_user("ada@example.com", Provider::Google).await;
    assert_done(&bed.server.cli(&["users", "disable", &user.id]));
    let refused = client()
        .delete(bed.server.url("/users/me"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "account_disabled").await;

    assert_done(&bed.server.cli(&["users", "delete", &user.id, "--yes"]));
    bed.server
        .cli(&["users", "show", &user.id])
        .assert_refused(1, "no such user");
}

on_each_database!(deleting_without_yes_is_refused_when_nobody_can_confirm_and_deletes_nothing);
async fn deleting_without_yes_is_refused_when_nobody_can_confirm_and_deletes_nothing(
    backend: Backend,
) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let user = bed.create_user("ada@example.com", Provider::Google).await;
    bed.server
        .cli(&["users", "delete", &user.id])
        .assert_refused(2, "--yes");
    assert_eq!(bed.users_me(&user).await.status(), 200);
}

// --- output ----------------------------------------------------------------------------------

on_each_database!(a_json_listing_holds_each_user_exactly_as_the_api_shows_them);
async fn a_json_listing_holds_each_user_exactly_as_the_api_shows_them(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let ada = bed.create_user("ada@example.com", Provider::Google).await;
    bed.create_user("bob@example.com", Provider::Google).await;
    bed.create_user("ada@example.com", Provider::Facebook).await;

    let listed = bed.server.cli(&["users", "list", "--json"]);
    assert_done(&listed);
    let users = listed.json();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 3);
    let from_api: Value = bed.users_me(&ada).await.json().await.unwrap();
    let from_cli = users.iter().find(|user| user["id"] == ada.id).unwrap();
    assert_eq!(*from_cli, from_api, "the CLI's user is the API's user");
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "listed in id order");

    let shown = bed.server.cli(&["users", "show", &ada.id, "--json"]);
    assert_done(&shown);
    assert_eq!(shown.json(), from_api);
}

on_each_database!(listings_filter_by_provider_and_email_and_stop_at_the_limit);
async fn listings_filter_by_provider_and_email_and_stop_at_the_limit(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    bed.create_user("ada@example.com", Provider::Google).await;
    bed.create_user("bob@example.com", Provider::Google).await;
    let facebook_ada = bed.create_user("ada@example.com", Provider::Facebook).await;
    let server = &bed.server;

    let count = |args: &[&str]| {
        let output = server.cli(args);
        assert_done(&output);
        output.json().as_array().unwrap().len()
    };
    assert_eq!(
        count(&["users", "list", "--json", "--provider", "google"]),
        2
    );
    assert_eq!(
        count(&["users", "list", "--json", "--email", "ADA@example.com"]),
        2
    );
    assert_eq!(count(&["users", "list", "--json", "--limit", "2"]), 2);
    assert_eq!(count(&["users", "list", "--json", "--limit", "0"]), 0);
    let only = server.cli(&[
        "users",
        "list",
        "--json",
        "--provider",
        "facebook",
        "--email",
        "ada@example.com",
    ]);
    assert_eq!(only.json()[0]["id"], facebook_ada.id);

    let table = server.cli(&["users", "list", "--provider", "facebook"]);
    assert_done(&table);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{table:?}");
    assert!(lines[0].starts_with("ID "), "{table:?}");
    assert!(lines[1].starts_with(&facebook_ada.id), "{table:?}");
    assert!(lines[1].contains("facebook") && lines[1].ends_with("ada@example.com"));
}

#[tokio::test]
async fn a_listing_walks_page_after_page_without_skipping_or_repeating_anyone() {
    let server = TestServer::start();
    // More than two pages of the use case's 500.
    seed_users(&server.database_path(), 1_234);
    assert_eq!(all_ids(&server).len(), 1_234);
    let limited = server.cli(&["users", "list", "--json", "--limit", "1001"]);
    assert_eq!(limited.json().as_array().unwrap().len(), 1_001);
}

on_each_database!(an_email_at_both_providers_needs_a_provider_to_be_shown);
async fn an_email_at_both_providers_needs_a_provider_to_be_shown(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    bed.create_user("ada@example.com", Provider::Google).await;
    let facebook_ada = bed.create_user("ada@example.com", Provider::Facebook).await;
    let server = &bed.server;

    server
        .cli(&["users", "show", "ada@example.com"])
        .assert_refused(2, "several providers");
    let shown = server.cli(&[
        "users",
        "show",
        "ada@example.com",
        "--provider",
        "facebook",
        "--json",
    ]);
    assert_done(&shown);
    assert_eq!(shown.json()["id"], facebook_ada.id);
    assert_eq!(shown.json()["provider"], "facebook");

    let table = server.cli(&["users", "show", "ada@example.com", "--provider", "facebook"]);
    assert_done(&table);
    assert!(table.stdout.contains(&facebook_ada.id), "{table:?}");
    server
        .cli(&["users", "show", "nobody@example.com"])
        .assert_refused(1, "no such user");
}

// --- bad input -------------------------------------------------------------------------------

on_each_database!(bad_input_is_refused_with_one_line_and_changes_nothing);
async fn bad_input_is_refused_with_one_line_and_changes_nothing(backend: Backend) {
    let Some(bed) = Bed::start(backend).await else {
        return;
    };
    let user = bed.create_user("ada@example.com", Provider::Google).await;
    let server = &bed.server;
    let before = all_ids(server);
    let unknown = uuid::Uuid::new_v4().to_string();

    for (args, code, reason) in [
        (
            &["users", "disable", unknown.as_str()][..],
            1,
            "no such user",
        ),
        (&["users", "enable", unknown.as_str()], 1, "no such user"),
        (
            &["users", "delete", unknown.as_str(), "--yes"],
            1,
            "no such user",
        ),
        (&["users", "show", unknown.as_str()], 1, "no such user"),
        (&["users", "disable", "not-a-uuid"], 2, "not a user id"),
        (&["users", "delete", "12345", "--yes"], 2, "not a user id"),
        (&["users", "show", "@example"], 2, "not a valid email"),
        (
            &["users", "list", "--provider", "github"],
            2,
            "google or facebook",
        ),
        (&["users", "list", "--limit", "many"], 2, "--limit"),
        (&["frobnicate"], 2, "frobnicate"),
        (&["users", "frobnicate"], 2, "frobnicate"),
        (&["users", "disable"], 2, "<ID>"),
    ] {
        let output = server.cli(args);
        output.assert_refused(code, reason);
        assert!(output.stdout.is_empty(), "{args:?}: {output:?}");
    }
    assert_eq!(all_ids(server), before);
    assert_eq!(bed.users_me(&user).await.status(), 200);
}

#[test]
fn a_wrong_configuration_stops_every_command_with_one_line_naming_the_variable() {
    let directory = tempfile::tempdir().unwrap();
    for args in [
        &["users", "list"][..],
        &["users", "disable", "00000000-0000-4000-8000-000000000001"],
        &["migrate"],
        &["backup", "copy.db"],
    ] {
        run_command(directory.path(), &[("JWT_SECRET", "too-short")], args)
            .assert_refused(2, "JWT_SECRET");
    }
    let missing = run_command(directory.path(), &[], &["users", "list"]);
    missing.assert_refused(2, "DATABASE_URL");
    assert!(
        !directory.path().join("zeropass.db").exists(),
        "user commands never create the database"
    );
}

// --- migrate, check, backup ------------------------------------------------------------------

on_each_database!(migrate_creates_the_schema_and_check_then_passes);
async fn migrate_creates_the_schema_and_check_then_passes(backend: Backend) {
    let Some(database) = SharedDatabase::create(backend).await else {
        return;
    };
    let directory = tempfile::tempdir().unwrap();
    let variables = [
        ("PUBLIC_URL", LOOPBACK_PUBLIC_URL),
        ("DATABASE_URL", database.url()),
    ];
    assert_done(&run_command(directory.path(), &variables, &["migrate"]));
    if backend == Backend::Sqlite {
        let file = database.url().trim_start_matches("sqlite://");
        assert!(Path::new(file).is_file());
    }
    let check = run_command(directory.path(), &variables, &["check"]);
    assert_done(&check);
    assert!(
        check.stdout.lines().all(|line| line.starts_with("ok ")),
        "{check:?}"
    );
    assert!(check.stdout.contains("schema up to date"), "{check:?}");
    // Once migrated, migrating again changes nothing and succeeds.
    assert_done(&run_command(directory.path(), &variables, &["migrate"]));
}

#[test]
fn check_reports_a_missing_database_without_creating_it() {
    let directory = tempfile::tempdir().unwrap();
    let check = run_command(
        directory.path(),
        &[("PUBLIC_URL", LOOPBACK_PUBLIC_URL)],
        &["check"],
    );
    assert_eq!(check.code(), Some(2), "{check:?}");
    assert!(
        check
            .stdout
            .contains("FAIL  database: file 'zeropass.db' does not exist"),
        "{check:?}"
    );
    assert!(check.stdout.contains("ok    configuration"), "{check:?}");
    assert!(!directory.path().join("zeropass.db").exists());
}

#[test]
fn check_reports_a_wrong_configuration_as_its_first_line() {
    let directory = tempfile::tempdir().unwrap();
    let check = run_command(directory.path(), &[("JWT_TTL_SECONDS", "soon")], &["check"]);
    assert_eq!(check.code(), Some(2), "{check:?}");
    assert!(
        check
            .stdout
            .starts_with("FAIL  configuration: JWT_TTL_SECONDS"),
        "{check:?}"
    );
}

#[tokio::test]
async fn check_names_the_pending_migration_of_a_database_one_migration_behind() {
    let server = TestServer::start();
    let ok = server.cli_with(&["check"], &[("PUBLIC_URL", LOOPBACK_PUBLIC_URL)]);
    assert_done(&ok);

    let mut conn = SqliteConnection::establish(server.database_path().to_str().unwrap()).unwrap();
    let newest: Vec<Newest> =
        diesel::sql_query("SELECT max(version) AS version FROM __diesel_schema_migrations")
            .load(&mut conn)
            .unwrap();
    conn.batch_execute(
        "DELETE FROM __diesel_schema_migrations \
         WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .unwrap();

    let behind = server.cli_with(&["check"], &[("PUBLIC_URL", LOOPBACK_PUBLIC_URL)]);
    assert_eq!(behind.code(), Some(2), "{behind:?}");
    let line = behind
        .stdout
        .lines()
        .find(|line| line.starts_with("FAIL  database"))
        .unwrap_or_else(|| panic!("{behind:?}"));
    assert!(line.contains("1 pending migration(s)"), "{line}");
    assert!(
        line.replace('-', "").contains(&newest[0].version),
        "{line} names the migration {}",
        newest[0].version
    );
    // The user commands refuse to work on it rather than migrating it behind the servers' back.
    server
        .cli(&["users", "list"])
        .assert_refused(2, "zeropass migrate");
}

#[derive(QueryableByName)]
struct Newest {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

#[tokio::test]
async fn check_reaches_each_configured_provider_and_reports_one_that_is_down() {
    let google = FakeGoogle::start();
    let facebook = FakeFacebook::start();
    let issuer = google.issuer();
    let graph = facebook.graph_url();
    let providers = [
        ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET),
        ("GOOGLE_ISSUER_URL", issuer.as_str()),
        ("FACEBOOK_APP_ID", FakeFacebook::APP_ID),
        ("FACEBOOK_APP_SECRET", FakeFacebook::APP_SECRET),
        ("FACEBOOK_GRAPH_URL", graph.as_str()),
        ("PUBLIC_URL", LOOPBACK_PUBLIC_URL),
    ];
    let server = TestServer::start();
    let check = server.cli_with(&["check"], &providers);
    assert_done(&check);
    assert!(
        check.stdout.contains("ok    google: discovery"),
        "{check:?}"
    );
    assert!(
        check.stdout.contains("ok    facebook: Graph API"),
        "{check:?}"
    );

    // Nothing listens on port 9 of loopback (discard): Google is unreachable.
    let down = server.cli_with(
        &["check"],
        &[
            ("GOOGLE_CLIENT_ID", FakeGoogle::CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", FakeGoogle::CLIENT_SECRET),
            ("GOOGLE_ISSUER_URL", "http://127.0.0.1:9"),
            ("PUBLIC_URL", LOOPBACK_PUBLIC_URL),
        ],
    );
    assert_eq!(down.code(), Some(2), "{down:?}");
    assert!(down.stdout.contains("FAIL  google: discovery"), "{down:?}");
    assert!(down.stderr.contains("1 problem found"), "{down:?}");
}

#[tokio::test]
async fn check_fails_a_plain_http_public_url_on_a_public_host() {
    let server = TestServer::start_with(&[("PUBLIC_URL", "http://auth.example.com")]);
    let check = server.cli(&["check"]);
    assert_eq!(check.code(), Some(2), "{check:?}");
    assert!(check.stdout.contains("FAIL  cookies"), "{check:?}");
    let https = server.cli_with(&["check"], &[("PUBLIC_URL", "https://auth.example.com")]);
    assert_done(&https);
    assert!(
        https.stdout.contains("ok    cookies: PUBLIC_URL is https"),
        "{https:?}"
    );
}

#[tokio::test]
async fn a_backup_taken_while_the_server_runs_opens_and_holds_the_users() {
    let server = TestServer::start();
    let ada = server
        .create_user("ada@example.com", Provider::Google)
        .await;
    let bob = server
        .create_user("bob@example.com", Provider::Facebook)
        .await;
    // The server is serving (and holds the database open) while the backup is taken.
    assert_eq!(users_me_status(&server, &ada).await.status(), 200);
    let target = server.directory().join("backup.db");

    assert_done(&server.cli(&["backup", target.to_str().unwrap()]));
    let copy = SqliteUserRepository::open(&DatabaseLocation::File(target.clone())).unwrap();
    assert_eq!(copy.find_by_id(ada.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(copy.find_by_id(bob.id).await.unwrap(), Some(bob));
    drop(copy);
    assert_eq!(users_me_status(&server, &ada).await.status(), 200);

    let size = std::fs::metadata(&target).unwrap().len();
    server
        .cli(&["backup", target.to_str().unwrap()])
        .assert_refused(2, "already exists");
    assert_eq!(
        std::fs::metadata(&target).unwrap().len(),
        size,
        "not overwritten"
    );
}

#[test]
fn an_in_memory_database_has_nothing_to_back_up() {
    let directory = tempfile::tempdir().unwrap();
    run_command(
        directory.path(),
        &[("DATABASE_URL", "sqlite://:memory:")],
        &["backup", "copy.db"],
    )
    .assert_refused(2, "in-memory");
    assert!(!directory.path().join("copy.db").exists());
}
