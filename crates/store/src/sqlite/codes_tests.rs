//! The `SignInCodes` adapter against real SQLite files: a code is handed out once, even to
//! concurrent takers on two pools (two instances), expired codes are swept in bounded batches,
//! a user's codes go with the user, and — through the `CodeGrant` use case with a clock the
//! test sets — a stored code is refused from its sixtieth second.

use crate::{DatabaseLocation, SqliteSignInCodes, SqliteUserRepository};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tempfile::TempDir;
use tokio::sync::Barrier;
use zeropass_domain::{
    AccessTokenClaims, AccessTokens, Clock, CodeChallenge, CodeGrant, CodeHash, Email,
    IssueTokenError, IssuedToken, Provider, RedeemCodeError, SignInCodes, StoredSignInCode,
    Subject, TokenRejection, User, UserRepository, VerifiedIdentity,
};

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const NOW: i64 = 1_800_000_000;

struct Database {
    dir: TempDir,
    users: SqliteUserRepository,
    codes: SqliteSignInCodes,
}

impl Database {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let users = SqliteUserRepository::open(&location(&dir)).unwrap();
        let codes = SqliteSignInCodes::new(&users);
        Self { dir, users, codes }
    }

    /// A second pool on the same file, as another instance would have.
    fn another_instance(&self) -> SqliteSignInCodes {
        SqliteSignInCodes::new(&SqliteUserRepository::open(&location(&self.dir)).unwrap())
    }

    async fn ada(&self) -> User {
        self.users
            .resolve_or_create(&VerifiedIdentity {
                provider: Provider::Google,
                subject: Subject::parse("google-sub-ada").unwrap(),
                email: Email::parse("ada@example.com").unwrap(),
            })
            .await
            .unwrap()
    }
}

fn location(dir: &TempDir) -> DatabaseLocation {
    DatabaseLocation::File(dir.path().join("codes.db"))
}

fn code_for(user: &User, code: &str, expires_at: i64) -> StoredSignInCode {
    StoredSignInCode {
        hash: CodeHash::of(code),
        user_id: user.id,
        challenge: CodeChallenge::parse_s256(CHALLENGE).unwrap(),
        expires_at,
    }
}

#[tokio::test]
async fn a_stored_code_is_taken_exactly_once() {
    let database = Database::new();
    let ada = database.ada().await;
    let code = code_for(&ada, "the-code", NOW + 60);
    database.codes.store(&code).await.unwrap();
    assert_eq!(
        database.codes.take(&CodeHash::of("another")).await.unwrap(),
        None
    );
    assert_eq!(
        database.codes.take(&code.hash).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(database.codes.take(&code.hash).await.unwrap(), None);
}

#[tokio::test]
async fn storing_the_same_hash_twice_is_an_error_not_an_overwrite() {
    let database = Database::new();
    let ada = database.ada().await;
    let code = code_for(&ada, "the-code", NOW + 60);
    database.codes.store(&code).await.unwrap();
    let later = StoredSignInCode {
        expires_at: NOW + 600,
        ..code.clone()
    };
    assert!(database.codes.store(&later).await.is_err());
    assert_eq!(database.codes.take(&code.hash).await.unwrap(), Some(code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_takers_on_two_instances_exactly_one_gets_the_code() {
    const TAKERS: usize = 16;
    let database = Database::new();
    let ada = database.ada().await;
    let instances = [database.codes.clone(), database.another_instance()];
    for round in 0..5 {
        let code = code_for(&ada, &format!("code-{round}"), NOW + 60);
        database.codes.store(&code).await.unwrap();
        let start = Arc::new(Barrier::new(TAKERS));
        let takers: Vec<_> = (0..TAKERS)
            .map(|i| {
                let (codes, start, hash) = (instances[i % 2].clone(), start.clone(), code.hash);
                tokio::spawn(async move {
                    start.wait().await;
                    codes.take(&hash).await
                })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if taker.await.unwrap().unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn expired_codes_are_swept_in_bounded_batches_and_live_ones_stay() {
    let database = Database::new();
    let ada = database.ada().await;
    for i in 0..5 {
        database
            .codes
            .store(&code_for(&ada, &format!("expired-{i}"), NOW - i))
            .await
            .unwrap();
    }
    let live = code_for(&ada, "live", NOW + 1);
    database.codes.store(&live).await.unwrap();

    assert_eq!(database.codes.delete_expired(NOW, 3).await.unwrap(), 3);
    assert_eq!(database.codes.delete_expired(NOW, 3).await.unwrap(), 2);
    assert_eq!(database.codes.delete_expired(NOW, 3).await.unwrap(), 0);
    for i in 0..5 {
        assert_eq!(
            database
                .codes
                .take(&CodeHash::of(&format!("expired-{i}")))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(database.codes.take(&live.hash).await.unwrap(), Some(live));
}

#[tokio::test]
async fn deleting_a_user_deletes_their_pending_codes() {
    let database = Database::new();
    let ada = database.ada().await;
    let code = code_for(&ada, "the-code", NOW + 60);
    database.codes.store(&code).await.unwrap();
    assert!(database.users.delete(ada.id).await.unwrap());
    assert_eq!(database.codes.take(&code.hash).await.unwrap(), None);
}

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0.load(Ordering::SeqCst), 0).unwrap()
    }
}

/// Issues a fixed token; verification is not needed here.
struct FixedTokens;

impl AccessTokens for FixedTokens {
    fn issue(&self, _user: &User) -> Result<IssuedToken, IssueTokenError> {
        Ok(IssuedToken {
            token: "header.claims.signature".into(),
            expires_in: 3600,
        })
    }

    fn verify(&self, _token: &str) -> Result<AccessTokenClaims, TokenRejection> {
        Err(TokenRejection::Invalid("not used".into()))
    }
}

#[tokio::test]
async fn through_the_use_case_a_code_works_until_its_sixtieth_second_and_no_longer() {
    let database = Database::new();
    let ada = database.ada().await;
    let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
    let grant = CodeGrant::new(
        Arc::new(database.codes.clone()),
        Arc::new(database.users.clone()),
        Arc::new(FixedTokens),
        clock.clone(),
    );
    let challenge = CodeChallenge::parse_s256(CHALLENGE).unwrap();

    let in_time = grant.issue(&ada, challenge).await.unwrap();
    clock.0.store(NOW + 59, Ordering::SeqCst);
    let signed_in = grant.redeem(in_time.as_str(), VERIFIER).await.unwrap();
    assert_eq!(signed_in.user.id, ada.id);

    clock.0.store(NOW, Ordering::SeqCst);
    let too_late = grant.issue(&ada, challenge).await.unwrap();
    clock.0.store(NOW + 60, Ordering::SeqCst);
    let error = grant.redeem(too_late.as_str(), VERIFIER).await.unwrap_err();
    assert!(
        matches!(error, RedeemCodeError::InvalidGrant("expired code")),
        "{error:?}"
    );
}

#[tokio::test]
async fn issuing_sweeps_the_codes_that_expired_meanwhile() {
    let database = Database::new();
    let ada = database.ada().await;
    let clock = Arc::new(TestClock(AtomicI64::new(NOW)));
    let grant = CodeGrant::new(
        Arc::new(database.codes.clone()),
        Arc::new(database.users.clone()),
        Arc::new(FixedTokens),
        clock.clone(),
    );
    let challenge = CodeChallenge::parse_s256(CHALLENGE).unwrap();
    let forgotten = grant.issue(&ada, challenge).await.unwrap();
    clock.0.store(NOW + 61, Ordering::SeqCst);
    grant.issue(&ada, challenge).await.unwrap();
    assert_eq!(
        database
            .codes
            .take(&CodeHash::of(forgotten.as_str()))
            .await
            .unwrap(),
        None,
        "the expired code is still stored"
    );
}
