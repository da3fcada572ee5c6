//! Issuing and verifying, mostly against forged tokens. Each hostile token is correct in every
//! respect but the one under test (right key, fresh `exp`, our `iss` and `aud`), so a test
//! fails exactly when that one check is missing; `a_token_forged_with_nothing_wrong_is_accepted`
//! proves the forging helpers themselves produce acceptable tokens.

use super::*;
use crate::LEEWAY_SECONDS;
use crate::test_support::{
    CONTRACT_CLAIMS, ISSUER, KEY, TTL, USER_ID, assemble_segments, b64, claim_names, claims_of,
    decode_json, now, segments_of, user_of, verified_claims,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use zeropass_domain::Provider;

const OTHER_KEY: &str = "another service's key, also 32+ bytes";
const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn tokens_with_ttl(ttl: Duration) -> JwtAccessTokens {
    JwtAccessTokens::new(JwtConfig {
        secret: JwtSecret::new(KEY).unwrap(),
        issuer: ISSUER.to_owned(),
        ttl,
    })
}

fn tokens() -> JwtAccessTokens {
    tokens_with_ttl(Duration::from_secs(TTL))
}

/// The HS256 tests issue to a Facebook user (the key ring's to a Google one).
fn user() -> User {
    user_of(Provider::Facebook)
}

/// Claims exactly as `issue` writes them for [`user`], valid from now for `TTL`.
fn good_claims() -> Value {
    claims_of(Provider::Facebook)
}

fn with(claim: &str, value: Value) -> Value {
    let mut claims = good_claims();
    claims[claim] = value;
    claims
}

fn without(claim: &str) -> Value {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove(claim);
    claims
}

fn expiring_at(exp: i64) -> Value {
    let mut claims = with("exp", json!(exp));
    claims["iat"] = json!(exp - 3600);
    claims
}

/// A token made by jsonwebtoken itself from these claims, header and key.
fn encode_with(header: &Header, claims: &Value, key: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

/// A correctly signed HS256 token carrying these claims.
fn sign(claims: &Value) -> String {
    encode_with(&Header::new(Algorithm::HS256), claims, KEY)
}

/// Hand-assembles a correctly signed token from raw header and claims JSON.
fn assemble(header_json: &str, claims: &Value) -> String {
    assemble_segments(&b64(header_json), &b64(claims.to_string()))
}

/// Verifies, expects `Invalid`, checks that the reason quotes neither the token nor the key,
/// and returns the reason.
#[track_caller]
fn rejected(token: &str) -> String {
    match tokens().verify(token) {
        Err(TokenRejection::Invalid(reason)) => {
            assert!(token.is_empty() || !reason.contains(token), "{reason}");
            assert!(!reason.contains(KEY), "{reason}");
            reason
        }
        other => panic!("expected Invalid, got {other:?} for {token}"),
    }
}

#[track_caller]
fn assert_rejected_because(token: &str, expected_reason: &str) {
    assert_eq!(rejected(token), expected_reason);
}

// ---- the positive cases ----

#[test]
fn a_token_forged_with_nothing_wrong_is_accepted() {
    let claims = good_claims();
    for token in [sign(&claims), assemble(HS256_HEADER, &claims)] {
        let verified = tokens().verify(&token).unwrap();
        assert_eq!(verified.user_id.to_string(), USER_ID);
        assert_eq!(verified.token_id, claims["jti"].as_str().unwrap());
        assert_eq!(verified.expires_at, claims["exp"].as_i64().unwrap());
    }
}

#[test]
fn a_fresh_token_verifies_to_its_users_id_token_id_and_expiry() {
    let tokens = tokens();
    let issued = tokens.issue(&user()).unwrap();

    let verified = tokens.verify(&issued.token).unwrap();

    assert_eq!(verified, verified_claims(&user(), &issued.token));
}

#[test]
fn an_issued_token_carries_exactly_the_contract_header_and_claims() {
    let before = now();
    let issued = tokens().issue(&user()).unwrap();
    let after = now();
    let [header, payload, _] = segments_of(&issued.token);

    assert_eq!(decode_json(header), json!({"alg": "HS256", "typ": "JWT"}));
    let claims = decode_json(payload);
    assert_eq!(claim_names(&claims), BTreeSet::from(CONTRACT_CLAIMS));
    assert_eq!(claims["sub"], json!(USER_ID));
    assert_eq!(claims["email"], json!("ada@example.com"));
    assert_eq!(claims["provider"], json!("facebook"));
    assert_eq!(claims["iss"], json!(ISSUER));
    assert_eq!(claims["aud"], json!("zeropass"));
    let iat = claims["iat"].as_i64().unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&iat),
        "{iat} not in {before}..={after}"
    );
    assert_eq!(exp - iat, 3600);
    let jti = Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
    assert_eq!(jti.get_version_num(), 4);
    assert_eq!(issued.expires_in, 3600);
}

#[test]
fn the_lifetime_comes_from_the_config() {
    let issued = tokens_with_ttl(Duration::from_secs(90))
        .issue(&user())
        .unwrap();
    let claims = decode_json(segments_of(&issued.token)[1]);
    assert_eq!(issued.expires_in, 90);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        90
    );
}

#[test]
fn two_tokens_for_the_same_user_have_different_token_ids() {
    let tokens = tokens();
    let first = tokens
        .verify(&tokens.issue(&user()).unwrap().token)
        .unwrap();
    let second = tokens
        .verify(&tokens.issue(&user()).unwrap().token)
        .unwrap();
    assert_ne!(first.token_id, second.token_id);
}

#[test]
fn a_lifetime_too_long_for_a_timestamp_fails_to_issue_instead_of_wrapping() {
    let tokens = tokens_with_ttl(Duration::from_secs(u64::MAX));
    assert!(tokens.issue(&user()).is_err());
}

#[test]
fn a_token_expired_by_less_than_the_leeway_is_still_accepted() {
    let half_the_leeway = i64::try_from(LEEWAY_SECONDS / 2).unwrap();
    let token = sign(&expiring_at(now() - half_the_leeway));
    assert!(tokens().verify(&token).is_ok());
}

#[test]
fn issued_tokens_carry_the_header_the_verifier_recognises_without_parsing() {
    let tokens = tokens();
    let issued = tokens.issue(&user()).unwrap();
    let header = segments_of(&issued.token)[0];
    assert!(tokens.verifier.recognises_issued_header(header));
    // Another spelling of an acceptable header is parsed instead, and still accepted.
    let reordered = b64(HS256_HEADER);
    assert_ne!(reordered, header);
    assert!(!tokens.verifier.recognises_issued_header(&reordered));
    assert!(
        tokens
            .verify(&assemble(HS256_HEADER, &good_claims()))
            .is_ok()
    );
    let with_key_id = assemble(r#"{"alg":"HS256","kid":"k1"}"#, &good_claims());
    assert!(tokens.verify(&with_key_id).is_ok());
}

#[test]
fn a_token_expired_exactly_by_the_leeway_is_still_accepted() {
    let leeway = i64::try_from(LEEWAY_SECONDS).unwrap();
    // A second of slack: `now()` here and in `verify` may straddle a second boundary.
    assert!(
        tokens()
            .verify(&sign(&expiring_at(now() - leeway + 1)))
            .is_ok()
    );
    assert_eq!(
        tokens().verify(&sign(&expiring_at(now() - leeway - 2))),
        Err(TokenRejection::Expired)
    );
}

#[test]
fn an_nbf_within_the_leeway_is_accepted_and_a_mistyped_one_rejected() {
    assert!(
        tokens()
            .verify(&sign(&with("nbf", json!(now() + 10))))
            .is_ok()
    );
    assert!(
        tokens()
            .verify(&sign(&with("nbf", json!(now() - 10))))
            .is_ok()
    );
    rejected(&sign(&with("nbf", json!((now() - 10).to_string()))));
}

#[test]
fn a_header_with_a_critical_extension_is_rejected_on_the_parsed_path_too() {
    let token = assemble(r#"{"alg":"HS256","crit":["exp"]}"#, &good_claims());
    assert_rejected_because(&token, "critical header extension");
}

#[test]
fn a_header_without_an_algorithm_or_with_a_numeric_one_is_rejected() {
    rejected(&assemble(r#"{"typ":"JWT"}"#, &good_claims()));
    rejected(&assemble(r#"{"alg":256,"typ":"JWT"}"#, &good_claims()));
}

#[test]
fn a_truncated_signature_is_rejected() {
    let token = sign(&good_claims());
    let [header, payload, signature] = segments_of(&token);
    let short = &signature[..40]; // 30 bytes of the 32: valid base64url, short MAC
    assert_rejected_because(&format!("{header}.{payload}.{short}"), "bad signature");
    assert_rejected_because(&format!("{header}.{payload}."), "bad signature");
}

#[test]
fn the_debug_of_a_config_or_of_the_adapter_does_not_show_the_key() {
    let config = JwtConfig {
        secret: JwtSecret::new(KEY).unwrap(),
        issuer: ISSUER.to_owned(),
        ttl: Duration::from_secs(TTL),
    };
    let key_as_byte_list = format!("{:?}", &KEY.as_bytes()[..4]);
    let key_as_byte_list = key_as_byte_list.trim_matches(['[', ']']);
    let printed = format!("{config:?} {config:#?} {:?} {:#?}", tokens(), tokens());
    assert!(!printed.contains(KEY), "{printed}");
    assert!(!printed.contains(key_as_byte_list), "{printed}");
    assert!(printed.contains(ISSUER), "{printed}");
}

// ---- expiry ----

#[test]
fn a_token_expired_beyond_the_leeway_is_rejected_as_expired() {
    let beyond_the_leeway = i64::try_from(LEEWAY_SECONDS).unwrap() + 5;
    let token = sign(&expiring_at(now() - beyond_the_leeway));
    assert_eq!(tokens().verify(&token), Err(TokenRejection::Expired));
}

#[test]
fn a_token_that_expired_yesterday_is_reported_as_expired_not_invalid() {
    let token = sign(&expiring_at(now() - 86_400));
    assert_eq!(tokens().verify(&token), Err(TokenRejection::Expired));
}

#[test]
fn a_token_not_valid_before_a_future_time_is_rejected() {
    let token = sign(&with("nbf", json!(now() + 600)));
    assert_rejected_because(&token, "not valid yet");
}

// ---- the algorithm ----

#[test]
fn alg_none_with_an_empty_signature_is_rejected() {
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let token = format!("{}.{}.", b64(header), b64(good_claims().to_string()));
        rejected(&token);
    }
}

#[test]
fn alg_none_with_a_valid_looking_signature_is_rejected() {
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        rejected(&assemble(&header, &good_claims()));
    }
}

#[test]
fn hs384_and_hs512_signed_with_our_own_key_are_rejected() {
    for algorithm in [Algorithm::HS384, Algorithm::HS512] {
        let token = encode_with(&Header::new(algorithm), &good_claims(), KEY);
        assert_rejected_because(&token, "algorithm not allowed");
    }
}

#[test]
fn an_rs256_header_is_rejected_whatever_the_signature() {
    let token = assemble(r#"{"alg":"RS256","typ":"JWT"}"#, &good_claims());
    assert_rejected_because(&token, "algorithm not allowed");
}

#[test]
fn an_algorithm_name_in_another_case_is_rejected() {
    rejected(&assemble(r#"{"alg":"hs256","typ":"JWT"}"#, &good_claims()));
}

#[test]
fn a_header_with_a_critical_extension_is_rejected() {
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".to_owned()]);
    let token = encode_with(&header, &good_claims(), KEY);
    assert_rejected_because(&token, "critical header extension");
}

// ---- the signature ----

#[test]
fn a_token_signed_with_another_key_is_rejected() {
    let token = encode_with(&Header::new(Algorithm::HS256), &good_claims(), OTHER_KEY);
    assert_rejected_because(&token, "bad signature");
}

#[test]
fn a_correctly_signed_token_with_a_tampered_payload_is_rejected() {
    let issued = tokens().issue(&user()).unwrap();
    let [header, payload, signature] = segments_of(&issued.token);
    let mut claims = decode_json(payload);
    claims["sub"] = json!("fedcba98-7654-4321-8123-456789abcdef");
    let tampered = format!("{header}.{}.{signature}", b64(claims.to_string()));
    assert_rejected_because(&tampered, "bad signature");
}

// ---- the issuer ----

#[test]
fn a_token_from_another_issuer_is_rejected() {
    let token = sign(&with("iss", json!("https://evil.example")));
    assert_rejected_because(&token, "wrong issuer");
}

#[test]
fn a_token_without_an_issuer_is_rejected() {
    rejected(&sign(&without("iss")));
}

#[test]
fn a_numeric_issuer_is_rejected() {
    rejected(&sign(&with("iss", json!(42))));
}

#[test]
fn an_issuer_array_is_rejected_even_when_it_contains_ours() {
    rejected(&sign(&with("iss", json!([ISSUER]))));
    rejected(&sign(&with("iss", json!([ISSUER, "https://evil.example"]))));
}

// ---- the audience ----

#[test]
fn a_token_for_another_audience_is_rejected() {
    let token = sign(&with("aud", json!("another-service")));
    assert_rejected_because(&token, "wrong audience");
}

#[test]
fn a_token_without_an_audience_is_rejected() {
    rejected(&sign(&without("aud")));
}

#[test]
fn a_numeric_audience_is_rejected() {
    rejected(&sign(&with("aud", json!(42))));
}

/// RFC 7519 allows `aud` to be an array, but we only ever issue the string, and only we hold
/// the key: an array is a token we did not write, so it is refused like any other claim of the
/// wrong type rather than searched for our name.
#[test]
fn an_audience_array_is_rejected_even_when_it_contains_ours() {
    rejected(&sign(&with("aud", json!(["zeropass"]))));
    rejected(&sign(&with("aud", json!(["zeropass", "another-service"]))));
}

// ---- expiry and the other claims' presence and types ----

#[test]
fn a_token_without_an_expiry_is_rejected() {
    rejected(&sign(&without("exp")));
}

#[test]
fn an_expiry_written_as_a_string_is_rejected() {
    let exp = (now() + 3600).to_string();
    rejected(&sign(&with("exp", json!(exp))));
}

#[test]
fn a_fractional_expiry_is_rejected() {
    let exp = now() as f64 + 3600.5;
    rejected(&sign(&with("exp", json!(exp))));
}

#[test]
fn a_token_without_a_subject_is_rejected() {
    rejected(&sign(&without("sub")));
}

#[test]
fn a_subject_that_is_not_a_uuid_is_rejected() {
    assert_rejected_because(
        &sign(&with("sub", json!("not-a-uuid"))),
        "sub is not a user id",
    );
    rejected(&sign(&with("sub", json!(42))));
}

#[test]
fn a_subject_in_another_uuid_spelling_is_rejected() {
    for spelling in [
        USER_ID.to_uppercase(),
        USER_ID.replace('-', ""),
        format!("urn:uuid:{USER_ID}"),
    ] {
        assert_rejected_because(&sign(&with("sub", json!(spelling))), "sub is not a user id");
    }
}

#[test]
fn a_token_without_a_token_id_is_rejected() {
    rejected(&sign(&without("jti")));
}

#[test]
fn a_token_id_that_is_not_a_uuid_is_rejected() {
    assert_rejected_because(&sign(&with("jti", json!("1"))), "jti is not a token id");
}

#[test]
fn a_token_without_an_email_or_provider_is_rejected() {
    rejected(&sign(&without("email")));
    rejected(&sign(&without("provider")));
}

#[test]
fn an_unknown_provider_is_rejected() {
    assert_rejected_because(
        &sign(&with("provider", json!("github"))),
        "unknown provider",
    );
}

#[test]
fn an_issued_at_written_as_a_string_is_rejected() {
    rejected(&sign(&with("iat", json!(now().to_string()))));
}

// ---- malformed tokens ----

#[test]
fn an_empty_string_is_rejected() {
    assert_rejected_because("", "not three dot-separated segments");
}

#[test]
fn a_token_of_two_segments_is_rejected() {
    let [header, payload, _] = segments_of(&sign(&good_claims())).map(str::to_owned);
    assert_rejected_because(
        &format!("{header}.{payload}"),
        "not three dot-separated segments",
    );
}

#[test]
fn a_token_of_four_segments_is_rejected() {
    let token = sign(&good_claims());
    let signature = segments_of(&token)[2].to_owned();
    assert_rejected_because(
        &format!("{token}.{signature}"),
        "not three dot-separated segments",
    );
}

#[test]
fn a_header_that_is_not_base64url_is_rejected() {
    let payload = b64(good_claims().to_string());
    let header = format!("{}!", b64(HS256_HEADER));
    assert_rejected_because(
        &assemble_segments(&header, &payload),
        "a segment is not base64url",
    );
}

#[test]
fn a_payload_that_is_not_base64url_is_rejected() {
    let payload = format!("{}*", b64(good_claims().to_string()));
    let token = assemble_segments(&b64(HS256_HEADER), &payload);
    assert_rejected_because(&token, "a segment is not base64url");
}

#[test]
fn padded_base64_is_rejected() {
    let payload = format!("{}==", b64(good_claims().to_string()));
    rejected(&assemble_segments(&b64(HS256_HEADER), &payload));
}

#[test]
fn a_signature_that_is_not_base64url_is_rejected() {
    let [header, payload, _] = segments_of(&sign(&good_claims())).map(str::to_owned);
    let token = format!("{header}.{payload}.%%%%");
    assert_rejected_because(&token, "a segment is not base64url");
}

#[test]
fn a_header_that_is_not_json_is_rejected() {
    let token = assemble_segments(&b64("not json"), &b64(good_claims().to_string()));
    rejected(&token);
}

#[test]
fn claims_that_are_not_a_json_object_are_rejected() {
    rejected(&assemble_segments(&b64(HS256_HEADER), &b64("[1, 2, 3]")));
}

// ---- found in review of the one-pass verifier: jsonwebtoken refused these too ----

#[test]
fn a_crit_member_is_refused_even_when_null() {
    let token = assemble(r#"{"alg":"HS256","crit":null}"#, &good_claims());
    assert_rejected_because(&token, "critical header extension");
}

#[test]
fn a_header_or_claims_written_as_a_json_array_are_rejected() {
    rejected(&assemble(r#"["HS256"]"#, &good_claims()));
    let claims = good_claims();
    let as_array: Vec<Value> = [
        "sub", "email", "provider", "iat", "exp", "iss", "aud", "jti",
    ]
    .iter()
    .map(|name| claims[*name].clone())
    .collect();
    let token = assemble_segments(&b64(HS256_HEADER), &b64(Value::from(as_array).to_string()));
    assert_rejected_because(&token, "malformed header or claims (missing or mistyped)");
}

#[test]
fn a_null_negative_or_fractional_nbf_is_rejected() {
    for nbf in [json!(null), json!(-5), json!(1.5)] {
        rejected(&sign(&with("nbf", nbf)));
    }
}

#[test]
fn a_typ_or_kid_that_is_not_a_string_is_rejected() {
    rejected(&assemble(r#"{"alg":"HS256","typ":1}"#, &good_claims()));
    rejected(&assemble(r#"{"alg":"HS256","kid":{}}"#, &good_claims()));
}

#[test]
fn claims_with_json_escapes_are_read_like_plain_ones() {
    // The claims borrow from the payload where they can; an escape makes them owned.
    let plain = good_claims().to_string();
    let escaped = plain
        .replace("https://", r"https:\/\/")
        .replace('@', r"\u0040");
    assert_ne!(plain, escaped);
    let token = assemble_segments(&b64(HS256_HEADER), &b64(&escaped));
    let verified = tokens().verify(&token).unwrap();
    assert_eq!(verified.user_id.to_string(), USER_ID);
    let wrong_issuer = escaped.replace(r"https:\/\/", r"https:\/\/x");
    let token = assemble_segments(&b64(HS256_HEADER), &b64(&wrong_issuer));
    assert_rejected_because(&token, "wrong issuer");
}
