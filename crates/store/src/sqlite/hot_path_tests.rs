//! The read paths that `/users/me` and returning sign-ins take on every request: their SQL is
//! prepared once and kept (no bound `LIMIT`, which makes SQLite re-prepare on every call),
//! the write-free path for a returning identity, and the fall-back to the blocking pool when
//! no connection is free.

use crate::sqlite::queries;
use crate::{DatabaseLocation, PoolOptions, SqliteUserRepository};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zeropass_domain::{Email, Provider, Subject, UserRepository, VerifiedIdentity};

fn identity(subject: &str, email: &str) -> VerifiedIdentity {
    VerifiedIdentity {
        provider: Provider::Google,
        subject: Subject::parse(subject).unwrap(),
        email: Email::parse(email).unwrap(),
    }
}

fn repository(dir: &tempfile::TempDir, max_connections: u32) -> SqliteUserRepository {
    let options = PoolOptions {
        max_connections,
        ..PoolOptions::default()
    };
    SqliteUserRepository::open_with(&DatabaseLocation::File(dir.path().join("u.db")), &options)
        .unwrap()
}

/// Ada's first sign-in, through the port.
async fn sign_in_ada(repo: &SqliteUserRepository) -> zeropass_domain::User {
    repo.resolve_or_create(&identity("s-ada", "ada@example.com"))
        .await
        .unwrap()
}

/// What a connection ran: the SQL of every query started, and of every statement cached.
#[derive(Default)]
struct Recorded {
    started: Vec<String>,
    cached: Vec<String>,
}

struct Recorder(Arc<Mutex<Recorded>>);

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let mut recorded = self.0.lock().unwrap();
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                recorded.started.push(query.to_string());
            }
            InstrumentationEvent::CacheQuery { sql, .. } => recorded.cached.push(sql.to_owned()),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_per_request_lookups_are_prepared_once_and_carry_no_bound_limit() {
    let dir = tempfile::tempdir().unwrap();
    let writer = repository(&dir, 1);
    let ada = sign_in_ada(&writer).await;
    // A second pool, so the connection below has prepared nothing yet.
    let repo = repository(&dir, 1);

    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let mut conn = repo.connection();
    diesel::Connection::set_instrumentation(&mut *conn, Recorder(Arc::clone(&recorded)));
    for _ in 0..3 {
        assert!(queries::find_by_id(&mut conn, ada.id).unwrap().is_some());
        let returning = identity("s-ada", "ada@example.com");
        assert!(
            queries::find_unchanged(&mut conn, &returning)
                .unwrap()
                .is_some()
        );
    }

    let recorded = recorded.lock().unwrap();
    assert_eq!(recorded.started.len(), 6, "{:?}", recorded.started);
    for sql in &recorded.started {
        // A bound LIMIT expires the cached statement at every new binding (see find_by_id).
        assert!(!sql.to_uppercase().contains("LIMIT"), "{sql}");
    }
    // Two distinct statements, each prepared and cached once for the six calls.
    assert_eq!(recorded.cached.len(), 2, "{:?}", recorded.cached);
}

#[tokio::test]
async fn find_unchanged_finds_only_a_returning_identity_with_its_stored_address() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(&dir, 1);
    let ada = sign_in_ada(&repo).await;
    let mut conn = repo.connection();

    let same = queries::find_unchanged(&mut conn, &identity("s-ada", "ada@example.com")).unwrap();
    assert_eq!(same, Some(ada));
    let moved = queries::find_unchanged(&mut conn, &identity("s-ada", "ada@new.example")).unwrap();
    assert_eq!(moved, None, "a changed address must take the locked path");
    let new = queries::find_unchanged(&mut conn, &identity("s-bob", "bob@example.com")).unwrap();
    assert_eq!(new, None);
}

#[tokio::test]
async fn a_returning_identity_with_a_new_address_is_still_updated() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(&dir, 2);
    let ada = sign_in_ada(&repo).await;
    let again = repo
        .resolve_or_create(&identity("s-ada", "ada@new.example"))
        .await
        .unwrap();
    assert_eq!(again.id, ada.id);
    assert_eq!(again.email.as_str(), "ada@new.example");
    let stored = repo.find_by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_str(), "ada@new.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_on_the_blocking_pool_when_no_connection_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(&dir, 1);
    let ada = sign_in_ada(&repo).await;

    // The only connection is taken: the read cannot run inline and must wait for it.
    let held = repo.connection();
    let reader = {
        let repo = repo.clone();
        tokio::spawn(async move { repo.find_by_id(ada.id).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !reader.is_finished(),
        "the read did not wait for the connection"
    );
    drop(held);
    let found = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(found.map(|user| user.id), Some(ada.id));
}
