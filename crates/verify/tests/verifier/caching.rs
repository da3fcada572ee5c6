//! When the key set is fetched again: Cache-Control, unknown kids, the 30 s limit and stale
//! use while zeropass is unreachable. Time moves by the manual clock only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokio::task::JoinSet;
use zeropass_verify::{FetchError, Refusal, VerifyError};

use crate::support::{FakeJwks, ManualClock, QUICKLY, START, claims, eddsa, es256, with};

#[tokio::test]
async fn an_unknown_kid_triggers_a_refetch_that_finds_a_newly_published_key() {
    let (old, new) = (es256("2026-11"), eddsa("2026-12"));
    let server = FakeJwks::publishing(&[&old]).await;
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    assert!(verifier.verify(&old.sign(&claims())).await.is_ok());

    server.publish(&[&old, &new]);
    clock.advance(31);
    let claims = verifier.verify(&new.sign(&claims())).await.unwrap();

    assert_eq!(claims.provider, "google");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn an_unknown_kid_within_30_seconds_of_the_last_fetch_is_refused_without_fetching() {
    let (old, new) = (es256("2026-11"), eddsa("2026-12"));
    let server = FakeJwks::publishing(&[&old]).await;
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    assert!(verifier.verify(&old.sign(&claims())).await.is_ok());
    server.publish(&[&old, &new]);

    clock.advance(29);
    let refused = verifier.verify(&new.sign(&claims())).await;

    assert!(matches!(
        refused,
        Err(VerifyError::Refused(Refusal::UnknownKey))
    ));
    assert_eq!(server.fetches(), 1);
}

/// Verifies 50 forged tokens with 50 invented kids at once, on several threads. (Forged, not
/// signed: a kid nobody publishes is refused before any signature is checked.)
async fn flood(verifier: &zeropass_verify::Verifier, round: usize) {
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    let signature = URL_SAFE_NO_PAD.encode([7_u8; 64]);
    let mut tasks = JoinSet::new();
    for n in 0..50 {
        let verifier = verifier.clone();
        let header = json!({ "alg": "EdDSA", "kid": format!("invented-{round}-{n}") });
        let token = format!(
            "{}.{payload}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string())
        );
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(outcome) = tasks.join_next().await {
        assert!(matches!(
            outcome.unwrap(),
            Err(VerifyError::Refused(Refusal::UnknownKey))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_30_seconds() {
    let key = eddsa("real");
    let server = FakeJwks::publishing(&[&key]).await;
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    assert!(verifier.verify(&key.sign(&claims())).await.is_ok());

    flood(&verifier, 0).await; // the first fetch was just now
    assert_eq!(server.fetches(), 1);
    clock.advance(30);
    flood(&verifier, 1).await;
    assert_eq!(server.fetches(), 2, "one refetch for fifty unknown kids");
    clock.advance(29);
    flood(&verifier, 2).await;
    assert_eq!(server.fetches(), 2);
    clock.advance(1);
    flood(&verifier, 3).await;
    assert_eq!(server.fetches(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_fetch() {
    let key = es256("real");
    let server = FakeJwks::publishing(&[&key]).await;
    let verifier = server.verifier(&ManualClock::new());
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let verifier = verifier.clone();
        let token = key.sign(&claims());
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(outcome) = tasks.join_next().await {
        assert!(outcome.unwrap().is_ok());
    }
    assert_eq!(server.fetches(), 1);
}

/// The number of fetches after verifying a known-kid token at `start + offsets[i]` for each i.
async fn fetches_over_time(cache_control: Option<&str>, offsets: &[u64]) -> Vec<usize> {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    server.set_cache_control(cache_control);
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    // Long-lived claims, so expiry never interferes with the cache under test.
    let token = key.sign(&with(claims(), "exp", json!(START + 86_400)));
    let mut counts = Vec::new();
    let mut elapsed = 0;
    for &offset in offsets {
        clock.advance(offset - elapsed);
        elapsed = offset;
        verifier.verify(&token).await.unwrap();
        counts.push(server.fetches());
    }
    counts
}

#[tokio::test]
async fn the_set_is_refetched_when_its_max_age_has_passed_and_not_before() {
    let counts = fetches_over_time(Some("public, max-age=120"), &[0, 119, 120, 239, 240]).await;
    assert_eq!(counts, [1, 1, 2, 2, 3]);
}

#[tokio::test]
async fn without_cache_control_the_set_is_kept_300_seconds() {
    let counts = fetches_over_time(None, &[0, 299, 300]).await;
    assert_eq!(counts, [1, 1, 2]);
}

#[tokio::test]
async fn an_extreme_max_age_is_bounded_to_between_30_seconds_and_an_hour() {
    let day = fetches_over_time(Some("max-age=86400"), &[0, 3599, 3600]).await;
    assert_eq!(day, [1, 1, 2]);
    let none = fetches_over_time(Some("no-store"), &[0, 1, 29, 30]).await;
    assert_eq!(none, [1, 1, 1, 2]);
}

#[tokio::test]
async fn when_refreshing_fails_the_cached_keys_serve_for_the_stale_period_and_then_not() {
    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await; // max-age=300
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock); // stale for 600 s
    let token = key.sign(&with(claims(), "exp", json!(START + 86_400)));
    assert!(verifier.verify(&token).await.is_ok());

    server.set_status(500);
    clock.advance(300);
    assert!(
        verifier.verify(&token).await.is_ok(),
        "expired, refresh failed, still served"
    );
    assert_eq!(server.fetches(), 2);
    clock.advance(569); // 869 s after the fetch, 31 s after the last attempt
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 3);
    clock.advance(31); // 300 s of max-age plus 600 s of stale use are over
    let unavailable = verifier.verify(&token).await;
    assert_eq!(server.fetches(), 4);

    assert!(matches!(
        unavailable,
        Err(VerifyError::KeysUnavailable(FetchError::Status(500)))
    ));
    assert_eq!(unavailable.unwrap_err().status(), 503);
}

#[tokio::test]
async fn without_any_keys_a_failed_fetch_is_retried_only_after_30_seconds() {
    let key = es256("k");
    let server = FakeJwks::publishing(&[&key]).await;
    server.set_status(503);
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    let token = key.sign(&claims());

    let first = verifier.verify(&token).await;
    assert!(matches!(
        first,
        Err(VerifyError::KeysUnavailable(FetchError::Status(503)))
    ));
    clock.advance(29);
    let second = verifier.verify(&token).await;
    assert!(matches!(
        second,
        Err(VerifyError::KeysUnavailable(FetchError::RetryLater(_)))
    ));
    assert_eq!(server.fetches(), 1);

    server.publish(&[&key]);
    clock.advance(1);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_refresh_hangs_known_keys_are_served_from_the_expired_set_without_waiting() {
    let key = eddsa("k");
    let server = FakeJwks::publishing(&[&key]).await;
    let clock = ManualClock::new();
    let verifier = server
        .verifier_builder(&clock)
        .fetch_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let token = key.sign(&with(claims(), "exp", json!(START + 86_400)));
    assert!(verifier.verify(&token).await.is_ok());

    server.set_hang(true);
    clock.advance(300);
    let refreshing = tokio::spawn({
        let (verifier, token) = (verifier.clone(), token.clone());
        async move { verifier.verify(&token).await }
    });
    let deadline = std::time::Instant::now() + QUICKLY;
    while server.fetches() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refresh never started"
        );
        tokio::task::yield_now().await;
    }
    let started = std::time::Instant::now();
    assert!(verifier.verify(&token).await.is_ok());

    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "it waited for the refresh"
    );
    assert!(!refreshing.is_finished(), "the refresh was still in flight");
    assert!(
        refreshing.await.unwrap().is_ok(),
        "the refresh times out onto the stale set"
    );
}
