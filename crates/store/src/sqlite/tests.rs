//! Behaviour of the adapter against real SQLite databases (temporary files and `:memory:`):
//! the port's resolution rules, atomicity under concurrency, the pragmas, and how opening and
//! infrastructure failures are reported.

use crate::sqlite::rows::UserRow;
use crate::sqlite::schema::users;
use crate::{DatabaseLocation, OpenError, PoolOptions, SqliteUserRepository};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::Barrier;
use zeropass_domain::{
    Email, Provider, RepositoryError, ResolveUserError, Subject, User, UserFilter, UserId,
    UserRepository, VerifiedIdentity,
};

fn identity(provider: Provider, subject: &str, email: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        provider,
        subject: Subject::parse(subject).unwrap(),
        email: Email::parse(email).unwrap(),
    }
}

fn ada() -> VerifiedIdentity {
    identity(Provider::Google, "google-sub-ada", "ada@example.com")
}

/// A repository on a fresh database file, deleted with the `TempDir`.
struct FileDatabase {
    _dir: TempDir,
    path: PathBuf,
    repo: SqliteUserRepository,
}

fn file_database_with(options: &PoolOptions) -> FileDatabase {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let repo =
        SqliteUserRepository::open_with(&DatabaseLocation::File(path.clone()), options).unwrap();
    FileDatabase {
        _dir: dir,
        path,
        repo,
    }
}

fn file_database() -> FileDatabase {
    file_database_with(&PoolOptions::default())
}

fn memory_database() -> SqliteUserRepository {
    SqliteUserRepository::open(&DatabaseLocation::Memory).unwrap()
}

fn count_users(repo: &SqliteUserRepository) -> i64 {
    users::table
        .count()
        .get_result(&mut repo.connection())
        .unwrap()
}

fn stored_rows(repo: &SqliteUserRepository) -> Vec<UserRow> {
    users::table
        .select(UserRow::as_select())
        .order(users::id)
        .load(&mut repo.connection())
        .unwrap()
}

fn stored_user(repo: &SqliteUserRepository, id: UserId) -> User {
    let row = users::table
        .filter(users::id.eq(id.as_uuid().as_bytes().as_slice()))
        .select(UserRow::as_select())
        .first(&mut repo.connection())
        .unwrap();
    User::try_from(row).unwrap()
}

/// Resolves the same identity from `n` tasks released at once, spread over the repositories;
/// every result.
async fn resolve_concurrently(
    repos: &[&SqliteUserRepository],
    identity: &VerifiedIdentity,
    n: usize,
) -> Vec<Result<User, ResolveUserError>> {
    let start = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let repo = repos[i % repos.len()].clone();
            let (identity, start) = (identity.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                repo.resolve_or_create(&identity).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn assert_one_user_for_all(results: Vec<Result<User, ResolveUserError>>) -> User {
    let users: Vec<User> = results
        .into_iter()
        .map(|result| result.expect("every concurrent sign-in succeeds"))
        .collect();
    let first = users[0].clone();
    assert!(
        users.iter().all(|user| user.id == first.id),
        "one id for all"
    );
    first
}

fn is_unavailable(error: &ResolveUserError) -> bool {
    matches!(
        error,
        ResolveUserError::Repository(RepositoryError::Unavailable(_))
    )
}

// --- resolution rules ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_sign_ins_on_a_file_create_exactly_one_user() {
    let db = file_database();
    let results = resolve_concurrently(&[&db.repo], &ada(), 50).await;
    let user = assert_one_user_for_all(results);
    assert_eq!(count_users(&db.repo), 1);
    assert_eq!(stored_user(&db.repo, user.id), user);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_sign_ins_in_memory_create_exactly_one_user() {
    let repo = memory_database();
    let results = resolve_concurrently(&[&repo], &ada(), 50).await;
    let user = assert_one_user_for_all(results);
    assert_eq!(count_users(&repo), 1);
    assert_eq!(stored_user(&repo, user.id), user);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_sign_ins_through_two_pools_on_one_file_create_exactly_one_user() {
    // Two pools on one file behave like two server processes: only SQLite's file locks
    // stand between them.
    let db = file_database();
    let other = SqliteUserRepository::open(&DatabaseLocation::File(db.path.clone())).unwrap();
    let results = resolve_concurrently(&[&db.repo, &other], &ada(), 50).await;
    let user = assert_one_user_for_all(results);
    assert_eq!(count_users(&db.repo), 1);
    assert_eq!(stored_user(&other, user.id), user);
}

#[test]
fn instances_opening_one_new_file_at_the_same_moment_all_open_it() {
    // As several servers started at once on an empty volume: each switches the new file to
    // WAL and migrates it. Switching to WAL needs the file to itself, and SQLite refuses it at
    // once (no busy wait) while another opener holds a lock: every opener must still succeed.
    for round in 0..10 {
        let directory = TempDir::new().unwrap();
        let path = directory.path().join(format!("new-{round}.db"));
        let start = std::sync::Barrier::new(8);
        let opened: Vec<_> = std::thread::scope(|scope| {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        SqliteUserRepository::open(&DatabaseLocation::File(path.clone()))
                    })
                })
                .collect();
            openers
                .into_iter()
                .map(|opener| opener.join().unwrap())
                .collect()
        });
        for outcome in &opened {
            assert!(outcome.is_ok(), "round {round}: {outcome:?}");
        }
        assert_eq!(count_users(opened[0].as_ref().unwrap()), 0);
    }
}

#[tokio::test]
async fn a_first_sign_in_creates_an_active_user_with_the_identity() {
    let db = file_database();
    let before = chrono::Utc::now().timestamp();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(user.email.as_str(), "ada@example.com");
    assert_eq!(user.provider, Provider::Google);
    assert_eq!(user.subject.as_str(), "google-sub-ada");
    assert!(user.is_active);
    assert_eq!(user.id.as_uuid().get_version_num(), 4);
    assert!(user.created_at.timestamp() >= before);
    assert_eq!(stored_user(&db.repo, user.id), user);
}

#[tokio::test]
async fn a_returning_user_gets_the_same_id() {
    let db = file_database();
    let first = db.repo.resolve_or_create(&ada()).await.unwrap();
    let again = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(count_users(&db.repo), 1);
}

#[tokio::test]
async fn a_new_email_for_a_known_subject_updates_the_stored_email_and_keeps_the_id() {
    let db = file_database();
    let first = db.repo.resolve_or_create(&ada()).await.unwrap();
    let moved = identity(Provider::Google, "google-sub-ada", "ada@newmail.example");
    let again = db.repo.resolve_or_create(&moved).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.email.as_str(), "ada@newmail.example");
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(stored_user(&db.repo, first.id), again);
    assert_eq!(count_users(&db.repo), 1);
}

#[tokio::test]
async fn a_known_email_with_another_subject_is_an_identity_conflict_and_changes_nothing() {
    let db = file_database();
    db.repo.resolve_or_create(&ada()).await.unwrap();
    let before = stored_rows(&db.repo);

    let impostor = identity(Provider::Google, "google-sub-other", "ada@example.com");
    let outcome = db.repo.resolve_or_create(&impostor).await;

    assert!(matches!(outcome, Err(ResolveUserError::IdentityConflict)));
    assert_eq!(stored_rows(&db.repo), before);
}

#[tokio::test]
async fn an_email_change_onto_another_users_address_is_a_conflict_and_changes_nothing() {
    let db = file_database();
    db.repo.resolve_or_create(&ada()).await.unwrap();
    let grace = identity(Provider::Google, "google-sub-grace", "grace@example.com");
    db.repo.resolve_or_create(&grace).await.unwrap();
    let before = stored_rows(&db.repo);

    let grace_takes_adas_address =
        identity(Provider::Google, "google-sub-grace", "ada@example.com");
    let outcome = db.repo.resolve_or_create(&grace_takes_adas_address).await;

    assert!(matches!(outcome, Err(ResolveUserError::IdentityConflict)));
    assert_eq!(stored_rows(&db.repo), before);
}

#[tokio::test]
async fn the_same_email_at_two_providers_makes_two_users() {
    let db = file_database();
    let at_google = db.repo.resolve_or_create(&ada()).await.unwrap();
    let at_facebook = db
        .repo
        .resolve_or_create(&identity(Provider::Facebook, "10150001", "ada@example.com"))
        .await
        .unwrap();
    assert_ne!(at_google.id, at_facebook.id);
    assert_eq!(at_facebook.provider, Provider::Facebook);
    assert_eq!(count_users(&db.repo), 2);
}

#[tokio::test]
async fn the_same_subject_at_two_providers_makes_two_users() {
    let db = file_database();
    let at_google = db
        .repo
        .resolve_or_create(&identity(Provider::Google, "42", "ada@example.com"))
        .await
        .unwrap();
    let at_facebook = db
        .repo
        .resolve_or_create(&identity(Provider::Facebook, "42", "grace@example.com"))
        .await
        .unwrap();
    assert_ne!(at_google.id, at_facebook.id);
    assert_eq!(count_users(&db.repo), 2);
}

#[tokio::test]
async fn an_inactive_user_is_reported_as_inactive() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    diesel::update(users::table)
        .set(users::is_active.eq(false))
        .execute(&mut db.repo.connection())
        .unwrap();

    let found = db.repo.find_by_id(user.id).await.unwrap().unwrap();
    assert!(!found.is_active);
    let resolved = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(resolved.id, user.id);
    assert!(!resolved.is_active);
}

#[tokio::test]
async fn a_user_can_be_disabled_and_enabled_again() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();

    let disabled = db.repo.set_active(user.id, false).await.unwrap().unwrap();
    assert!(!disabled.is_active);
    assert_eq!(disabled.id, user.id);
    assert!(!stored_user(&db.repo, user.id).is_active);
    let enabled = db.repo.set_active(user.id, true).await.unwrap().unwrap();
    assert_eq!(enabled, user);
    assert!(stored_user(&db.repo, user.id).is_active);
    assert!(
        db.repo
            .set_active(UserId::new_random(), false)
            .await
            .unwrap()
            .is_none()
    );
}

// --- find, delete, ping ----------------------------------------------------------------------

#[tokio::test]
async fn a_missing_user_is_not_found() {
    let db = file_database();
    db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(
        db.repo.find_by_id(UserId::new_random()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_user_is_found_by_id() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(db.repo.find_by_id(user.id).await.unwrap(), Some(user));
}

#[tokio::test]
async fn a_deleted_user_is_gone_and_a_second_delete_deletes_nothing() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    let grace = identity(Provider::Google, "google-sub-grace", "grace@example.com");
    let bystander = db.repo.resolve_or_create(&grace).await.unwrap();

    assert!(db.repo.delete(user.id).await.unwrap());
    assert_eq!(db.repo.find_by_id(user.id).await.unwrap(), None);
    assert!(!db.repo.delete(user.id).await.unwrap());
    assert_eq!(
        db.repo.find_by_id(bystander.id).await.unwrap(),
        Some(bystander)
    );
}

#[tokio::test]
async fn after_deletion_the_same_identity_signs_up_as_a_new_user() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    db.repo.delete(user.id).await.unwrap();
    let again = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert_ne!(again.id, user.id);
}

#[tokio::test]
async fn ping_answers_on_an_open_database() {
    file_database().repo.ping().await.unwrap();
    memory_database().ping().await.unwrap();
}

#[tokio::test]
async fn a_corrupt_row_is_an_unexpected_error() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    diesel::update(users::table)
        .set(users::email.eq("not an address"))
        .execute(&mut db.repo.connection())
        .unwrap();

    assert!(matches!(
        db.repo.find_by_id(user.id).await,
        Err(RepositoryError::Unexpected(_))
    ));
    assert!(matches!(
        db.repo.resolve_or_create(&ada()).await,
        Err(ResolveUserError::Repository(RepositoryError::Unexpected(_)))
    ));
}

// --- the in-memory database ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_in_memory_database_is_one_database_for_every_call() {
    let repo = memory_database();
    let ada = repo.resolve_or_create(&ada()).await.unwrap();

    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let someone = identity(
                    Provider::Facebook,
                    &format!("fb-{n}"),
                    &format!("u{n}@example.com"),
                );
                let user = repo.resolve_or_create(&someone).await.unwrap();
                assert_eq!(repo.find_by_id(user.id).await.unwrap(), Some(user));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(repo.clone().find_by_id(ada.id).await.unwrap(), Some(ada));
    assert_eq!(count_users(&repo), 41);
}

#[test]
fn two_in_memory_repositories_are_two_databases() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let one = memory_database();
        let two = memory_database();
        let user = one.resolve_or_create(&ada()).await.unwrap();
        assert_eq!(two.find_by_id(user.id).await.unwrap(), None);
    });
}

// --- connection settings ---------------------------------------------------------------------

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct BusyTimeout {
    #[diesel(sql_type = Integer)]
    timeout: i32,
}

#[derive(QueryableByName)]
struct ForeignKeys {
    #[diesel(sql_type = Integer)]
    foreign_keys: i32,
}

#[derive(QueryableByName)]
struct Synchronous {
    #[diesel(sql_type = Integer)]
    synchronous: i32,
}

fn pragma<T: QueryableByName<diesel::sqlite::Sqlite> + 'static>(
    conn: &mut SqliteConnection,
    name: &str,
) -> T {
    diesel::sql_query(format!("PRAGMA {name}"))
        .get_result(conn)
        .unwrap()
}

#[test]
fn file_connections_use_wal_the_busy_timeout_foreign_keys_and_normal_sync() {
    let db = file_database();
    // Every connection of the pool, not just the first: hold them all at once.
    let mut connections: Vec<_> = (0..crate::DEFAULT_MAX_CONNECTIONS)
        .map(|_| db.repo.connection())
        .collect();
    for conn in &mut connections {
        assert_eq!(
            pragma::<JournalMode>(conn, "journal_mode").journal_mode,
            "wal"
        );
        assert_eq!(pragma::<BusyTimeout>(conn, "busy_timeout").timeout, 5000);
        assert_eq!(pragma::<ForeignKeys>(conn, "foreign_keys").foreign_keys, 1);
        // 1 is NORMAL.
        assert_eq!(pragma::<Synchronous>(conn, "synchronous").synchronous, 1);
    }
}

#[test]
fn the_in_memory_connection_uses_the_busy_timeout_and_foreign_keys() {
    let repo = memory_database();
    let mut conn = repo.connection();
    assert_eq!(
        pragma::<BusyTimeout>(&mut conn, "busy_timeout").timeout,
        5000
    );
    assert_eq!(
        pragma::<ForeignKeys>(&mut conn, "foreign_keys").foreign_keys,
        1
    );
}

#[test]
fn the_busy_timeout_option_reaches_the_connections() {
    let db = file_database_with(&PoolOptions {
        busy_timeout: Duration::from_millis(250),
        ..PoolOptions::default()
    });
    let mut conn = db.repo.connection();
    assert_eq!(
        pragma::<BusyTimeout>(&mut conn, "busy_timeout").timeout,
        250
    );
}

// --- opening ---------------------------------------------------------------------------------

#[tokio::test]
async fn opening_creates_the_file_and_reopening_keeps_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let location = DatabaseLocation::File(path.clone());

    let first = SqliteUserRepository::open(&location).unwrap();
    assert!(path.is_file());
    let user = first.resolve_or_create(&ada()).await.unwrap();
    drop(first);

    let reopened = SqliteUserRepository::open(&location).unwrap();
    assert_eq!(reopened.find_by_id(user.id).await.unwrap(), Some(user));
}

#[test]
fn a_file_name_with_uri_characters_is_taken_literally() {
    let dir = tempfile::tempdir().unwrap();
    let name = "my users?mode=ro#1%20.db";
    let path = dir.path().join(name);
    let _repo = SqliteUserRepository::open(&DatabaseLocation::File(path.clone())).unwrap();
    assert!(path.is_file());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        assert!(file.starts_with(name), "unexpected file {file:?}");
    }
}

#[test]
fn opening_a_file_in_a_missing_directory_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("users.db");
    let error = SqliteUserRepository::open(&DatabaseLocation::File(path.clone())).unwrap_err();
    assert!(matches!(error, OpenError::Open { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot open database file '{}': the directory '{}' does not exist",
            path.display(),
            dir.path().join("no-such-dir").display()
        )
    );
}

#[test]
fn opening_a_directory_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        SqliteUserRepository::open(&DatabaseLocation::File(dir.path().to_owned())).unwrap_err();
    assert!(matches!(error, OpenError::Open { .. }), "{error:?}");
    assert!(error.to_string().starts_with("cannot open database file '"));
}

#[test]
fn opening_a_file_that_is_not_a_database_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "these are not the pages you are looking for\n".repeat(200),
    )
    .unwrap();
    let error = SqliteUserRepository::open(&DatabaseLocation::File(path)).unwrap_err();
    assert!(
        error.to_string().contains("file is not a database"),
        "{error}"
    );
    assert!(!error.to_string().contains('\n'));
}

#[test]
fn an_invalid_url_becomes_an_open_error() {
    fn open_url(url: &str) -> Result<SqliteUserRepository, OpenError> {
        SqliteUserRepository::open(&DatabaseLocation::parse(url)?)
    }
    let error = open_url("mysql://localhost/zeropass").unwrap_err();
    assert!(matches!(error, OpenError::InvalidUrl(_)));
    assert!(error.to_string().contains("sqlite://PATH"));
}

// --- infrastructure failures -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_unavailable_once_the_busy_timeout_has_passed() {
    let busy_timeout = Duration::from_millis(200);
    let db = file_database_with(&PoolOptions {
        busy_timeout,
        ..PoolOptions::default()
    });
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();

    // Another process holding the write lock.
    let mut locker = SqliteConnection::establish(db.path.to_str().unwrap()).unwrap();
    locker.batch_execute("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let newcomer = identity(Provider::Google, "google-sub-grace", "grace@example.com");
    let error = db.repo.resolve_or_create(&newcomer).await.unwrap_err();
    let waited = started.elapsed();
    assert!(is_unavailable(&error), "{error:?}");
    assert!(waited >= busy_timeout, "gave up after {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    assert!(matches!(
        db.repo.delete(user.id).await,
        Err(RepositoryError::Unavailable(_))
    ));

    locker.batch_execute("ROLLBACK").unwrap();
    db.repo.resolve_or_create(&newcomer).await.unwrap();
    assert!(db.repo.delete(user.id).await.unwrap());
}

#[tokio::test]
async fn writes_to_a_read_only_database_are_unavailable_while_reads_work() {
    let db = file_database();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    // Read-only at SQLite's level (`mode=ro`): unlike file permissions, root cannot override it.
    let read_only =
        SqliteUserRepository::open_read_only(&db.path, &PoolOptions::default()).unwrap();

    assert_eq!(
        read_only.find_by_id(user.id).await.unwrap(),
        Some(user.clone())
    );
    read_only.ping().await.unwrap();
    let newcomer = identity(Provider::Google, "google-sub-grace", "grace@example.com");
    let error = read_only.resolve_or_create(&newcomer).await.unwrap_err();
    assert!(is_unavailable(&error), "{error:?}");
    assert!(matches!(
        read_only.delete(user.id).await,
        Err(RepositoryError::Unavailable(_))
    ));
    assert_eq!(count_users(&db.repo), 1);
}

#[tokio::test]
async fn an_exhausted_pool_is_unavailable() {
    let db = file_database_with(&PoolOptions {
        max_connections: 1,
        connection_timeout: Duration::from_millis(100),
        ..PoolOptions::default()
    });
    let held = db.repo.connection();
    assert!(matches!(
        db.repo.find_by_id(UserId::new_random()).await,
        Err(RepositoryError::Unavailable(_))
    ));
    drop(held);
    db.repo.ping().await.unwrap();
}

#[tokio::test]
async fn the_user_count_follows_creations_and_deletions() {
    let db = file_database();
    assert_eq!(db.repo.count().await.unwrap(), 0);
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    db.repo.resolve_or_create(&ada()).await.unwrap();
    db.repo
        .resolve_or_create(&identity(Provider::Facebook, "fb-1", "ada@example.com"))
        .await
        .unwrap();
    assert_eq!(db.repo.count().await.unwrap(), 2);
    db.repo.delete(user.id).await.unwrap();
    assert_eq!(db.repo.count().await.unwrap(), 1);
}

// --- listing (the operator's `users list`) ---------------------------------------------------

/// Ada and Bob at Google, Ada at Facebook.
async fn three_users(repo: &SqliteUserRepository) -> Vec<User> {
    let mut users = Vec::new();
    for identity in [
        ada(),
        identity(Provider::Google, "google-sub-bob", "bob@example.com"),
        identity(Provider::Facebook, "fb-ada", "ada@example.com"),
    ] {
        users.push(repo.resolve_or_create(&identity).await.unwrap());
    }
    users.sort_by_key(|user| user.id);
    users
}

#[tokio::test]
async fn pages_walk_every_user_in_id_order_after_the_given_id() {
    let db = file_database();
    let all = three_users(&db.repo).await;
    let everything = UserFilter::default();
    let first = db.repo.list_page(&everything, None, 2).await.unwrap();
    assert_eq!(first, all[..2]);
    let rest = db
        .repo
        .list_page(&everything, Some(first[1].id), 2)
        .await
        .unwrap();
    assert_eq!(rest, all[2..]);
    let after_last = db
        .repo
        .list_page(&everything, Some(all[2].id), 2)
        .await
        .unwrap();
    assert!(after_last.is_empty());
}

#[tokio::test]
async fn pages_follow_the_uuid_byte_order_of_user_ids() {
    let db = file_database();
    // Ids whose byte order differs from the order a signed or text comparison would give.
    let ids = [0x80u8, 0x01, 0xff, 0x7f].map(|first| {
        let mut bytes = [0x11u8; 16];
        bytes[0] = first;
        UserId::from_uuid(uuid::Uuid::from_bytes(bytes))
    });
    for (n, id) in ids.iter().enumerate() {
        let mut user = User::new(
            identity(
                Provider::Google,
                &format!("s{n}"),
                &format!("u{n}@example.com"),
            ),
            chrono::Utc::now(),
        );
        user.id = *id;
        diesel::insert_into(users::table)
            .values(UserRow::from(&user))
            .execute(&mut db.repo.connection())
            .unwrap();
    }
    let listed: Vec<UserId> = db
        .repo
        .list_page(&UserFilter::default(), None, 10)
        .await
        .unwrap()
        .iter()
        .map(|user| user.id)
        .collect();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn pages_keep_only_the_users_matching_every_filter() {
    let db = file_database();
    let all = three_users(&db.repo).await;
    let by = |provider: Option<Provider>, email: Option<&str>| UserFilter {
        provider,
        email: email.map(|email| Email::parse(email).unwrap()),
    };
    let emails_and_providers = |users: Vec<User>| {
        users
            .into_iter()
            .map(|user| (user.email.as_str().to_owned(), user.provider))
            .collect::<Vec<_>>()
    };
    let google = db
        .repo
        .list_page(&by(Some(Provider::Google), None), None, 10)
        .await
        .unwrap();
    assert_eq!(google.len(), 2);
    assert!(google.iter().all(|user| user.provider == Provider::Google));
    let adas = db
        .repo
        .list_page(&by(None, Some("ADA@example.com")), None, 10)
        .await
        .unwrap();
    assert_eq!(adas.len(), 2);
    assert!(
        adas.iter()
            .all(|user| user.email.as_str() == "ada@example.com")
    );
    let facebook_ada = db
        .repo
        .list_page(
            &by(Some(Provider::Facebook), Some("ada@example.com")),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        emails_and_providers(facebook_ada),
        [("ada@example.com".to_owned(), Provider::Facebook)]
    );
    assert!(
        db.repo
            .list_page(
                &by(Some(Provider::Facebook), Some("bob@example.com")),
                None,
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn a_change_through_one_repository_is_seen_by_another_on_the_same_file_at_once() {
    let db = file_database();
    let other = SqliteUserRepository::open(&DatabaseLocation::File(db.path.clone())).unwrap();
    let user = db.repo.resolve_or_create(&ada()).await.unwrap();
    assert!(other.find_by_id(user.id).await.unwrap().unwrap().is_active);
    db.repo.set_active(user.id, false).await.unwrap();
    assert!(!other.find_by_id(user.id).await.unwrap().unwrap().is_active);
}
