//! Which tokens are accepted and which are refused, and why.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::Duration;
use zeropass_verify::{BuildError, Refusal, Verifier, VerifyError};

use crate::support::{FakeJwks, ISSUER, ManualClock, START, claims, eddsa, es256, with};

/// Verifies `token` against a server publishing an ES256 and an EdDSA key.
async fn refusal_of(token: impl FnOnce(&crate::support::SigningKey) -> String) -> Refusal {
    let key = es256("es-1");
    let server = FakeJwks::publishing(&[&key, &eddsa("ed-1")]).await;
    let verifier = server.verifier(&ManualClock::new());
    match verifier.verify(&token(&key)).await {
        Err(VerifyError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_es256_and_eddsa_tokens_are_accepted_with_their_claims() {
    let (es, ed) = (es256("es-1"), eddsa("ed-1"));
    let server = FakeJwks::publishing(&[&es, &ed]).await;
    let verifier = server.verifier(&ManualClock::new());

    for key in [&es, &ed] {
        let claims = verifier.verify(&key.sign(&claims())).await.unwrap();
        assert_eq!(
            claims.sub.to_string(),
            "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90"
        );
        assert_eq!(claims.email, "ada@example.com");
        assert_eq!(claims.provider, "google");
        assert_eq!(claims.exp, i64::try_from(START).unwrap() + 900);
        assert_eq!(
            claims.jti.to_string(),
            "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
        );
    }
    assert_eq!(server.fetches(), 1, "both keys come from one fetch");
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let refusal = refusal_of(|key| {
        let token = key.sign(&claims());
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[5] ^= 0x01;
        format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
    })
    .await;
    assert_eq!(refusal, Refusal::BadSignature);
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let refusal = refusal_of(|key| {
        let token = key.sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = with(
            claims(),
            "sub",
            json!("11111111-2222-4333-8444-555555555555"),
        );
        let payload = URL_SAFE_NO_PAD.encode(forged.to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    })
    .await;
    assert_eq!(refusal, Refusal::BadSignature);
}

#[tokio::test]
async fn another_issuer_or_audience_is_refused() {
    let wrong_issuer =
        refusal_of(|key| key.sign(&with(claims(), "iss", json!("https://evil.example")))).await;
    assert_eq!(wrong_issuer, Refusal::WrongIssuer);
    let wrong_audience =
        refusal_of(|key| key.sign(&with(claims(), "aud", json!("another-app")))).await;
    assert_eq!(wrong_audience, Refusal::WrongAudience);
}

#[tokio::test]
async fn a_token_expired_beyond_the_leeway_is_refused_and_within_it_accepted() {
    let key = eddsa("ed-1");
    let server = FakeJwks::publishing(&[&key]).await;
    let clock = ManualClock::new();
    let verifier = server.verifier(&clock);
    let token = key.sign(&claims()); // exp = START + 900

    clock.advance(900 + 30);
    assert!(verifier.verify(&token).await.is_ok(), "30 s of leeway");
    clock.advance(1);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(VerifyError::Refused(Refusal::Expired))
    ));
}

#[tokio::test]
async fn a_not_before_beyond_the_leeway_is_refused() {
    let refusal = refusal_of(|key| key.sign(&with(claims(), "nbf", json!(START + 31)))).await;
    assert_eq!(refusal, Refusal::NotYetValid);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let refusal = refusal_of(|key| {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": key.kid}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        format!("{header}.{payload}.")
    })
    .await;
    assert_eq!(refusal, Refusal::Malformed);
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let refusal = refusal_of(|key| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&key.public)).unwrap()
    })
    .await;
    assert_eq!(refusal, Refusal::AlgorithmNotAllowed);
}

#[tokio::test]
async fn an_hs256_token_is_refused_even_when_the_set_publishes_an_hmac_key_for_it() {
    let secret = b"published-by-mistake";
    let key = es256("es-1");
    let server = FakeJwks::publishing(&[&key]).await;
    server.set_body(
        json!({ "keys": [
            key.jwk,
            { "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret), "kid": "hmac", "alg": "HS256" },
        ]})
        .to_string(),
    );
    let verifier = server.verifier(&ManualClock::new());
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac".to_owned());
    let token =
        jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret)).unwrap();

    assert!(matches!(
        verifier.verify(&token).await,
        Err(VerifyError::Refused(Refusal::AlgorithmNotAllowed))
    ));
}

#[tokio::test]
async fn a_token_whose_alg_differs_from_its_keys_published_alg_is_refused() {
    // An EdDSA token claiming the kid of the ES256 key.
    let refusal = refusal_of(|_| {
        let mut impostor = eddsa("ed-2");
        impostor.kid = "es-1".to_owned();
        impostor.sign(&claims())
    })
    .await;
    assert_eq!(refusal, Refusal::AlgorithmMismatch);
}

#[tokio::test]
async fn a_token_without_a_kid_or_with_an_unknown_one_is_refused() {
    let missing = refusal_of(|key| key.sign_without_kid(&claims())).await;
    assert_eq!(missing, Refusal::MissingKeyId);
    let unknown = refusal_of(|_| es256("nobody-published-me").sign(&claims())).await;
    assert_eq!(unknown, Refusal::UnknownKey);
}

#[tokio::test]
async fn a_header_with_critical_extensions_is_refused() {
    let refusal = refusal_of(|key| key.sign_with_crit(&claims())).await;
    assert_eq!(refusal, Refusal::CriticalHeader);
}

#[tokio::test]
async fn a_subject_that_is_not_a_user_id_is_refused() {
    let refusal = refusal_of(|key| key.sign(&with(claims(), "sub", json!("admin")))).await;
    assert_eq!(refusal, Refusal::InvalidSubject);
}

#[tokio::test]
async fn a_claim_of_the_wrong_type_is_refused() {
    let refusal = refusal_of(|key| key.sign(&with(claims(), "exp", json!("tomorrow")))).await;
    assert_eq!(refusal, Refusal::MalformedClaims);
}

#[tokio::test]
async fn another_audience_can_be_configured() {
    let key = es256("es-1");
    let server = FakeJwks::publishing(&[&key]).await;
    let verifier = server
        .verifier_builder(&ManualClock::new())
        .audience("billing")
        .build()
        .unwrap();
    let token = key.sign(&with(claims(), "aud", json!("billing")));
    assert!(verifier.verify(&token).await.is_ok());
    let default = key.sign(&claims());
    assert!(matches!(
        verifier.verify(&default).await,
        Err(VerifyError::Refused(Refusal::WrongAudience))
    ));
}

#[test]
fn the_leeway_cannot_exceed_thirty_seconds_and_keys_need_https() {
    let too_long = Verifier::builder(ISSUER)
        .leeway(Duration::from_secs(31))
        .build();
    assert!(matches!(too_long, Err(BuildError::LeewayTooLong)));
    let plain = Verifier::new("http://auth.example.test");
    assert!(matches!(plain, Err(BuildError::InsecureJwksUrl(_))));
    assert!(Verifier::new("http://127.0.0.1:8080").is_ok());
    assert!(Verifier::new("not a url").is_err());
}

#[test]
fn a_trailing_slash_on_the_issuer_is_dropped_as_zeropass_drops_it() {
    let verifier = Verifier::new("https://auth.example.test/").unwrap();
    assert_eq!(verifier.issuer(), ISSUER);
}
