//! The signing-key timeline, walked with a settable clock over an in-memory store.

use super::*;
use crate::ports::signing_keys::SealedPrivateKey;
use crate::test_support::{FakeKeyGenerator, FakeKeyStore, TestClock};
use chrono::TimeZone;

fn start() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn policy(rotation_days: i64) -> KeyPolicy {
    KeyPolicy {
        algorithm: SigningAlgorithm::Es256,
        rotation: (rotation_days > 0).then(|| Duration::days(rotation_days)),
        jwks_max_age: Duration::seconds(300),
        token_lifetime: Duration::seconds(900 + 60),
    }
}

/// One instance: the use case over a shared store and clock.
fn instance(store: &Arc<FakeKeyStore>, clock: &Arc<TestClock>, policy: KeyPolicy) -> SigningKeys {
    SigningKeys::new(
        Arc::clone(store) as Arc<dyn SigningKeyStore>,
        Arc::new(FakeKeyGenerator::default()),
        Arc::clone(clock) as Arc<dyn Clock>,
        policy,
    )
}

fn setup(rotation_days: i64) -> (Arc<FakeKeyStore>, Arc<TestClock>, SigningKeys) {
    let store = FakeKeyStore::new();
    let clock = TestClock::at(start());
    let keys = instance(&store, &clock, policy(rotation_days));
    (store, clock, keys)
}

fn kids<'a>(keys: impl Iterator<Item = &'a StoredSigningKey>) -> Vec<KeyId> {
    keys.map(|key| key.kid.clone()).collect()
}

fn signing_kid(ring: &KeyRing) -> KeyId {
    ring.signing().expect("a key signs").kid.clone()
}

fn status_of<'a>(ring: &'a KeyRing, kid: &KeyId) -> &'a KeyStatus {
    ring.keys
        .iter()
        .find(|status| &status.key.kid == kid)
        .expect("the key is in the ring")
}

fn stored_key(
    generation: i64,
    algorithm: SigningAlgorithm,
    activates_at: DateTime<Utc>,
) -> StoredSigningKey {
    StoredSigningKey {
        kid: KeyId::random().unwrap(),
        algorithm,
        generation,
        public_key: vec![7; 32],
        sealed_private_key: SealedPrivateKey(vec![1, 2, 3]),
        created_at: activates_at,
        activates_at,
        revoked_at: None,
    }
}

#[tokio::test]
async fn the_first_key_is_made_at_once_and_signs_at_once() {
    let (store, _clock, keys) = setup(30);

    let ring = keys.refresh().await.unwrap();

    let first = ring.signing().expect("a key signs");
    assert_eq!(first.generation, 1);
    assert_eq!(first.algorithm, SigningAlgorithm::Es256);
    assert_eq!(first.created_at, start());
    assert_eq!(first.activates_at, start());
    assert_eq!(first.public_key.len(), 65);
    assert_eq!(kids(ring.published()), vec![first.kid.clone()]);
    assert_eq!(status_of(&ring, &first.kid).expires_at, None);
    assert_eq!(store.keys(), vec![first.clone()]);
}

#[tokio::test]
async fn a_second_refresh_changes_nothing() {
    let (store, clock, keys) = setup(30);
    let first = keys.refresh().await.unwrap();
    clock.advance(Duration::days(1));

    let second = keys.refresh().await.unwrap();

    assert_eq!(signing_kid(&second), signing_kid(&first));
    assert_eq!(store.keys().len(), 1);
    assert_eq!(*store.inserts.lock().unwrap(), vec![true]);
}

#[tokio::test]
async fn two_rotations_publish_each_key_before_it_signs_and_until_its_tokens_are_gone() {
    let (store, clock, keys) = setup(30);
    let policy = keys.policy().clone();
    let lead = policy.publication_lead();
    let tail = policy.retirement_tail();
    let first = signing_kid(&keys.refresh().await.unwrap());
    let mut signer = (first, start());

    for rotation in 1..=2_i64 {
        let (old, old_activated) = signer.clone();
        let due = old_activated + Duration::days(30);

        clock.set(due - lead - Duration::seconds(1));
        let ring = keys.refresh().await.unwrap();
        assert_eq!(
            ring.keys.len(),
            1,
            "rotation {rotation}: nothing made early"
        );

        clock.set(due - lead);
        let ring = keys.refresh().await.unwrap();
        let next = ring.keys.last().unwrap().clone();
        assert_eq!(next.state, KeyState::Next, "rotation {rotation}");
        assert!(next.published);
        assert_eq!(next.expires_at, None);
        assert_eq!(next.key.activates_at, due);
        assert!(
            next.key.activates_at - next.key.created_at
                >= policy.jwks_max_age + Duration::seconds(60)
        );
        assert_eq!(signing_kid(&ring), old, "the old key still signs");

        clock.set(due - Duration::seconds(1));
        let ring = keys.refresh().await.unwrap();
        assert_eq!(signing_kid(&ring), old);
        assert_eq!(ring.published().count(), 2);

        clock.set(due);
        let ring = keys.refresh().await.unwrap();
        assert_eq!(
            signing_kid(&ring),
            next.key.kid,
            "the new key signs when due"
        );
        let retired = status_of(&ring, &old);
        assert_eq!(retired.state, KeyState::Retired);
        assert_eq!(retired.expires_at, Some(due + tail));
        assert!(retired.published);

        clock.set(due + tail - Duration::seconds(1));
        let ring = keys.refresh().await.unwrap();
        assert!(
            status_of(&ring, &old).published,
            "published until its expiry"
        );

        clock.set(due + tail);
        let ring = keys.refresh().await.unwrap();
        assert_eq!(kids(ring.published()), vec![next.key.kid.clone()]);
        assert_eq!(ring.keys.len(), 1);
        assert!(
            store.keys().iter().all(|key| key.kid != old),
            "rotation {rotation}: the expired key is deleted"
        );
        signer = (next.key.kid.clone(), due);
    }
    assert_eq!(store.keys()[0].generation, 3);
}

#[tokio::test]
async fn a_late_refresh_still_publishes_the_new_key_for_the_whole_lead() {
    let (_store, clock, keys) = setup(30);
    keys.refresh().await.unwrap();
    let late = start() + Duration::days(31);
    clock.set(late);

    let ring = keys.refresh().await.unwrap();

    let next = ring.keys.last().unwrap();
    assert_eq!(next.state, KeyState::Next);
    assert_eq!(
        next.key.activates_at,
        late + keys.policy().publication_lead()
    );
}

#[tokio::test]
async fn rotation_days_zero_never_rotates() {
    let (store, clock, keys) = setup(0);
    let first = signing_kid(&keys.refresh().await.unwrap());

    clock.advance(Duration::days(10 * 365));
    let ring = keys.refresh().await.unwrap();

    assert_eq!(signing_kid(&ring), first);
    assert_eq!(store.keys().len(), 1);
}

#[tokio::test]
async fn rotate_now_signs_at_once_and_keeps_the_old_key_published() {
    let (store, clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());
    clock.advance(Duration::days(3));

    let made = keys.rotate(true).await.unwrap();

    assert_eq!(made.state, KeyState::Current);
    assert_eq!(made.key.activates_at, clock.now());
    assert_eq!(made.key.generation, 2);
    let ring = keys.refresh().await.unwrap();
    assert_eq!(signing_kid(&ring), made.key.kid);
    let retired = status_of(&ring, &old);
    assert_eq!(retired.state, KeyState::Retired);
    assert!(retired.published);
    assert_eq!(
        retired.expires_at,
        Some(clock.now() + keys.policy().retirement_tail())
    );
    assert_eq!(store.keys().len(), 2);
}

#[tokio::test]
async fn rotate_schedules_a_key_after_the_publication_lead() {
    let (_store, clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());

    let made = keys.rotate(false).await.unwrap();

    assert_eq!(made.state, KeyState::Next);
    assert!(made.published);
    assert_eq!(
        made.key.activates_at,
        clock.now() + keys.policy().publication_lead()
    );
    assert_eq!(signing_kid(&keys.refresh().await.unwrap()), old);
    clock.advance(keys.policy().publication_lead());
    assert_eq!(signing_kid(&keys.refresh().await.unwrap()), made.key.kid);
}

#[tokio::test]
async fn a_rotation_with_no_key_signing_signs_at_once() {
    let (_store, _clock, keys) = setup(30);

    let made = keys.rotate(false).await.unwrap();

    assert_eq!(made.state, KeyState::Current);
    assert_eq!(signing_kid(&keys.refresh().await.unwrap()), made.key.kid);
}

#[tokio::test]
async fn a_revoked_key_is_unpublished_at_once() {
    let (store, _clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());
    let new = keys.rotate(true).await.unwrap().key.kid;

    assert!(keys.revoke(&old).await.unwrap());

    let ring = keys.list().await.unwrap();
    assert_eq!(kids(ring.published()), vec![new]);
    let revoked = status_of(&ring, &old);
    assert_eq!(
        (revoked.state, revoked.expires_at, revoked.published),
        (KeyState::Retired, Some(start()), false)
    );
    assert!(!keys.revoke(&old).await.unwrap(), "already revoked");
    assert_eq!(
        store.keys().len(),
        2,
        "the revoked row stays, as a tombstone"
    );
}

#[tokio::test]
async fn revoking_the_current_key_never_lets_the_retired_key_before_it_sign_again() {
    let (_store, clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());
    clock.advance(Duration::hours(1));
    let new = keys.rotate(true).await.unwrap().key.kid;
    clock.advance(Duration::seconds(10));

    assert!(keys.revoke(&new).await.unwrap());
    let ring = keys.refresh().await.unwrap();

    let signing = signing_kid(&ring);
    assert_ne!(
        signing, old,
        "the key the revoked one superseded stays retired"
    );
    assert_ne!(signing, new);
    let old_status = status_of(&ring, &old);
    assert_eq!(old_status.state, KeyState::Retired);
    assert!(old_status.expires_at.is_some());
}

#[tokio::test]
async fn a_revoked_key_stays_stored_while_an_older_key_is_and_goes_after() {
    let (store, clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());
    let new = keys.rotate(true).await.unwrap().key.kid;
    assert!(keys.revoke(&new).await.unwrap());
    keys.refresh().await.unwrap();

    clock.advance(keys.policy().retirement_tail() - Duration::seconds(1));
    keys.refresh().await.unwrap();
    let stored = |kid: &KeyId| store.keys().iter().any(|key| &key.kid == kid);
    assert!(
        stored(&old) && stored(&new),
        "the older key is still published"
    );

    clock.advance(Duration::seconds(1));
    keys.refresh().await.unwrap();
    assert!(!stored(&old), "expired");
    assert!(!stored(&new), "no older key left to keep retired");
}

#[tokio::test]
async fn switching_the_algorithm_back_makes_a_new_key_instead_of_reviving_the_old_one() {
    let (store, clock, es256) = setup(30);
    let old = signing_kid(&es256.refresh().await.unwrap());
    clock.advance(Duration::minutes(5));
    let eddsa = instance(
        &store,
        &clock,
        KeyPolicy {
            algorithm: SigningAlgorithm::EdDsa,
            ..policy(30)
        },
    );
    eddsa.refresh().await.unwrap();
    clock.advance(Duration::minutes(5));

    let ring = es256.refresh().await.unwrap();

    assert_ne!(signing_kid(&ring), old);
    assert_eq!(status_of(&ring, &old).state, KeyState::Retired);
}

#[tokio::test]
async fn revoking_the_only_key_makes_a_new_one_at_the_next_refresh() {
    let (_store, _clock, keys) = setup(30);
    let old = signing_kid(&keys.refresh().await.unwrap());

    assert!(keys.revoke(&old).await.unwrap());
    assert!(keys.list().await.unwrap().signing().is_none());

    let ring = keys.refresh().await.unwrap();
    assert_ne!(signing_kid(&ring), old);
}

#[tokio::test]
async fn list_changes_nothing() {
    let (store, clock, keys) = setup(30);
    assert!(keys.list().await.unwrap().keys.is_empty());
    assert!(store.keys().is_empty(), "list makes no first key");

    let old = signing_kid(&keys.refresh().await.unwrap());
    keys.rotate(true).await.unwrap();
    clock.advance(Duration::days(365));

    let ring = keys.list().await.unwrap();
    assert!(!status_of(&ring, &old).published, "past its expiry");
    assert_eq!(store.keys().len(), 2, "list deletes nothing");
}

#[tokio::test]
async fn a_key_of_another_algorithm_is_never_published_nor_used() {
    let (store, clock, keys) = setup(30);
    let other = stored_key(5, SigningAlgorithm::EdDsa, start() - Duration::days(1));
    store.put(other.clone());

    let ring = keys.refresh().await.unwrap();

    let mine = ring.signing().unwrap();
    assert_eq!(mine.algorithm, SigningAlgorithm::Es256);
    assert_eq!(
        mine.generation, 6,
        "generations are unique across algorithms"
    );
    assert_eq!(kids(ring.published()), vec![mine.kid.clone()]);
    let status = status_of(&ring, &other.kid);
    assert_eq!(
        (status.state, status.expires_at, status.published),
        (
            KeyState::Retired,
            Some(start() + keys.policy().retirement_tail()),
            false
        ),
        "superseded by the new key, never published"
    );

    clock.advance(Duration::days(400));
    keys.refresh().await.unwrap();
    assert!(
        !store.keys().iter().any(|key| key.kid == other.kid),
        "deleted by the same expiry"
    );
}

#[tokio::test]
async fn after_a_switch_of_algorithm_the_new_algorithm_gets_its_first_key_at_once() {
    let store = FakeKeyStore::new();
    let clock = TestClock::at(start());
    let es256 = instance(&store, &clock, policy(30));
    let old = signing_kid(&es256.refresh().await.unwrap());
    let eddsa = instance(
        &store,
        &clock,
        KeyPolicy {
            algorithm: SigningAlgorithm::EdDsa,
            ..policy(30)
        },
    );

    let ring = eddsa.refresh().await.unwrap();

    let signer = ring.signing().unwrap();
    assert_eq!(signer.algorithm, SigningAlgorithm::EdDsa);
    assert_eq!(signer.public_key.len(), 32);
    assert_eq!(kids(ring.published()), vec![signer.kid.clone()]);
    assert!(!status_of(&ring, &old).published);
}

#[tokio::test]
async fn two_instances_refreshing_at_the_same_instant_make_exactly_one_key() {
    let store = FakeKeyStore::new();
    let clock = TestClock::at(start());
    let one = instance(&store, &clock, policy(30));
    let two = instance(&store, &clock, policy(30));
    store.read_together(2);

    let (first, second) = tokio::join!(one.refresh(), two.refresh());

    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(store.keys().len(), 1);
    assert_eq!(signing_kid(&first), signing_kid(&second));
    assert_eq!(
        *store.inserts.lock().unwrap(),
        vec![true, false],
        "the loser's insert lost the race"
    );
}

#[tokio::test]
async fn two_instances_rotating_at_the_same_instant_make_exactly_one_next_key() {
    let store = FakeKeyStore::new();
    let clock = TestClock::at(start());
    let one = instance(&store, &clock, policy(30));
    let two = instance(&store, &clock, policy(30));
    one.refresh().await.unwrap();
    clock.set(start() + Duration::days(30) - one.policy().publication_lead());
    store.read_together(2);

    let (first, second) = tokio::join!(one.refresh(), two.refresh());

    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(store.keys().len(), 2);
    assert_eq!(first, second);
    assert_eq!(*store.inserts.lock().unwrap(), vec![true, true, false]);
}

#[tokio::test]
async fn a_refresh_that_loses_the_race_uses_the_winners_key() {
    let (store, _clock, keys) = setup(30);
    store.lose_next_inserts_to_rivals(1);

    let ring = keys.refresh().await.unwrap();

    let stored = store.keys();
    assert_eq!(stored.len(), 1);
    assert_eq!(signing_kid(&ring), stored[0].kid, "the rival's key");
}

#[tokio::test]
async fn rotate_takes_the_next_generation_when_it_loses_one() {
    let (store, _clock, keys) = setup(30);
    keys.refresh().await.unwrap();
    store.lose_next_inserts_to_rivals(1);

    let made = keys.rotate(true).await.unwrap();

    assert_eq!(made.key.generation, 3);
    assert_eq!(made.state, KeyState::Current);
    assert_eq!(store.keys().len(), 3);
}

#[tokio::test]
async fn repeated_lost_races_end_in_contended() {
    let (store, _clock, keys) = setup(30);
    keys.refresh().await.unwrap();
    store.lose_next_inserts_to_rivals(3);

    let rotated = keys.rotate(false).await;

    assert!(matches!(rotated, Err(SigningKeyError::Contended)));
    assert_eq!(store.inserts.lock().unwrap().len(), 4, "three attempts");
}

#[tokio::test]
async fn a_refresh_that_keeps_losing_ends_in_contended() {
    let (store, _clock, keys) = setup(30);
    store.lose_every_insert();

    let refreshed = keys.refresh().await;

    assert!(matches!(refreshed, Err(SigningKeyError::Contended)));
    assert_eq!(*store.inserts.lock().unwrap(), vec![false; 3]);
}

#[tokio::test]
async fn a_store_failure_surfaces_as_store() {
    let (store, _clock, keys) = setup(30);
    keys.refresh().await.unwrap();
    let kid = keys.list().await.unwrap().keys[0].key.kid.clone();
    store.fail();

    assert!(matches!(
        keys.refresh().await,
        Err(SigningKeyError::Store(RepositoryError::Unavailable(_)))
    ));
    assert!(matches!(keys.list().await, Err(SigningKeyError::Store(_))));
    assert!(matches!(
        keys.rotate(true).await,
        Err(SigningKeyError::Store(_))
    ));
    assert!(matches!(
        keys.revoke(&kid).await,
        Err(SigningKeyError::Store(_))
    ));
}

#[tokio::test]
async fn a_generator_failure_surfaces_as_generation() {
    let mut generator = crate::ports::signing_keys::MockSigningKeyGenerator::new();
    generator
        .expect_generate()
        .returning(|_, _| Err("no entropy".into()));
    let store = FakeKeyStore::new();
    let keys = SigningKeys::new(
        store.clone(),
        Arc::new(generator),
        TestClock::at(start()),
        policy(30),
    );

    assert!(matches!(
        keys.refresh().await,
        Err(SigningKeyError::Generation(_))
    ));
    assert!(store.keys().is_empty());
}

#[test]
fn a_scheduled_key_superseded_before_it_activates_is_retired_and_never_signs() {
    let policy = policy(30);
    let now = start();
    let current = stored_key(1, SigningAlgorithm::Es256, now - Duration::days(1));
    let scheduled = stored_key(2, SigningAlgorithm::Es256, now + Duration::minutes(6));
    let emergency = stored_key(3, SigningAlgorithm::Es256, now - Duration::seconds(1));

    let ring = KeyRing::at(
        vec![emergency.clone(), scheduled.clone(), current.clone()],
        now,
        &policy,
    );

    assert_eq!(
        ring.keys
            .iter()
            .map(|s| s.key.generation)
            .collect::<Vec<_>>(),
        vec![1, 2, 3],
        "in generation order"
    );
    assert_eq!(ring.signing(), Some(&emergency));
    let superseded_at = emergency.activates_at;
    for key in [&current, &scheduled] {
        let status = status_of(&ring, &key.kid);
        assert_eq!(status.state, KeyState::Retired);
        assert_eq!(
            status.expires_at,
            Some(superseded_at + policy.retirement_tail())
        );
        assert!(status.published);
    }
}

#[test]
fn an_empty_ring_signs_with_nothing_and_publishes_nothing() {
    let ring = KeyRing::at(Vec::new(), start(), &policy(30));
    assert!(ring.signing().is_none());
    assert_eq!(ring.published().count(), 0);
}

#[test]
fn the_policy_adds_up_the_lead_and_the_tail() {
    let policy = policy(30);
    assert_eq!(policy.publication_lead(), Duration::seconds(300 + 60 + 30));
    assert_eq!(
        policy.retirement_tail(),
        Duration::seconds(60 + 960 + 300 + 30)
    );
}

#[tokio::test]
async fn new_keys_take_whole_seconds_without_shortening_the_lead() {
    let (_store, clock, keys) = setup(30);
    let between_seconds = start() + Duration::milliseconds(1_500);
    clock.set(between_seconds);

    let first = keys.refresh().await.unwrap().signing().unwrap().clone();
    let scheduled = keys.rotate(false).await.unwrap().key;

    let floor = start() + Duration::seconds(1);
    assert_eq!((first.created_at, first.activates_at), (floor, floor));
    assert_eq!(scheduled.created_at, floor);
    assert_eq!(
        scheduled.activates_at,
        floor + Duration::seconds(1) + keys.policy().publication_lead()
    );
}

#[test]
fn a_retired_key_is_published_up_to_its_expiry_and_not_at_it() {
    let policy = policy(30);
    let old = stored_key(1, SigningAlgorithm::Es256, start() - Duration::days(30));
    let new = stored_key(2, SigningAlgorithm::Es256, start());
    let expiry = start() + policy.retirement_tail();
    let published_at = |now| {
        status_of(
            &KeyRing::at(vec![old.clone(), new.clone()], now, &policy),
            &old.kid,
        )
        .published
    };

    assert!(published_at(start()));
    assert!(published_at(expiry - Duration::seconds(1)));
    assert!(!published_at(expiry));
}
