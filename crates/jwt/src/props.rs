//! Property tests of `JwtAccessTokens::verify` against machine-made input: arbitrary strings,
//! arbitrary three-segment base64url strings, correctly signed tokens whose header and claims
//! are arbitrary JSON, and single-byte mutations of a token we issued. Whatever comes in,
//! `verify` returns a typed rejection (never a panic), its reason never quotes the input, and
//! nothing but an unmodified, fully valid token is accepted.

use crate::test_support::{ISSUER, KEY, TTL, USER_ID, assemble_segments, b64, user_of};
use crate::{AUDIENCE, JwtAccessTokens, JwtConfig, JwtSecret};
use chrono::Utc;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use std::time::Duration;
use uuid::Uuid;
use zeropass_domain::{AccessTokens, Provider, TokenRejection, User};

/// Built once: every case verifies against the same adapter.
static TOKENS: LazyLock<JwtAccessTokens> = LazyLock::new(|| {
    JwtAccessTokens::new(JwtConfig {
        secret: JwtSecret::new(KEY).unwrap(),
        issuer: ISSUER.to_owned(),
        ttl: Duration::from_secs(TTL),
    })
});

fn user() -> User {
    user_of(Provider::Google)
}

/// `verify` must refuse `token` with a typed rejection whose reason does not quote it.
fn assert_refused(token: &str) -> Result<(), TestCaseError> {
    match TOKENS.verify(token) {
        Ok(claims) => Err(TestCaseError::fail(format!(
            "accepted {token:?} as {claims:?}"
        ))),
        Err(TokenRejection::Expired) => Ok(()),
        Err(TokenRejection::Invalid(reason)) => {
            prop_assert!(!reason.is_empty());
            prop_assert!(
                token.len() < 8 || !reason.contains(token),
                "the reason quotes the token: {reason}"
            );
            prop_assert!(!reason.contains(KEY));
            Ok(())
        }
    }
}

/// `header.payload.signature` with a correct HS256 signature under our key.
fn signed(header: &Value, claims: &Value) -> String {
    assemble_segments(&b64(header.to_string()), &b64(claims.to_string()))
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value for `claim`: usually a correct one (so that the other claims get tested), else
/// anything.
fn claim_value(claim: &'static str) -> BoxedStrategy<Value> {
    let now = Utc::now().timestamp();
    let good = match claim {
        "sub" => json!(USER_ID),
        "email" => json!("ada@example.com"),
        "provider" => json!("google"),
        "iat" => json!(now),
        "exp" => json!(now + 600),
        "iss" => json!(ISSUER),
        "aud" => json!(AUDIENCE),
        "jti" => json!(Uuid::new_v4().to_string()),
        _ => Value::Null,
    };
    prop_oneof![5 => Just(good), 1 => any_json()].boxed()
}

/// Claims objects: each contract claim present (with a good or an arbitrary value) or absent,
/// plus arbitrary extra members.
fn any_claims() -> impl Strategy<Value = Value> {
    let names = [
        "sub", "email", "provider", "iat", "exp", "iss", "aud", "jti", "nbf",
    ];
    let members: Vec<_> = names
        .into_iter()
        .map(|name| proptest::option::weighted(0.9, claim_value(name)).prop_map(move |v| (name, v)))
        .collect();
    (
        members,
        proptest::collection::btree_map("[a-z]{1,6}", any_json(), 0..3),
    )
        .prop_map(|(members, extra)| {
            let mut claims: Map<String, Value> = extra.into_iter().collect();
            for (name, value) in members {
                if let Some(value) = value {
                    claims.insert(name.to_owned(), value);
                }
            }
            Value::Object(claims)
        })
}

/// Headers: mostly HS256 with optional `typ`, `kid`, `crit`; sometimes anything.
fn any_header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        4 => Just(json!("HS256")),
        1 => prop_oneof![
            Just(json!("none")),
            Just(json!("HS512")),
            Just(json!("RS256")),
            any_json(),
        ],
    ];
    let shaped = (
        alg,
        proptest::option::of(any_json()),
        proptest::option::of(any_json()),
        proptest::option::weighted(0.2, any_json()),
    )
        .prop_map(|(alg, typ, kid, crit)| {
            let mut header = json!({ "alg": alg });
            for (name, value) in [("typ", typ), ("kid", kid), ("crit", crit)] {
                if let Some(value) = value {
                    header[name] = value;
                }
            }
            header
        });
    prop_oneof![4 => shaped, 1 => any_json()]
}

/// Three segments of base64url text, from random bytes or from the alphabet itself (which
/// makes segments of impossible lengths and non-canonical final characters).
fn three_segments() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(b64),
        "[A-Za-z0-9_-]{0,200}",
        any_json().prop_map(|value| b64(value.to_string())),
    ];
    (segment.clone(), segment.clone(), segment)
        .prop_map(|(header, payload, signature)| format!("{header}.{payload}.{signature}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_string_is_refused_without_a_panic(token in any::<String>()) {
        assert_refused(&token)?;
    }

    #[test]
    fn long_strings_are_refused_without_a_panic(
        token in proptest::collection::vec(any::<char>(), 0..10_000).prop_map(String::from_iter),
    ) {
        assert_refused(&token)?;
    }

    #[test]
    fn any_three_base64url_segments_are_refused(token in three_segments()) {
        assert_refused(&token)?;
    }

    #[test]
    fn correctly_signed_arbitrary_json_never_panics_and_only_complete_claims_pass(
        header in any_header(),
        claims in any_claims(),
    ) {
        let token = signed(&header, &claims);
        match TOKENS.verify(&token) {
            Ok(verified) => {
                // Accepted: then the token must be exactly what we issue, less the cosmetic
                // members (`typ`, `kid`, unknown claims) that we tolerate.
                prop_assert_eq!(&header["alg"], &json!("HS256"));
                prop_assert!(header.get("crit").is_none());
                prop_assert_eq!(&claims["sub"], &json!(USER_ID));
                prop_assert_eq!(&claims["iss"], &json!(ISSUER));
                prop_assert_eq!(&claims["aud"], &json!(AUDIENCE));
                prop_assert_eq!(verified.user_id.to_string(), USER_ID);
                prop_assert_eq!(Some(verified.token_id.as_str()), claims["jti"].as_str());
                prop_assert_eq!(Some(verified.expires_at), claims["exp"].as_i64());
            }
            Err(TokenRejection::Expired) => {}
            Err(TokenRejection::Invalid(reason)) => {
                prop_assert!(!reason.is_empty());
                prop_assert!(!reason.contains(&token));
            }
        }
    }

    #[test]
    fn changing_any_single_byte_of_an_issued_token_is_refused(
        position in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            3 => (0x20_u8..0x7f).prop_map(char::from),
            1 => any::<char>(),
        ],
    ) {
        let token = TOKENS.issue(&user()).unwrap().token;
        prop_assert!(TOKENS.verify(&token).is_ok());
        let index = position.index(token.len());
        let original = char::from(token.as_bytes()[index]);
        prop_assume!(replacement != original);
        let mut mutated = token.clone();
        mutated.replace_range(index..=index, replacement.encode_utf8(&mut [0; 4]));
        assert_refused(&mutated)?;
    }

    #[test]
    fn removing_or_inserting_a_byte_is_refused(
        position in any::<prop::sample::Index>(),
        inserted in proptest::option::of((0x20_u8..0x7f).prop_map(char::from)),
    ) {
        let token = TOKENS.issue(&user()).unwrap().token;
        let index = position.index(token.len());
        let mut mutated = token.clone();
        match inserted {
            Some(c) => mutated.insert(index, c),
            None => {
                mutated.remove(index);
            }
        }
        assert_refused(&mutated)?;
    }
}

#[test]
fn every_single_byte_change_of_one_token_is_refused() {
    // Exhaustive over the positions for the base64url alphabet and the separator: the
    // property above samples; this walks one whole token.
    let token = TOKENS.issue(&user()).unwrap().token;
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";
    for index in 0..token.len() {
        let original = char::from(token.as_bytes()[index]);
        for replacement in alphabet.chars().filter(|&c| c != original) {
            let mut mutated = token.clone();
            mutated.replace_range(index..=index, replacement.encode_utf8(&mut [0; 4]));
            assert!(
                TOKENS.verify(&mutated).is_err(),
                "byte {index} changed to {replacement:?} was accepted"
            );
        }
    }
}
