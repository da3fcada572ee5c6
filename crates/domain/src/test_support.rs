//! Fixtures shared by the use-case tests: a user and an identity, a settable clock, and
//! in-memory fakes of the signing-key ports.

use crate::clock::Clock;
use crate::error::BoxError;
use crate::ports::signing_keys::{
    GeneratedKey, KeyId, SealedPrivateKey, SigningAlgorithm, SigningKeyGenerator, SigningKeyStore,
    StoredSigningKey,
};
use crate::ports::user_repository::RepositoryError;
use crate::user::{Email, Provider, Subject, User, UserId, VerifiedIdentity};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use uuid::Uuid;

pub fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        provider: Provider::Google,
        subject: Subject::parse("google-sub-1").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
    }
}

pub fn active_user() -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef)),
        email: Email::parse("ada@example.com").unwrap(),
        provider: Provider::Google,
        subject: Subject::parse("google-sub-1").unwrap(),
        is_active: true,
        created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}

/// A clock the test sets and moves forward.
#[derive(Debug)]
pub struct TestClock(std::sync::Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(std::sync::Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// An in-memory [`SigningKeyStore`] that keeps the port's contract (unique generation and
/// `kid`, listed in generation order) and can be told to misbehave.
#[derive(Debug, Default)]
pub struct FakeKeyStore {
    keys: std::sync::Mutex<Vec<StoredSigningKey>>,
    /// The next this-many lists wait, after reading, until this-many lists have read: the
    /// callers all see the same keys, as instances reading at the same instant do.
    list_barrier: std::sync::Mutex<Option<(usize, Arc<tokio::sync::Barrier>)>>,
    /// The next this-many inserts find a rival key of their generation stored just before.
    rivals: std::sync::Mutex<u32>,
    /// Every insert reports a lost race and stores nothing.
    always_lose: std::sync::atomic::AtomicBool,
    /// Every call fails as an unavailable store.
    failing: std::sync::atomic::AtomicBool,
    /// The outcome of every insert, in order.
    pub inserts: std::sync::Mutex<Vec<bool>>,
}

impl FakeKeyStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn keys(&self) -> Vec<StoredSigningKey> {
        self.keys.lock().unwrap().clone()
    }

    pub fn put(&self, key: StoredSigningKey) {
        let mut keys = self.keys.lock().unwrap();
        keys.push(key);
        keys.sort_by_key(|key| key.generation);
    }

    pub fn read_together(&self, callers: usize) {
        *self.list_barrier.lock().unwrap() =
            Some((callers, Arc::new(tokio::sync::Barrier::new(callers))));
    }

    pub fn lose_next_inserts_to_rivals(&self, count: u32) {
        *self.rivals.lock().unwrap() = count;
    }

    pub fn lose_every_insert(&self) {
        self.always_lose
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn fail(&self) {
        self.failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), RepositoryError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(RepositoryError::Unavailable(
                "the fake store is down".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SigningKeyStore for FakeKeyStore {
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        self.check()?;
        let keys = self.keys();
        let barrier = {
            let mut slot = self.list_barrier.lock().unwrap();
            match slot.take() {
                Some((remaining, barrier)) => {
                    if remaining > 1 {
                        *slot = Some((remaining - 1, Arc::clone(&barrier)));
                    }
                    Some(barrier)
                }
                None => None,
            }
        };
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
        Ok(keys)
    }

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool, RepositoryError> {
        self.check()?;
        if self.always_lose.load(std::sync::atomic::Ordering::SeqCst) {
            self.inserts.lock().unwrap().push(false);
            return Ok(false);
        }
        {
            let mut rivals = self.rivals.lock().unwrap();
            if *rivals > 0 {
                *rivals -= 1;
                let mut rival = key.clone();
                rival.kid = KeyId::random().unwrap();
                self.put(rival);
            }
        }
        let mut keys = self.keys.lock().unwrap();
        let taken = keys
            .iter()
            .any(|stored| stored.generation == key.generation || stored.kid == key.kid);
        if !taken {
            keys.push(key.clone());
            keys.sort_by_key(|key| key.generation);
        }
        self.inserts.lock().unwrap().push(!taken);
        Ok(!taken)
    }

    async fn revoke_signing_key(
        &self,
        kid: &KeyId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepositoryError> {
        self.check()?;
        let mut keys = self.keys.lock().unwrap();
        let Some(key) = keys
            .iter_mut()
            .find(|key| &key.kid == kid && key.revoked_at.is_none())
        else {
            return Ok(false);
        };
        key.revoked_at = Some(at);
        Ok(true)
    }

    async fn delete_signing_key(&self, kid: &KeyId) -> Result<bool, RepositoryError> {
        self.check()?;
        let mut keys = self.keys.lock().unwrap();
        let before = keys.len();
        keys.retain(|key| &key.kid != kid);
        Ok(keys.len() < before)
    }
}

/// A [`SigningKeyGenerator`] with recognisable, non-secret bytes: the public key is the
/// algorithm's length of one byte counting the keys made, the sealed key names the `kid`.
#[derive(Debug, Default)]
pub struct FakeKeyGenerator {
    made: std::sync::atomic::AtomicU8,
}

impl SigningKeyGenerator for FakeKeyGenerator {
    fn generate(&self, algorithm: SigningAlgorithm, kid: &KeyId) -> Result<GeneratedKey, BoxError> {
        let made = self.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let length = match algorithm {
            SigningAlgorithm::Es256 => 65,
            SigningAlgorithm::EdDsa => 32,
        };
        Ok(GeneratedKey {
            public_key: vec![made; length],
            sealed_private_key: SealedPrivateKey(format!("sealed for {kid}").into_bytes()),
        })
    }
}
