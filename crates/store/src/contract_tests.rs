//! One behavioural suite for both backends: every test is an `async fn(Backend)` and
//! `contract_tests!` runs it once on a SQLite file and once on a fresh PostgreSQL database
//! (skipped, with one line on stderr, when no PostgreSQL server answers and
//! `ZEROPASS_REQUIRE_POSTGRES` is not `1`). A "second instance" is a second `Database` opened
//! on the same storage: its own pool, as another process would have. The faults that only a
//! network database has (terminated connections, statement timeout, unreachable server, the
//! migration lock) are at the end, on PostgreSQL alone.

use crate::postgres::{Migrate, PostgresOpenError, PostgresOptions, PostgresStore, PostgresUrl};
use crate::{Database, DatabaseLocation, DatabaseUrl, OpenOptions};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::sync::Barrier;
use zeropass_domain::{
    CodeChallenge, CodeHash, Email, KeyId, Provider, RepositoryError, ResolveUserError,
    SealedPrivateKey, SigningAlgorithm, StoredSigningKey, Subject, User, UserFilter, UserId,
    VerifiedIdentity,
};
use zeropass_test_postgres::TestDatabase;

/// Where the instances of one test keep their data.
enum Backend {
    Sqlite(TempDir),
    Postgres(TestDatabase),
}

impl Backend {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Option<Self> {
        TestDatabase::create().await.map(Self::Postgres)
    }

    fn url(&self) -> DatabaseUrl {
        match self {
            Self::Sqlite(dir) => {
                DatabaseUrl::Sqlite(DatabaseLocation::File(dir.path().join("z.db")))
            }
            Self::Postgres(database) => DatabaseUrl::parse(database.url()).unwrap(),
        }
    }

    /// One more instance on the same data (the first one creates the schema).
    async fn instance(&self) -> Database {
        Database::open(&self.url(), &OpenOptions::default())
            .await
            .unwrap()
    }
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::sqlite()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(backend) = super::Backend::postgres().await {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}

contract_tests!(
    a_first_sign_in_creates_an_active_user_and_a_second_returns_it,
    a_new_address_of_the_same_subject_replaces_the_stored_one,
    an_address_held_by_another_subject_is_a_conflict_and_changes_nothing,
    a_new_address_already_held_by_another_user_is_a_conflict,
    concurrent_first_sign_ins_from_several_instances_give_one_user,
    deactivation_and_deletion_are_seen_by_another_instance,
    pages_list_every_user_once_in_id_order_and_filter,
    a_code_is_taken_once_by_concurrent_takers_on_two_instances,
    expired_codes_are_swept_in_bounded_batches_and_go_with_their_user,
    the_database_answers_a_ping,
    signing_keys_read_back_field_for_field_in_generation_order,
    a_taken_generation_or_kid_is_refused_and_changes_nothing,
    concurrent_inserts_of_one_generation_from_two_instances_store_exactly_one,
    a_deleted_signing_key_is_gone_and_a_second_delete_finds_nothing,
    a_revoked_signing_key_reads_back_revoked_and_is_revoked_once,
);

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

fn code_for(user: &User, code: &str, expires_at: i64) -> zeropass_domain::StoredSignInCode {
    zeropass_domain::StoredSignInCode {
        hash: CodeHash::of(code),
        user_id: user.id,
        challenge: CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
            .unwrap(),
        expires_at,
    }
}

/// A key of `generation` with recognisable bytes; times in whole seconds, as stored.
fn signing_key(generation: i64, algorithm: SigningAlgorithm) -> StoredSigningKey {
    let seconds = 1_800_000_000 + generation * 1_000;
    let public_length = match algorithm {
        SigningAlgorithm::Es256 => 65,
        SigningAlgorithm::EdDsa => 32,
    };
    StoredSigningKey {
        kid: KeyId::random().unwrap(),
        algorithm,
        generation,
        public_key: (0..public_length)
            .map(|i| i as u8 ^ generation as u8)
            .collect(),
        sealed_private_key: SealedPrivateKey((0..60).map(|i| 255 - i as u8).collect()),
        created_at: chrono::DateTime::from_timestamp(seconds, 0).unwrap(),
        activates_at: chrono::DateTime::from_timestamp(seconds + 360, 0).unwrap(),
        revoked_at: None,
    }
}

async fn a_first_sign_in_creates_an_active_user_and_a_second_returns_it(backend: Backend) {
    let users = backend.instance().await.users();
    let created = users.resolve_or_create(&ada()).await.unwrap();
    assert!(created.is_active);
    assert_eq!(created.email.as_str(), "ada@example.com");
    let returned = users.resolve_or_create(&ada()).await.unwrap();
    assert_eq!(returned, created);
    assert_eq!(users.find_by_id(created.id).await.unwrap(), Some(created));
    assert_eq!(users.find_by_id(UserId::new_random()).await.unwrap(), None);
}

async fn a_new_address_of_the_same_subject_replaces_the_stored_one(backend: Backend) {
    let users = backend.instance().await.users();
    let created = users.resolve_or_create(&ada()).await.unwrap();
    let moved = identity(Provider::Google, "google-sub-ada", "ada@new.example");
    let updated = users.resolve_or_create(&moved).await.unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.email.as_str(), "ada@new.example");
    let stored = users.find_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "ada@new.example");
}

async fn an_address_held_by_another_subject_is_a_conflict_and_changes_nothing(backend: Backend) {
    let database = backend.instance().await;
    let users = database.users();
    users.resolve_or_create(&ada()).await.unwrap();
    let impostor = identity(Provider::Google, "google-sub-other", "ada@example.com");
    assert!(matches!(
        users.resolve_or_create(&impostor).await,
        Err(ResolveUserError::IdentityConflict)
    ));
    assert_eq!(database.count().await.unwrap(), 1);
    // The same address at the other provider is another person: no conflict.
    let facebook = identity(Provider::Facebook, "fb-ada", "ada@example.com");
    users.resolve_or_create(&facebook).await.unwrap();
    assert_eq!(database.count().await.unwrap(), 2);
}

async fn a_new_address_already_held_by_another_user_is_a_conflict(backend: Backend) {
    let users = backend.instance().await.users();
    let ada_user = users.resolve_or_create(&ada()).await.unwrap();
    users
        .resolve_or_create(&identity(
            Provider::Google,
            "google-sub-bob",
            "bob@example.com",
        ))
        .await
        .unwrap();
    let ada_takes_bobs = identity(Provider::Google, "google-sub-ada", "bob@example.com");
    assert!(matches!(
        users.resolve_or_create(&ada_takes_bobs).await,
        Err(ResolveUserError::IdentityConflict)
    ));
    let stored = users.find_by_id(ada_user.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "ada@example.com");
}

async fn concurrent_first_sign_ins_from_several_instances_give_one_user(backend: Backend) {
    const INSTANCES: usize = 3;
    const PER_INSTANCE: usize = 8;
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        instances.push(backend.instance().await);
    }
    for round in 0..3 {
        let person = identity(
            Provider::Facebook,
            &format!("fb-{round}"),
            &format!("person{round}@example.com"),
        );
        let start = Arc::new(Barrier::new(INSTANCES * PER_INSTANCE));
        let tasks: Vec<_> = (0..INSTANCES * PER_INSTANCE)
            .map(|i| {
                let (users, start, person) = (
                    instances[i % INSTANCES].users(),
                    start.clone(),
                    person.clone(),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    users.resolve_or_create(&person).await
                })
            })
            .collect();
        let mut ids = HashSet::new();
        for task in tasks {
            ids.insert(task.await.unwrap().unwrap().id);
        }
        assert_eq!(
            ids.len(),
            1,
            "every sign-in of round {round} got the same user"
        );
    }
    assert_eq!(instances[0].count().await.unwrap(), 3);
}

async fn deactivation_and_deletion_are_seen_by_another_instance(backend: Backend) {
    let (one, other) = (backend.instance().await, backend.instance().await);
    let user = one.users().resolve_or_create(&ada()).await.unwrap();

    let disabled = one
        .users()
        .set_active(user.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.is_active);
    assert!(
        !other
            .users()
            .find_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    let enabled = other
        .users()
        .set_active(user.id, true)
        .await
        .unwrap()
        .unwrap();
    assert!(enabled.is_active);
    assert!(
        one.users()
            .find_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert_eq!(
        one.users()
            .set_active(UserId::new_random(), false)
            .await
            .unwrap(),
        None
    );

    assert!(one.users().delete(user.id).await.unwrap());
    assert_eq!(other.users().find_by_id(user.id).await.unwrap(), None);
    assert!(!other.users().delete(user.id).await.unwrap());
}

async fn pages_list_every_user_once_in_id_order_and_filter(backend: Backend) {
    let users = backend.instance().await.users();
    for i in 0..25 {
        let provider = if i % 5 == 0 {
            Provider::Facebook
        } else {
            Provider::Google
        };
        users
            .resolve_or_create(&identity(
                provider,
                &format!("sub-{i}"),
                &format!("u{i}@example.com"),
            ))
            .await
            .unwrap();
    }
    let mut listed: Vec<UserId> = Vec::new();
    let mut after = None;
    loop {
        let page = users
            .list_page(&UserFilter::default(), after, 10)
            .await
            .unwrap();
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        listed.extend(page.iter().map(|user| user.id));
    }
    assert_eq!(listed.len(), 25);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "pages come in ascending id order");

    let facebook = UserFilter {
        provider: Some(Provider::Facebook),
        email: None,
    };
    let page = users.list_page(&facebook, None, 100).await.unwrap();
    assert_eq!(page.len(), 5);
    assert!(page.iter().all(|user| user.provider == Provider::Facebook));
    let by_email = UserFilter {
        provider: None,
        email: Some(Email::parse("u7@example.com").unwrap()),
    };
    let page = users.list_page(&by_email, None, 100).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].subject.as_str(), "sub-7");
}

async fn a_code_is_taken_once_by_concurrent_takers_on_two_instances(backend: Backend) {
    const TAKERS: usize = 16;
    let instances = [backend.instance().await, backend.instance().await];
    let user = instances[0]
        .users()
        .resolve_or_create(&ada())
        .await
        .unwrap();
    for round in 0..3 {
        let code = code_for(&user, &format!("code-{round}"), 1_800_000_060);
        instances[0].codes().store(&code).await.unwrap();
        assert!(
            instances[1].codes().store(&code).await.is_err(),
            "no overwrite"
        );
        let start = Arc::new(Barrier::new(TAKERS));
        let takers: Vec<_> = (0..TAKERS)
            .map(|i| {
                let (codes, start, hash) = (instances[i % 2].codes(), start.clone(), code.hash);
                tokio::spawn(async move {
                    start.wait().await;
                    codes.take(&hash).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for taker in takers {
            if let Some(taken) = taker.await.unwrap().unwrap() {
                winners.push(taken);
            }
        }
        assert_eq!(winners, vec![code], "exactly one taker got the code");
    }
}

async fn expired_codes_are_swept_in_bounded_batches_and_go_with_their_user(backend: Backend) {
    let database = backend.instance().await;
    let (users, codes) = (database.users(), database.codes());
    let user = users.resolve_or_create(&ada()).await.unwrap();
    for i in 0..5 {
        codes
            .store(&code_for(&user, &format!("old-{i}"), 1_000))
            .await
            .unwrap();
    }
    let live = code_for(&user, "live", 5_000);
    codes.store(&live).await.unwrap();
    assert_eq!(codes.delete_expired(2_000, 3).await.unwrap(), 3);
    assert_eq!(codes.delete_expired(2_000, 3).await.unwrap(), 2);
    assert_eq!(codes.delete_expired(2_000, 3).await.unwrap(), 0);
    users.delete(user.id).await.unwrap();
    assert_eq!(
        codes.take(&live.hash).await.unwrap(),
        None,
        "deleted with its user"
    );
}

async fn the_database_answers_a_ping(backend: Backend) {
    let database = backend.instance().await;
    database.users().ping().await.unwrap();
    let (connections, idle) = database.pool_state();
    assert!(connections >= idle);
    assert!(connections >= 1);
}

// ---- PostgreSQL only: what a network database adds. ----

async fn postgres_url(database: &TestDatabase) -> PostgresUrl {
    PostgresUrl::parse(database.url()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_an_empty_database_migrate_it_once_and_all_start() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = postgres_url(&database).await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                PostgresStore::open(&url, &PostgresOptions::default(), Migrate::Apply).await
            })
        })
        .collect();
    for start in starts {
        start.await.unwrap().unwrap();
    }
    let status = PostgresStore::schema_status(&url, &PostgresOptions::default())
        .await
        .unwrap();
    assert!(status.is_up_to_date());
    assert_eq!(status.applied, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_behind_is_refused_by_the_user_commands_and_listed_as_pending() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = postgres_url(&database).await;
    let status = PostgresStore::schema_status(&url, &PostgresOptions::default())
        .await
        .unwrap();
    assert_eq!(status.applied, 0);
    assert_eq!(status.pending.len(), 3);
    let refused = PostgresStore::open(&url, &PostgresOptions::default(), Migrate::RequireUpToDate)
        .await
        .unwrap_err();
    assert!(matches!(refused, PostgresOpenError::Behind { .. }));
    assert!(refused.to_string().contains("zeropass migrate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_connections_give_unavailable_or_success_and_the_pool_recovers() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = PostgresStore::open(
        &postgres_url(&database).await,
        &PostgresOptions::default(),
        Migrate::Apply,
    )
    .await
    .unwrap();
    let user = zeropass_domain::UserRepository::resolve_or_create(&store, &ada())
        .await
        .unwrap();
    let mut unavailable = 0;
    for _ in 0..5 {
        // Queries in flight while every connection of the database is terminated.
        let lookups: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    zeropass_domain::UserRepository::find_by_id(&store, user.id).await
                })
            })
            .collect();
        database.terminate_connections().await;
        for lookup in lookups {
            match lookup.await.unwrap() {
                Ok(found) => assert_eq!(found.map(|found| found.id), Some(user.id)),
                Err(RepositoryError::Unavailable(_)) => unavailable += 1,
                Err(other) => panic!("a terminated connection must be Unavailable, not {other:?}"),
            }
        }
    }
    eprintln!("terminated connections: {unavailable} of 40 lookups answered Unavailable");
    // Recovery without a new store: the pool replaced the dead connections.
    let started = Instant::now();
    let found = zeropass_domain::UserRepository::find_by_id(&store, user.id)
        .await
        .unwrap();
    assert_eq!(found.map(|found| found.id), Some(user.id));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_held_past_the_statement_timeout_is_unavailable_in_time() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let options = PostgresOptions {
        statement_timeout: Duration::from_secs(1),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open(&postgres_url(&database).await, &options, Migrate::Apply)
        .await
        .unwrap();
    // Another session holds an exclusive lock on `users`: every read of it waits.
    let (locker, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    locker
        .batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let outcome = zeropass_domain::UserRepository::find_by_id(&store, UserId::new_random()).await;
    let waited = started.elapsed();
    assert!(
        matches!(outcome, Err(RepositoryError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    locker.batch_execute("ROLLBACK").await.unwrap();
    // The connection the timeout hit is still good.
    zeropass_domain::UserRepository::ping(&store).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_fails_start_up_after_the_wait_naming_the_url_without_password() {
    let url = PostgresUrl::parse("postgres://zp:hunter2@127.0.0.1:1/zp?sslmode=disable").unwrap();
    let options = PostgresOptions {
        startup_wait: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..PostgresOptions::default()
    };
    let started = Instant::now();
    let error = PostgresStore::open(&url, &options, Migrate::Apply)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    let shown = error.to_string();
    assert!(matches!(error, PostgresOpenError::Unreachable { .. }));
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(
        shown.contains("postgres://zp:***@127.0.0.1:1/zp"),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!format!("{error:?}").contains("hunter2"));
    assert!(!shown.contains('\n'));
}

#[tokio::test]
async fn a_server_gone_after_start_up_is_unavailable_within_the_connect_timeout() {
    let url = PostgresUrl::parse("postgres://zp:hunter2@127.0.0.1:1/zp?sslmode=disable").unwrap();
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(1),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::unchecked(&url, &options);
    let started = Instant::now();
    let outcome = zeropass_domain::UserRepository::ping(&store).await;
    assert!(
        matches!(outcome, Err(RepositoryError::Unavailable(_))),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    let shown = format!("{:?}", outcome.unwrap_err());
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_by_id_is_one_round_trip_once_its_statement_is_prepared() {
    const LOOKUPS: i64 = 200;
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let options = PostgresOptions {
        pool_size: 1,
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open(&postgres_url(&database).await, &options, Migrate::Apply)
        .await
        .unwrap();
    let id = UserId::new_random();
    let (counter, connection) =
        tokio_postgres::connect(database.admin_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    // Each round trip of the extended protocol ends in a Sync, which outside a transaction
    // block commits an implicit transaction: the database's commit count counts them. A
    // backend reports its counts when it exits (otherwise only every few seconds), so the
    // store's connection is terminated before each reading, and each measured stretch starts
    // on a new connection: the difference of two stretches is the cost of the extra lookups.
    let commits = || async {
        database.terminate_connections().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        counter
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await
            .unwrap();
        let row = counter
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&database.name()],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let start = commits().await;
    zeropass_domain::UserRepository::find_by_id(&store, id)
        .await
        .unwrap();
    let one = commits().await;
    for _ in 0..=LOOKUPS {
        zeropass_domain::UserRepository::find_by_id(&store, id)
            .await
            .unwrap();
    }
    let many = commits().await;
    let first = one - start;
    let spent = (many - one) - first;
    eprintln!(
        "a new connection and its first lookup: {first} transactions; {LOOKUPS} more lookups: {spent}"
    );
    assert_eq!(spent, LOOKUPS, "one round trip per lookup");
}

async fn signing_keys_read_back_field_for_field_in_generation_order(backend: Backend) {
    let keys = backend.instance().await.signing_keys();
    assert_eq!(keys.list_signing_keys().await.unwrap(), Vec::new());
    let third = signing_key(3, SigningAlgorithm::Es256);
    let first = signing_key(1, SigningAlgorithm::EdDsa);
    let second = signing_key(2, SigningAlgorithm::Es256);
    for key in [&third, &first, &second] {
        assert!(keys.insert_signing_key(key).await.unwrap());
    }

    let other_instance = backend.instance().await.signing_keys();
    assert_eq!(
        other_instance.list_signing_keys().await.unwrap(),
        vec![first, second, third]
    );
}

async fn a_taken_generation_or_kid_is_refused_and_changes_nothing(backend: Backend) {
    let keys = backend.instance().await.signing_keys();
    let stored = signing_key(1, SigningAlgorithm::Es256);
    assert!(keys.insert_signing_key(&stored).await.unwrap());

    let same_generation = signing_key(1, SigningAlgorithm::EdDsa);
    assert!(!keys.insert_signing_key(&same_generation).await.unwrap());
    let same_kid = StoredSigningKey {
        kid: stored.kid.clone(),
        ..signing_key(2, SigningAlgorithm::EdDsa)
    };
    assert!(!keys.insert_signing_key(&same_kid).await.unwrap());
    assert!(
        !keys.insert_signing_key(&stored).await.unwrap(),
        "the same key twice"
    );

    assert_eq!(keys.list_signing_keys().await.unwrap(), vec![stored]);
}

async fn concurrent_inserts_of_one_generation_from_two_instances_store_exactly_one(
    backend: Backend,
) {
    const WRITERS: usize = 16;
    let instances = [backend.instance().await, backend.instance().await];
    let start = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (keys, start) = (instances[i % 2].signing_keys(), start.clone());
            let key = signing_key(7, SigningAlgorithm::Es256);
            tokio::spawn(async move {
                start.wait().await;
                keys.insert_signing_key(&key)
                    .await
                    .map(|stored| (stored, key))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        let (stored, key) = writer.await.unwrap().unwrap();
        if stored {
            winners.push(key);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert stored its key");
    assert_eq!(
        instances[1]
            .signing_keys()
            .list_signing_keys()
            .await
            .unwrap(),
        winners
    );
}

async fn a_deleted_signing_key_is_gone_and_a_second_delete_finds_nothing(backend: Backend) {
    let instances = [backend.instance().await, backend.instance().await];
    let kept = signing_key(1, SigningAlgorithm::EdDsa);
    let revoked = signing_key(2, SigningAlgorithm::EdDsa);
    for key in [&kept, &revoked] {
        assert!(
            instances[0]
                .signing_keys()
                .insert_signing_key(key)
                .await
                .unwrap()
        );
    }

    let keys = instances[1].signing_keys();
    assert!(keys.delete_signing_key(&revoked.kid).await.unwrap());
    assert!(!keys.delete_signing_key(&revoked.kid).await.unwrap());
    assert!(
        !keys
            .delete_signing_key(&KeyId::random().unwrap())
            .await
            .unwrap()
    );
    assert_eq!(
        instances[0]
            .signing_keys()
            .list_signing_keys()
            .await
            .unwrap(),
        vec![kept]
    );
}

async fn a_revoked_signing_key_reads_back_revoked_and_is_revoked_once(backend: Backend) {
    let instances = [backend.instance().await, backend.instance().await];
    let key = signing_key(1, SigningAlgorithm::Es256);
    assert!(
        instances[0]
            .signing_keys()
            .insert_signing_key(&key)
            .await
            .unwrap()
    );
    let at = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    let later = chrono::DateTime::from_timestamp(1_900_000_100, 0).unwrap();

    let keys = instances[1].signing_keys();
    assert!(keys.revoke_signing_key(&key.kid, at).await.unwrap());
    assert!(
        !keys.revoke_signing_key(&key.kid, later).await.unwrap(),
        "revoked once: the first time stays"
    );
    assert!(
        !keys
            .revoke_signing_key(&KeyId::random().unwrap(), at)
            .await
            .unwrap()
    );
    let stored = instances[0]
        .signing_keys()
        .list_signing_keys()
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![StoredSigningKey {
            revoked_at: Some(at),
            ..key
        }]
    );
}
