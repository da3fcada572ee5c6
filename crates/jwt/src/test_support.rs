//! Set-up shared by the crate's test modules (HS256, key ring, property tests): the test
//! `JWT_SECRET` and issuer, the user tokens are issued to and the claims `issue` writes for
//! them, and the base64url, segment and HS256 helpers that read and forge tokens.

use crate::AUDIENCE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;
use zeropass_domain::{AccessTokenClaims, Email, Provider, Subject, User, UserId};

/// The `JWT_SECRET` of the adapters under test.
pub const KEY: &str = "the zeropass test key, over 32 bytes long";
/// The configured issuer (`PUBLIC_URL`).
pub const ISSUER: &str = "https://auth.zeropass.example";
/// The configured token lifetime, in seconds.
pub const TTL: u64 = 3600;
/// The id of [`user_of`]'s user, the `sub` of [`claims_of`].
pub const USER_ID: &str = "01234567-89ab-4def-8123-456789abcdef";
/// Every claim of the contract, no more.
pub const CONTRACT_CLAIMS: [&str; 8] = [
    "aud", "email", "exp", "iat", "iss", "jti", "provider", "sub",
];

/// Ada, signed in with `provider` (a subject of that provider's shape).
pub fn user_of(provider: Provider) -> User {
    let subject = match provider {
        Provider::Google => "google-sub-1",
        Provider::Facebook => "fb-app-scoped-1",
    };
    User {
        id: UserId::from_uuid(Uuid::parse_str(USER_ID).unwrap()),
        email: Email::parse("ada@example.com").unwrap(),
        provider,
        subject: Subject::parse(subject).unwrap(),
        is_active: true,
        created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}

pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// Claims exactly as `issue` writes them for `user_of(provider)`, valid from now for `TTL`.
pub fn claims_of(provider: Provider) -> Value {
    let now = now();
    json!({
        "sub": USER_ID,
        "email": "ada@example.com",
        "provider": provider.as_str(),
        "iat": now,
        "exp": now + 3600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": Uuid::new_v4().to_string(),
    })
}

/// The names of the members of a claims object.
pub fn claim_names(claims: &Value) -> BTreeSet<&str> {
    claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// What `verify` must answer for `token`, issued to `user`: the user's id, and the token id
/// and expiry its payload states.
pub fn verified_claims(user: &User, token: &str) -> AccessTokenClaims {
    let payload = decode_json(segments_of(token)[1]);
    AccessTokenClaims {
        user_id: user.id,
        token_id: payload["jti"].as_str().unwrap().to_owned(),
        expires_at: payload["exp"].as_i64().unwrap(),
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The three dot-separated segments of `token`, which must have exactly three.
pub fn segments_of(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    parts.try_into().unwrap()
}

/// The JSON a base64url segment encodes.
pub fn decode_json(segment: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// Hand-assembles `header.payload.signature` from raw segments, the signature being a correct
/// HS256 under [`KEY`] whatever those segments contain: for what jsonwebtoken refuses to write.
pub fn assemble_segments(header_segment: &str, payload_segment: &str) -> String {
    let message = format!("{header_segment}.{payload_segment}");
    let key = EncodingKey::from_secret(KEY.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}
