//! The claims of a zeropass access token, as a downstream service receives them once the
//! signature, issuer, audience and lifetime have been checked. Reading is as strict as
//! zeropass's own verifier (`crates/jwt/src/claims.rs`): every claim zeropass issues must be
//! present with the JSON type it writes (an `aud` array or a string `exp` is refused rather
//! than coerced), `sub` and `jti` must be UUIDs in the hyphenated lower-case form zeropass
//! writes; claims zeropass does not issue are ignored, except `nbf`, which is honoured.

use serde::Deserialize;
use uuid::Uuid;

use crate::error::Refusal;

/// What a verified token says. Field names follow the JWT claims they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claims {
    /// The zeropass user id (`sub`), stable for the life of the account.
    pub sub: Uuid,
    /// The user's email when the token was issued (`email`); informational, it may have
    /// changed since.
    pub email: String,
    /// The identity provider the user signed in with (`provider`, e.g. `google`). A string,
    /// not an enum, so a provider zeropass adds later does not break services that verify.
    pub provider: String,
    /// Issued at (`iat`), seconds since the Unix epoch.
    pub iat: i64,
    /// Expiry (`exp`), seconds since the Unix epoch.
    pub exp: i64,
    /// The token's own id (`jti`), a random UUID: usable as a key for a deny list.
    pub jti: Uuid,
}

/// The payload as zeropass writes it; `iss` and `aud` are compared, the rest converted.
#[derive(Debug, Deserialize)]
pub(crate) struct RawClaims {
    sub: String,
    email: String,
    provider: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: String,
    #[serde(default, deserialize_with = "present_timestamp")]
    nbf: Option<i64>,
}

/// What a payload is checked against.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) leeway: i64,
    pub(crate) now: i64,
}

impl RawClaims {
    /// The typed claims, once `iss`, `aud`, `exp`, `nbf`, `sub` and `jti` are as expected.
    pub(crate) fn check(self, expected: &Expected<'_>) -> Result<Claims, Refusal> {
        if self.iss != expected.issuer {
            return Err(Refusal::WrongIssuer);
        }
        if self.aud != expected.audience {
            return Err(Refusal::WrongAudience);
        }
        if expected.now > self.exp.saturating_add(expected.leeway) {
            return Err(Refusal::Expired);
        }
        if self
            .nbf
            .is_some_and(|nbf| expected.now.saturating_add(expected.leeway) < nbf)
        {
            return Err(Refusal::NotYetValid);
        }
        let sub = parse_canonical_uuid(&self.sub).ok_or(Refusal::InvalidSubject)?;
        let jti = parse_canonical_uuid(&self.jti).ok_or(Refusal::InvalidTokenId)?;
        Ok(Claims {
            sub,
            email: self.email,
            provider: self.provider,
            iat: self.iat,
            exp: self.exp,
            jti,
        })
    }
}

/// A claim that, when present, must be a non-negative integer timestamp (`default` covers the
/// absent case; `null`, negatives, fractions and strings fail).
fn present_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let seconds = u64::deserialize(deserializer)?;
    i64::try_from(seconds)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// A UUID written exactly as zeropass writes them (hyphenated, lower case).
fn parse_canonical_uuid(text: &str) -> Option<Uuid> {
    let uuid = Uuid::try_parse(text).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (uuid.hyphenated().encode_lower(&mut buffer) == text).then_some(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn payload(exp: i64, nbf: Option<i64>) -> RawClaims {
        RawClaims {
            sub: "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90".into(),
            email: "ada@example.com".into(),
            provider: "google".into(),
            iat: NOW - 60,
            exp,
            iss: "https://auth.example".into(),
            aud: "zeropass".into(),
            jti: "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into(),
            nbf,
        }
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: "https://auth.example",
            audience: "zeropass",
            leeway: 30,
            now: NOW,
        }
    }

    #[test]
    fn a_token_expired_within_the_leeway_is_accepted_and_one_second_beyond_is_not() {
        assert!(payload(NOW - 30, None).check(&expected()).is_ok());
        assert_eq!(
            payload(NOW - 31, None).check(&expected()),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn a_not_before_in_the_future_beyond_the_leeway_is_refused() {
        assert!(
            payload(NOW + 900, Some(NOW + 30))
                .check(&expected())
                .is_ok()
        );
        assert_eq!(
            payload(NOW + 900, Some(NOW + 31)).check(&expected()),
            Err(Refusal::NotYetValid)
        );
    }

    #[test]
    fn a_subject_in_upper_case_is_not_one_zeropass_wrote() {
        let mut raw = payload(NOW + 900, None);
        raw.sub = raw.sub.to_uppercase();
        assert_eq!(raw.check(&expected()), Err(Refusal::InvalidSubject));
    }

    #[test]
    fn an_audience_array_is_refused_rather_than_searched() {
        let json = serde_json::json!({
            "sub": "0b8f3c2e-4c1d-4a8e-9f3a-2d7c5e6b1a90", "email": "a@b.c", "provider": "google",
            "iat": NOW, "exp": NOW + 900, "iss": "https://auth.example", "aud": ["zeropass"],
            "jti": "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
        });
        assert!(serde_json::from_value::<RawClaims>(json).is_err());
    }
}
