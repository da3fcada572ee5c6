//! Issuing, verifying, installing and publishing with ES256 and EdDSA keys made by
//! `RingKeyGenerator`, rings built by hand. Forged tokens are correct in every respect but the
//! one under test (signed by a published key, fresh `exp`, our `iss` and `aud`), so a test
//! fails exactly when that one check is missing; `a_forged_token_with_nothing_wrong_is_accepted`
//! proves the forging helper itself makes acceptable tokens.

use super::*;
use crate::test_support::{
    CONTRACT_CLAIMS, ISSUER, KEY, TTL, USER_ID, b64, claim_names, claims_of, decode_json, now,
    segments_of, user_of, verified_claims,
};
use crate::{AUDIENCE, JwtAccessTokens, JwtConfig, LEEWAY_SECONDS, RingKeyGenerator};
use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use zeropass_domain::{KeyState, KeyStatus, Provider, SealedPrivateKey, SigningKeyGenerator};

const OTHER_KEY: &str = "another instance's key, also 32+ bytes";
const BOTH: [SigningAlgorithm; 2] = [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa];

// ---- set-up ----

fn secret(key: &str) -> JwtSecret {
    JwtSecret::new(key).unwrap()
}

fn config(algorithm: SigningAlgorithm) -> KeyRingConfig {
    KeyRingConfig {
        algorithm,
        issuer: ISSUER.to_owned(),
        ttl: Duration::from_secs(TTL),
    }
}

fn adapter(algorithm: SigningAlgorithm) -> KeyRingAccessTokens {
    KeyRingAccessTokens::new(&secret(KEY), config(algorithm))
}

/// A fresh key of `algorithm`, sealed under `secret_key`.
fn key_sealed_with(secret_key: &str, algorithm: SigningAlgorithm) -> StoredSigningKey {
    let kid = KeyId::random().unwrap();
    let generated = RingKeyGenerator::new(&secret(secret_key))
        .generate(algorithm, &kid)
        .unwrap();
    let created_at = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
    StoredSigningKey {
        kid,
        algorithm,
        generation: 1,
        public_key: generated.public_key,
        sealed_private_key: generated.sealed_private_key,
        created_at,
        activates_at: created_at,
        revoked_at: None,
    }
}

fn new_key(algorithm: SigningAlgorithm) -> StoredSigningKey {
    key_sealed_with(KEY, algorithm)
}

fn status(key: &StoredSigningKey, state: KeyState) -> KeyStatus {
    KeyStatus {
        key: key.clone(),
        state,
        expires_at: None,
        published: true,
    }
}

/// A ring where `current` signs and every key of `others` is published without signing.
fn ring(current: &StoredSigningKey, others: &[&StoredSigningKey]) -> KeyRing {
    let mut keys = vec![status(current, KeyState::Current)];
    keys.extend(others.iter().map(|key| status(key, KeyState::Retired)));
    KeyRing { keys }
}

/// An adapter of `algorithm` with one fresh key installed, and that key.
fn installed(algorithm: SigningAlgorithm) -> (KeyRingAccessTokens, StoredSigningKey) {
    let tokens = adapter(algorithm);
    let key = new_key(algorithm);
    tokens.install(&ring(&key, &[])).unwrap();
    (tokens, key)
}

/// The key ring tests issue to a Google user (the HS256 ones to a Facebook one).
fn user() -> User {
    user_of(Provider::Google)
}

/// Claims exactly as `issue` writes them for [`user`], valid from now for `TTL`.
fn good_claims() -> Value {
    claims_of(Provider::Google)
}

/// The header we issue for `key`, as JSON text.
fn header_of(key: &StoredSigningKey) -> String {
    format!(
        r#"{{"alg":"{}","typ":"JWT","kid":"{}"}}"#,
        key.algorithm, key.kid
    )
}

/// A token of this header and these claims, correctly signed by `key` (sealed under `KEY`).
fn forge(key: &StoredSigningKey, header_json: &str, claims: &Value) -> String {
    forge_as(KEY, key, header_json, claims)
}

/// [`forge`] with a key sealed under `secret_key`: an attacker's own key pair, whose private
/// half they hold but which `KEY` does not open.
fn forge_as(secret_key: &str, key: &StoredSigningKey, header_json: &str, claims: &Value) -> String {
    let random = SystemRandom::new();
    let opened = Sealer::new(&secret(secret_key))
        .open(key.algorithm, &key.kid, &key.sealed_private_key)
        .unwrap();
    let pair = SigningKeyPair::from_pkcs8(key.algorithm, opened.pkcs8(), &random).unwrap();
    let signed = format!("{}.{}", b64(header_json), b64(claims.to_string()));
    let signature = pair.sign(signed.as_bytes(), &random).unwrap();
    format!("{signed}.{}", b64(signature))
}

/// Verifies, expects `Invalid`, checks that the reason does not quote the token, and returns
/// the reason.
#[track_caller]
fn rejected(tokens: &KeyRingAccessTokens, token: &str) -> String {
    match tokens.verify(token) {
        Err(TokenRejection::Invalid(reason)) => {
            assert!(token.is_empty() || !reason.contains(token), "{reason}");
            reason
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// The JWK of a published key, as an independent verifier (jsonwebtoken's RustCrypto backend)
/// reads it.
fn decoding_key(jwk: &PublicJwk) -> DecodingKey {
    match jwk.kty {
        "EC" => DecodingKey::from_ec_components(&jwk.x, jwk.y.as_deref().unwrap()).unwrap(),
        _ => DecodingKey::from_ed_components(&jwk.x).unwrap(),
    }
}

fn jsonwebtoken_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::Es256 => Algorithm::ES256,
        SigningAlgorithm::EdDsa => Algorithm::EdDSA,
    }
}

/// The kids of the JWKS, in order.
fn published_kids(tokens: &KeyRingAccessTokens) -> Vec<String> {
    tokens
        .published_keys()
        .into_iter()
        .map(|jwk| jwk.kid)
        .collect()
}

fn kids(keys: &[&StoredSigningKey]) -> Vec<String> {
    keys.iter().map(|key| key.kid.to_string()).collect()
}

/// `key` with its sealed private key replaced by bytes that open under no secret.
fn with_junk_sealed_key(key: &StoredSigningKey) -> StoredSigningKey {
    StoredSigningKey {
        sealed_private_key: SealedPrivateKey(vec![7; 60]),
        ..key.clone()
    }
}

/// Collects formatted log lines for the tests of what `install` logs.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// The lines logged so far that contain `text`.
    fn lines_with(&self, text: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|line| line.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of the whole test binary from the first call on, at info and above. Global, not a
/// scoped `set_default`: tracing caches each call site's interest process-wide, so a scoped
/// subscriber misses events whose call sites other tests' threads reached first.
fn captured_logs() -> &'static LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .without_time()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

fn other_algorithm(algorithm: SigningAlgorithm) -> SigningAlgorithm {
    match algorithm {
        SigningAlgorithm::Es256 => SigningAlgorithm::EdDsa,
        SigningAlgorithm::EdDsa => SigningAlgorithm::Es256,
    }
}

// ---- issuing and round trips ----

#[track_caller]
fn assert_round_trip(algorithm: SigningAlgorithm) {
    let (tokens, _) = installed(algorithm);
    let issued = tokens.issue(&user()).unwrap();

    let verified = tokens.verify(&issued.token).unwrap();

    assert_eq!(verified, verified_claims(&user(), &issued.token));
    assert_eq!(issued.expires_in, TTL);
}

#[test]
fn an_es256_token_round_trips_to_its_users_claims() {
    assert_round_trip(SigningAlgorithm::Es256);
}

#[test]
fn an_eddsa_token_round_trips_to_its_users_claims() {
    assert_round_trip(SigningAlgorithm::EdDsa);
}

#[test]
fn the_token_header_carries_the_kid_and_the_configured_alg_and_the_claims_are_hs256s() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let before = now();
        let issued = tokens.issue(&user()).unwrap();
        let [header, payload, signature] = segments_of(&issued.token);

        assert_eq!(
            decode_json(header),
            json!({"alg": algorithm.as_str(), "typ": "JWT", "kid": key.kid.as_str()})
        );
        let claims = decode_json(payload);
        assert_eq!(claim_names(&claims), BTreeSet::from(CONTRACT_CLAIMS));
        assert_eq!(claims["iss"], json!(ISSUER));
        assert_eq!(claims["aud"], json!("zeropass"));
        assert!(claims["iat"].as_i64().unwrap() >= before);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap().len(), 64);
    }
}

#[test]
fn an_issued_token_verifies_with_an_independent_verifier_reading_the_jwks() {
    let _already_installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let issued = tokens.issue(&user()).unwrap();
        let [jwk] = tokens.published_keys().try_into().unwrap();
        let mut validation = Validation::new(jsonwebtoken_algorithm(algorithm));
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);

        let decoded =
            jsonwebtoken::decode::<Value>(&issued.token, &decoding_key(&jwk), &validation).unwrap();

        assert_eq!(decoded.claims["sub"], json!(USER_ID));
        assert_eq!(decoded.header.kid.as_deref(), Some(jwk.kid.as_str()));
    }
}

#[test]
fn nothing_is_issued_or_accepted_before_a_ring_is_installed() {
    for algorithm in BOTH {
        let (signed_elsewhere, _) = installed(algorithm);
        let token = signed_elsewhere.issue(&user()).unwrap().token;
        let tokens = adapter(algorithm);
        assert!(tokens.issue(&user()).is_err());
        assert_eq!(rejected(&tokens, &token), "unknown key id");
        assert!(tokens.published_keys().is_empty());
    }
}

#[test]
fn a_lifetime_too_long_for_a_timestamp_fails_to_issue_instead_of_wrapping() {
    let tokens = KeyRingAccessTokens::new(
        &secret(KEY),
        KeyRingConfig {
            ttl: Duration::from_secs(u64::MAX),
            ..config(SigningAlgorithm::EdDsa)
        },
    );
    tokens
        .install(&ring(&new_key(SigningAlgorithm::EdDsa), &[]))
        .unwrap();
    assert!(tokens.issue(&user()).is_err());
}

// ---- the header and the algorithm ----

#[test]
fn a_forged_token_with_nothing_wrong_is_accepted() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let claims = good_claims();
        for header in [
            header_of(&key),
            format!(r#"{{"kid":"{}","alg":"{algorithm}"}}"#, key.kid),
        ] {
            let verified = tokens.verify(&forge(&key, &header, &claims)).unwrap();
            assert_eq!(verified.token_id, claims["jti"].as_str().unwrap());
        }
    }
}

#[test]
fn an_hs256_token_is_refused_whatever_key_signed_it_even_the_published_public_key() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let [jwk] = tokens.published_keys().try_into().unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.to_string());
        let hmac_keys: [&[u8]; 4] = [
            &key.public_key,
            jwk.x.as_bytes(),
            KEY.as_bytes(),
            &key.sealed_private_key.0,
        ];
        for hmac_key in hmac_keys {
            let token =
                jsonwebtoken::encode(&header, &good_claims(), &EncodingKey::from_secret(hmac_key))
                    .unwrap();
            assert_eq!(rejected(&tokens, &token), "algorithm not allowed");
        }
    }
}

#[test]
fn a_key_ring_token_is_refused_by_the_hs256_adapter_sharing_its_secret() {
    let hs256 = JwtAccessTokens::new(JwtConfig {
        secret: secret(KEY),
        issuer: ISSUER.to_owned(),
        ttl: Duration::from_secs(TTL),
    });
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let token = tokens.issue(&user()).unwrap().token;
        assert_eq!(
            hs256.verify(&token),
            Err(TokenRejection::Invalid("algorithm not allowed".to_owned()))
        );
    }
}

#[test]
fn alg_none_is_refused_with_or_without_a_signature() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        for alg in ["none", "None", "NONE"] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#, key.kid);
            let unsigned = format!("{}.{}.", b64(&header), b64(good_claims().to_string()));
            assert_eq!(rejected(&tokens, &unsigned), "algorithm not allowed");
            let signed = forge(&key, &header, &good_claims());
            assert_eq!(rejected(&tokens, &signed), "algorithm not allowed");
        }
    }
}

#[test]
fn a_token_of_the_other_asymmetric_algorithm_is_refused_even_from_a_key_in_the_ring() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let current = new_key(algorithm);
        let other = new_key(other_algorithm(algorithm));
        tokens.install(&ring(&current, &[&other])).unwrap();

        let token = forge(&other, &header_of(&other), &good_claims());
        assert_eq!(rejected(&tokens, &token), "algorithm not allowed");
        // Nor does naming a key of ours under the other algorithm help.
        let header = format!(
            r#"{{"alg":"{}","typ":"JWT","kid":"{}"}}"#,
            other.algorithm, current.kid
        );
        let token = forge(&other, &header, &good_claims());
        assert_eq!(rejected(&tokens, &token), "algorithm not allowed");
        // The other algorithm's key is not published either.
        let kids: Vec<String> = tokens.published_keys().into_iter().map(|j| j.kid).collect();
        assert_eq!(kids, [current.kid.to_string()]);
    }
}

#[test]
fn a_token_naming_an_unknown_kid_is_refused() {
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let stranger = new_key(algorithm);
        let token = forge(&stranger, &header_of(&stranger), &good_claims());
        assert_eq!(rejected(&tokens, &token), "unknown key id");
    }
}

#[test]
fn a_token_without_a_kid_is_refused_even_when_correctly_signed() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let header = format!(r#"{{"alg":"{algorithm}","typ":"JWT"}}"#);
        let token = forge(&key, &header, &good_claims());
        assert_eq!(rejected(&tokens, &token), "no key id");
    }
}

#[test]
fn a_header_with_a_critical_extension_or_a_mistyped_kid_is_refused() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let crit = format!(
            r#"{{"alg":"{algorithm}","kid":"{}","crit":["exp"]}}"#,
            key.kid
        );
        let token = forge(&key, &crit, &good_claims());
        assert_eq!(rejected(&tokens, &token), "critical header extension");
        let numeric_kid = format!(r#"{{"alg":"{algorithm}","kid":7}}"#);
        rejected(&tokens, &forge(&key, &numeric_kid, &good_claims()));
    }
}

// ---- the signature ----

#[test]
fn a_token_with_a_tampered_payload_is_refused() {
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let issued = tokens.issue(&user()).unwrap();
        let [header, payload, signature] = segments_of(&issued.token);
        let mut claims = decode_json(payload);
        claims["sub"] = json!("fedcba98-7654-4321-8123-456789abcdef");
        let tampered = format!("{header}.{}.{signature}", b64(claims.to_string()));
        assert_eq!(rejected(&tokens, &tampered), "bad signature");
    }
}

#[test]
fn a_token_with_a_tampered_or_truncated_signature_is_refused() {
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let issued = tokens.issue(&user()).unwrap();
        let [header, payload, signature] = segments_of(&issued.token);
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[10] ^= 1;
        let tampered = format!("{header}.{payload}.{}", b64(&bytes));
        assert_eq!(rejected(&tokens, &tampered), "bad signature");
        let truncated = format!("{header}.{payload}.{}", b64(&bytes[..63]));
        assert_eq!(rejected(&tokens, &truncated), "bad signature");
        let empty = format!("{header}.{payload}.");
        assert_eq!(rejected(&tokens, &empty), "bad signature");
    }
}

#[test]
fn a_token_signed_by_a_published_key_that_does_not_sign_yet_is_accepted() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let current = new_key(algorithm);
        let next = new_key(algorithm);
        tokens
            .install(&KeyRing {
                keys: vec![
                    status(&current, KeyState::Current),
                    status(&next, KeyState::Next),
                ],
            })
            .unwrap();
        assert!(
            tokens
                .verify(&forge(&next, &header_of(&next), &good_claims()))
                .is_ok()
        );
        let issued_header = segments_of(&tokens.issue(&user()).unwrap().token)[0].to_owned();
        assert_eq!(
            decode_json(&issued_header)["kid"],
            json!(current.kid.as_str())
        );
    }
}

#[test]
fn changing_any_single_character_of_an_issued_and_cached_token_is_refused() {
    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        .chars()
        .collect();
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let token = tokens.issue(&user()).unwrap().token;
        tokens.verify(&token).unwrap();
        for (index, original) in token.char_indices() {
            // Two replacements per position (every position, not every replacement: each
            // refusal of a payload change costs a signature check).
            let start = alphabet.iter().position(|&c| c == original).unwrap_or(0);
            for step in [1, 33] {
                let replacement = alphabet[(start + step) % alphabet.len()];
                let mut mutated = token.clone();
                mutated.replace_range(index..=index, replacement.encode_utf8(&mut [0; 4]));
                assert!(
                    tokens.verify(&mutated).is_err(),
                    "{algorithm}: character {index} changed to {replacement:?} was accepted"
                );
            }
        }
        assert_eq!(tokens.verified.len(), 1);
    }
}

// ---- the claims: the same rules as HS256 ----

#[test]
fn the_claim_rules_are_the_hs256_ones() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let with = |claim: &str, value: Value| {
            let mut claims = good_claims();
            claims[claim] = value;
            forge(&key, &header_of(&key), &claims)
        };
        assert_eq!(
            rejected(&tokens, &with("iss", json!("https://evil.example"))),
            "wrong issuer"
        );
        assert_eq!(
            rejected(&tokens, &with("aud", json!("another-service"))),
            "wrong audience"
        );
        assert_eq!(
            rejected(&tokens, &with("nbf", json!(now() + 600))),
            "not valid yet"
        );
        assert_eq!(
            rejected(&tokens, &with("sub", json!("not-a-uuid"))),
            "sub is not a user id"
        );
        rejected(&tokens, &with("aud", json!(["zeropass"])));
        rejected(&tokens, &with("exp", json!((now() + 60).to_string())));
        assert_eq!(
            tokens.verify(&with("exp", json!(now() - 86_400))),
            Err(TokenRejection::Expired)
        );
    }
}

// ---- the cache ----

#[test]
fn a_revoked_keys_token_is_refused_after_install_even_though_it_was_cached() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let old = new_key(algorithm);
        let new = new_key(algorithm);
        tokens.install(&ring(&old, &[])).unwrap();
        let token = tokens.issue(&user()).unwrap().token;
        tokens.verify(&token).unwrap();
        assert_eq!(tokens.verified.len(), 1);

        // Rotated: the old key is still published, so its tokens still pass.
        tokens.install(&ring(&new, &[&old])).unwrap();
        assert!(tokens.verify(&token).is_ok());

        // Revoked: gone from the ring, gone from memory.
        tokens.install(&ring(&new, &[])).unwrap();
        assert_eq!(tokens.verified.len(), 0);
        assert_eq!(rejected(&tokens, &token), "unknown key id");
    }
}

#[test]
fn a_cached_token_of_a_key_no_longer_installed_is_not_answered_from_memory() {
    // The race `install` cannot close alone: a verification that began before the revocation
    // enters its token after the cache was cleared.
    let tokens = adapter(SigningAlgorithm::EdDsa);
    let old = new_key(SigningAlgorithm::EdDsa);
    tokens.install(&ring(&old, &[])).unwrap();
    let token = tokens.issue(&user()).unwrap().token;
    let claims = tokens.verify(&token).unwrap();
    tokens
        .install(&ring(&new_key(SigningAlgorithm::EdDsa), &[]))
        .unwrap();
    tokens.verified.insert(
        VerifiedTokens::fingerprint(&token),
        claims,
        Arc::from(old.kid.as_str()),
    );
    assert_eq!(rejected(&tokens, &token), "unknown key id");
}

#[test]
fn an_expired_token_is_refused_even_when_cached() {
    for algorithm in BOTH {
        let (tokens, _) = installed(algorithm);
        let issued_at = now();
        let token = tokens.issue_at(&user(), issued_at).unwrap().token;
        let claims = tokens.verify_at(&token, issued_at).unwrap();
        assert_eq!(tokens.verified.len(), 1);

        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap();
        let last_second = claims.expires_at + leeway;
        assert_eq!(tokens.verify_at(&token, last_second), Ok(claims));
        assert_eq!(
            tokens.verify_at(&token, last_second + 1),
            Err(Rejection::Expired)
        );
        assert_eq!(tokens.verified.len(), 1, "the refusal came from the cache");
    }
}

#[test]
fn the_cache_never_grows_past_its_capacity() {
    let tokens =
        KeyRingAccessTokens::with_cache_capacity(&secret(KEY), config(SigningAlgorithm::Es256), 3);
    tokens
        .install(&ring(&new_key(SigningAlgorithm::Es256), &[]))
        .unwrap();
    let issued: Vec<String> = (0..10)
        .map(|_| tokens.issue(&user()).unwrap().token)
        .collect();
    for token in issued.iter().chain(&issued) {
        assert!(tokens.verify(token).is_ok());
        assert!(tokens.verified.len() <= 3, "{}", tokens.verified.len());
    }
    assert!(tokens.verified.len() > 0);
}

#[test]
fn a_refused_token_is_not_remembered() {
    let (tokens, key) = installed(SigningAlgorithm::Es256);
    let mut claims = good_claims();
    claims["iss"] = json!("https://evil.example");
    rejected(&tokens, &forge(&key, &header_of(&key), &claims));
    assert_eq!(tokens.verified.len(), 0);
}

// ---- installing ----

#[test]
fn unsealing_with_another_jwt_secret_fails_with_cannot_unseal() {
    for algorithm in BOTH {
        let foreign = key_sealed_with(OTHER_KEY, algorithm);
        let refused = adapter(algorithm)
            .install(&ring(&foreign, &[]))
            .unwrap_err();
        assert!(
            matches!(&refused, InstallKeysError::CannotUnseal { kid } if *kid == foreign.kid),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "JWT_SECRET does not open stored signing key {}",
                foreign.kid
            )
        );
    }
}

#[test]
fn a_sealed_key_copied_to_another_kid_does_not_open() {
    for algorithm in BOTH {
        let original = new_key(algorithm);
        let copy = StoredSigningKey {
            kid: KeyId::random().unwrap(),
            ..original.clone()
        };
        let refused = adapter(algorithm).install(&ring(&copy, &[])).unwrap_err();
        assert!(
            matches!(&refused, InstallKeysError::CannotUnseal { kid } if *kid == copy.kid),
            "{refused:?}"
        );
        assert!(adapter(algorithm).install(&ring(&original, &[])).is_ok());
    }
}

#[test]
fn a_ring_without_a_current_key_of_the_configured_algorithm_has_no_signing_key() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let next_only = KeyRing {
            keys: vec![status(&new_key(algorithm), KeyState::Next)],
        };
        assert!(matches!(
            tokens.install(&next_only),
            Err(InstallKeysError::NoSigningKey)
        ));
        let other = ring(&new_key(other_algorithm(algorithm)), &[]);
        assert!(matches!(
            tokens.install(&other),
            Err(InstallKeysError::NoSigningKey)
        ));
        assert!(matches!(
            tokens.install(&KeyRing::default()),
            Err(InstallKeysError::NoSigningKey)
        ));
    }
}

#[test]
fn a_current_key_whose_public_half_is_another_keys_fails_with_malformed_key() {
    for algorithm in BOTH {
        let current = new_key(algorithm);
        let mismatched = StoredSigningKey {
            public_key: new_key(algorithm).public_key,
            ..current.clone()
        };
        let tokens = adapter(algorithm);
        let refused = tokens.install(&ring(&mismatched, &[])).unwrap_err();
        assert!(
            matches!(&refused, InstallKeysError::MalformedKey { kid } if *kid == current.kid),
            "{refused:?}"
        );
        assert!(tokens.issue(&user()).is_err());
        assert!(tokens.published_keys().is_empty());
    }
}

#[test]
fn a_malformed_published_key_is_skipped_and_the_rest_of_the_ring_installed() {
    for algorithm in BOTH {
        let current = new_key(algorithm);
        let good = new_key(algorithm);
        let mut short = new_key(algorithm);
        short.public_key.pop();
        let mut not_a_point = new_key(algorithm);
        not_a_point.public_key[0] ^= 0xff;
        let tokens = adapter(algorithm);

        assert!(
            tokens
                .install(&ring(&current, &[&short, &good, &not_a_point]))
                .is_ok()
        );

        assert_eq!(published_kids(&tokens), kids(&[&current, &good]));
        assert!(tokens.issue(&user()).is_ok());
        assert!(
            tokens
                .verify(&forge(&good, &header_of(&good), &good_claims()))
                .is_ok()
        );
    }
}

// The reviewer's proofs of concept, which must no longer forge.

#[test]
fn a_ring_with_a_malformed_row_still_unpublishes_a_revoked_key_and_forgets_its_tokens() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let current = new_key(algorithm);
        let compromised = new_key(algorithm);
        tokens.install(&ring(&current, &[&compromised])).unwrap();
        let stolen = forge(&compromised, &header_of(&compromised), &good_claims());
        tokens.verify(&stolen).unwrap();
        let issued = tokens.issue(&user()).unwrap().token;
        tokens.verify(&issued).unwrap();
        let mut malformed = new_key(algorithm);
        malformed.public_key.pop();

        // The compromised key revoked, in the same refresh as a malformed row appears.
        assert!(tokens.install(&ring(&current, &[&malformed])).is_ok());

        assert_eq!(tokens.verified.len(), 0, "the cache was emptied");
        assert_eq!(rejected(&tokens, &stolen), "unknown key id");
        assert!(tokens.verify(&issued).is_ok());
        assert!(tokens.verify(&tokens.issue(&user()).unwrap().token).is_ok());
        assert_eq!(published_kids(&tokens), kids(&[&current]));
    }
}

#[test]
fn a_row_planted_without_jwt_secret_is_not_trusted() {
    for algorithm in BOTH {
        let tokens = adapter(algorithm);
        let current = new_key(algorithm);
        // The attacker's own key pair: they hold its private half, but not `KEY`.
        let attackers = key_sealed_with(OTHER_KEY, algorithm);
        let token = forge_as(
            OTHER_KEY,
            &attackers,
            &header_of(&attackers),
            &good_claims(),
        );

        for planted in [attackers.clone(), with_junk_sealed_key(&attackers)] {
            assert!(tokens.install(&ring(&current, &[&planted])).is_ok());

            assert_eq!(rejected(&tokens, &token), "unknown key id");
            assert_eq!(published_kids(&tokens), kids(&[&current]));
        }
    }
}

#[test]
fn a_row_whose_public_key_was_swapped_for_another_genuine_keys_is_refused() {
    for algorithm in BOTH {
        let current = new_key(algorithm);
        let published = new_key(algorithm);
        // A genuine key revoked after its private half leaked, and the signing key itself.
        let leaked = new_key(algorithm);
        for donor in [&leaked, &current] {
            let swapped = StoredSigningKey {
                public_key: donor.public_key.clone(),
                ..published.clone()
            };
            let forged = forge(donor, &header_of(&published), &good_claims());

            // A row new to this instance.
            let tokens = adapter(algorithm);
            assert!(tokens.install(&ring(&current, &[&swapped])).is_ok());
            assert_eq!(rejected(&tokens, &forged), "unknown key id");
            assert_eq!(published_kids(&tokens), kids(&[&current]));

            // A row this instance had verified, swapped since.
            let tokens = adapter(algorithm);
            tokens.install(&ring(&current, &[&published])).unwrap();
            let genuine = forge(&published, &header_of(&published), &good_claims());
            tokens.verify(&genuine).unwrap();
            assert!(tokens.install(&ring(&current, &[&swapped])).is_ok());
            assert_eq!(tokens.verified.len(), 0, "the cache was emptied");
            assert_eq!(rejected(&tokens, &forged), "unknown key id");
            assert_eq!(rejected(&tokens, &genuine), "unknown key id");
            assert_eq!(published_kids(&tokens), kids(&[&current]));
        }
    }
}

#[test]
fn a_failed_install_still_applies_the_ring_and_signs_with_no_key_that_left_it() {
    for algorithm in BOTH {
        let (tokens, old) = installed(algorithm);
        let old_token = tokens.issue(&user()).unwrap().token;
        tokens.verify(&old_token).unwrap();
        let unopenable = key_sealed_with(OTHER_KEY, algorithm);
        let next = new_key(algorithm);
        let failing = KeyRing {
            keys: vec![
                status(&unopenable, KeyState::Current),
                status(&next, KeyState::Next),
            ],
        };

        let refused = tokens.install(&failing).unwrap_err();

        assert!(
            matches!(&refused, InstallKeysError::CannotUnseal { kid } if *kid == unopenable.kid),
            "{refused:?}"
        );
        assert!(tokens.issue(&user()).is_err(), "{} left the ring", old.kid);
        assert_eq!(tokens.verified.len(), 0, "the cache was emptied");
        assert_eq!(rejected(&tokens, &old_token), "unknown key id");
        assert!(
            tokens
                .verify(&forge(&next, &header_of(&next), &good_claims()))
                .is_ok()
        );
        assert_eq!(published_kids(&tokens), kids(&[&next]));

        // Again: the same answer. Then a ring whose current key opens signs again.
        assert!(matches!(
            tokens.install(&failing),
            Err(InstallKeysError::CannotUnseal { .. })
        ));
        assert!(tokens.issue(&user()).is_err());
        tokens.install(&ring(&next, &[])).unwrap();
        let issued = tokens.issue(&user()).unwrap().token;
        assert_eq!(
            decode_json(segments_of(&issued)[0])["kid"],
            json!(next.kid.as_str())
        );
    }
}

#[test]
fn a_previous_signer_still_published_but_no_longer_current_does_not_sign() {
    for algorithm in BOTH {
        let (tokens, old) = installed(algorithm);
        let old_token = tokens.issue(&user()).unwrap().token;
        let unopenable = with_junk_sealed_key(&new_key(algorithm));

        assert!(tokens.install(&ring(&unopenable, &[&old])).is_err());
        assert!(tokens.issue(&user()).is_err());
        assert!(tokens.verify(&old_token).is_ok());
        assert_eq!(published_kids(&tokens), kids(&[&old]));

        // No current key at all (the configured algorithm's keys all retired): no signer either.
        let (tokens, old) = installed(algorithm);
        let retired_only = KeyRing {
            keys: vec![status(&old, KeyState::Retired)],
        };
        assert!(matches!(
            tokens.install(&retired_only),
            Err(InstallKeysError::NoSigningKey)
        ));
        assert!(tokens.issue(&user()).is_err());
        assert_eq!(published_kids(&tokens), kids(&[&old]));
    }
}

#[test]
fn a_previous_signer_still_current_keeps_signing_whatever_else_is_refused() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        let planted = key_sealed_with(OTHER_KEY, algorithm);
        // Its own row damaged since: what was verified once is not unsealed again.
        let damaged = with_junk_sealed_key(&key);

        assert!(tokens.install(&ring(&damaged, &[&planted])).is_ok());

        let issued = tokens.issue(&user()).unwrap().token;
        assert_eq!(
            decode_json(segments_of(&issued)[0])["kid"],
            json!(key.kid.as_str())
        );
        assert_eq!(published_kids(&tokens), kids(&[&key]));
    }
}

#[test]
fn only_keys_new_to_the_instance_are_unsealed_to_check_them() {
    let algorithm = SigningAlgorithm::EdDsa;
    let current = new_key(algorithm);
    let next = new_key(algorithm);
    let newcomer = new_key(algorithm);
    let tokens = adapter(algorithm);
    tokens.install(&ring(&current, &[&next])).unwrap();
    // Same kid and public key, but a private key that no longer opens: only unsealing would
    // notice.
    let damaged_next = with_junk_sealed_key(&next);
    let later = ring(&current, &[&damaged_next, &newcomer]);

    tokens.install(&later).unwrap();
    assert_eq!(published_kids(&tokens), kids(&[&current, &next, &newcomer]));

    // An instance meeting the damaged row for the first time does check it.
    let fresh = adapter(algorithm);
    fresh.install(&later).unwrap();
    assert_eq!(published_kids(&fresh), kids(&[&current, &newcomer]));
}

#[test]
fn a_skipped_key_is_logged_once_at_warn_by_its_kid_without_key_bytes() {
    let logs = captured_logs();
    let algorithm = SigningAlgorithm::Es256;
    let current = new_key(algorithm);
    let planted = key_sealed_with(OTHER_KEY, algorithm);
    let mut malformed = new_key(algorithm);
    malformed.public_key.pop();
    let tokens = adapter(algorithm);
    let with_both = ring(&current, &[&planted, &malformed]);

    tokens.install(&with_both).unwrap();
    tokens.install(&with_both).unwrap();

    for skipped in [&planted, &malformed] {
        let lines = logs.lines_with(skipped.kid.as_str());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("WARN"), "{lines:?}");
        assert_shows_none_of(&lines[0], &skipped.public_key);
        assert_shows_none_of(&lines[0], &skipped.sealed_private_key.0);
    }
    assert!(logs.lines_with(current.kid.as_str()).is_empty());
}

#[test]
fn installing_an_unchanged_ring_again_unseals_nothing() {
    let (tokens, key) = installed(SigningAlgorithm::EdDsa);
    // Same kids, but a private key that no longer opens: only unsealing would notice.
    let damaged = StoredSigningKey {
        sealed_private_key: SealedPrivateKey(vec![0; 60]),
        ..key.clone()
    };
    assert!(tokens.install(&ring(&damaged, &[])).is_ok());
    assert!(
        adapter(SigningAlgorithm::EdDsa)
            .install(&ring(&damaged, &[]))
            .is_err()
    );
    assert!(tokens.issue(&user()).is_ok());
}

// ---- the JWKS ----

#[test]
fn the_jwk_members_are_exactly_the_contracts_for_each_algorithm() {
    let (es256, es256_key) = installed(SigningAlgorithm::Es256);
    let [jwk] = es256.published_keys().try_into().unwrap();
    assert_eq!(
        (jwk.kid.as_str(), jwk.alg, jwk.kty, jwk.crv),
        (es256_key.kid.as_str(), "ES256", "EC", "P-256")
    );
    let y = jwk.y.unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&jwk.x).unwrap(),
        es256_key.public_key[1..33]
    );
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&y).unwrap(),
        es256_key.public_key[33..]
    );

    let (eddsa, eddsa_key) = installed(SigningAlgorithm::EdDsa);
    let [jwk] = eddsa.published_keys().try_into().unwrap();
    assert_eq!(
        (jwk.kid.as_str(), jwk.alg, jwk.kty, jwk.crv),
        (eddsa_key.kid.as_str(), "EdDSA", "OKP", "Ed25519")
    );
    assert_eq!(
        URL_SAFE_NO_PAD.decode(&jwk.x).unwrap(),
        eddsa_key.public_key
    );
    assert_eq!(jwk.y, None);
}

#[test]
fn the_jwks_lists_every_published_key_and_the_signing_one_and_nothing_else() {
    let tokens = adapter(SigningAlgorithm::Es256);
    let current = new_key(SigningAlgorithm::Es256);
    let retired = new_key(SigningAlgorithm::Es256);
    let unpublished = KeyStatus {
        published: false,
        ..status(&new_key(SigningAlgorithm::Es256), KeyState::Retired)
    };
    let mut ring = ring(&current, &[&retired]);
    ring.keys.push(unpublished);
    tokens.install(&ring).unwrap();
    let kids: BTreeSet<String> = tokens.published_keys().into_iter().map(|j| j.kid).collect();
    assert_eq!(
        kids,
        BTreeSet::from([current.kid.to_string(), retired.kid.to_string()])
    );
}

// ---- nothing secret in a Debug ----

/// Every way a Debug could spell these bytes: as a list (any 4 in a row), in hex, in base64.
#[track_caller]
fn assert_shows_none_of(printed: &str, bytes: &[u8]) {
    for window in bytes.windows(4) {
        let list = format!("{window:?}");
        assert!(
            !printed.contains(list.trim_matches(['[', ']'])),
            "{printed}"
        );
        let hex: String = window.iter().map(|byte| format!("{byte:02x}")).collect();
        assert!(!printed.contains(&hex), "{printed}");
    }
    for chunk in b64(bytes).as_bytes().chunks(8) {
        assert!(
            !printed.contains(std::str::from_utf8(chunk).unwrap()),
            "{printed}"
        );
    }
}

#[test]
fn the_debug_of_every_new_type_shows_no_key_bytes() {
    for algorithm in BOTH {
        let (tokens, key) = installed(algorithm);
        tokens
            .verify(&tokens.issue(&user()).unwrap().token)
            .unwrap();
        // A refused row (its sealed key copied to another kid) is remembered too.
        let copy = StoredSigningKey {
            kid: KeyId::random().unwrap(),
            ..key.clone()
        };
        tokens.install(&ring(&key, &[&copy])).unwrap();
        assert_eq!(tokens.snapshot().refused.len(), 1);
        let sealer = Sealer::new(&secret(KEY));
        let opened = sealer
            .open(key.algorithm, &key.kid, &key.sealed_private_key)
            .unwrap();
        let pair =
            SigningKeyPair::from_pkcs8(algorithm, opened.pkcs8(), &SystemRandom::new()).unwrap();
        let refused = adapter(algorithm)
            .install(&ring(&key_sealed_with(OTHER_KEY, algorithm), &[]))
            .unwrap_err();

        let printed = format!(
            "{tokens:?} {tokens:#?} {:?} {sealer:?} {opened:?} {pair:?} {refused:?} {:?} {:?}",
            RingKeyGenerator::new(&secret(KEY)),
            config(algorithm),
            tokens.snapshot(),
        );

        assert!(printed.contains(key.kid.as_str()), "{printed}");
        assert_shows_none_of(&printed, opened.pkcs8());
        assert_shows_none_of(&printed, &key.sealed_private_key.0);
        assert_shows_none_of(&printed, KEY.as_bytes());
        assert!(!printed.contains(USER_ID), "{printed}");
    }
}
