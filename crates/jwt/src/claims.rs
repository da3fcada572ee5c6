//! The claims of a zeropass access token, one struct for both directions: what `issue` writes
//! and what `verify` reads back. Reading is deliberately strict: every claim we issue must be
//! present with exactly the JSON type we write (a string stays a string, a time is an integer),
//! so a number where a string belongs, a string `exp` or an `aud` array fails to deserialise
//! instead of being coerced. Claims we do not issue are ignored (except `nbf`, which is
//! honoured), so a later version may add one without breaking tokens in
//! flight during a rolling deploy.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use uuid::Uuid;
use zeropass_domain::{AccessTokenClaims, Provider, User, UserId};

/// The `aud` of every token zeropass issues, and the only one it accepts.
pub const AUDIENCE: &str = "zeropass";

/// Seconds a token is still accepted after its `exp` (and before an `nbf`). Tokens are
/// verified by whichever server instance takes the request, not always by the one that issued
/// them, and two hosts' clocks may disagree by a few seconds even under NTP; without a leeway
/// a token could be refused before the lifetime it was issued with is over. Thirty seconds
/// absorbs that drift while adding almost nothing to a stolen token's useful life.
pub const LEEWAY_SECONDS: u64 = 30;
// More would turn the leeway into a silent extension of every token's lifetime.
const _: () = assert!(LEEWAY_SECONDS <= 30, "the leeway must stay at 30 s or less");

/// The contract's claims, in the order they are written. The strings borrow: from the user
/// and the adapter when issuing, from the decoded payload when verifying (owned only where
/// the JSON has escapes), so neither direction copies them.
#[derive(Serialize, Deserialize)]
pub(crate) struct Claims<'a> {
    /// The user id, a hyphenated lower-case UUID.
    #[serde(borrow)]
    pub(crate) sub: Cow<'a, str>,
    /// The user's email when the token was issued (informational).
    #[serde(borrow)]
    pub(crate) email: Cow<'a, str>,
    /// `google` or `facebook`.
    #[serde(borrow)]
    pub(crate) provider: Cow<'a, str>,
    /// Issued at, seconds since the Unix epoch.
    pub(crate) iat: i64,
    /// Expiry, seconds since the Unix epoch.
    pub(crate) exp: i64,
    /// Our `PUBLIC_URL`.
    #[serde(borrow)]
    pub(crate) iss: Cow<'a, str>,
    /// Always [`AUDIENCE`], as a single string.
    #[serde(borrow)]
    pub(crate) aud: Cow<'a, str>,
    /// A random v4 UUID naming this token.
    #[serde(borrow)]
    pub(crate) jti: Cow<'a, str>,
    /// Not before, seconds since the Unix epoch. Never issued, but honoured when present
    /// (RFC 7519 §4.1.5); present means a non-negative integer (`null` is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_timestamp"
    )]
    pub(crate) nbf: Option<i64>,
}

impl<'a> Claims<'a> {
    /// The claims of a token for `user`, issued at `iat` and expiring at `exp`.
    pub(crate) fn new(user: &'a User, issuer: &'a str, iat: i64, exp: i64, token_id: Uuid) -> Self {
        Self {
            sub: Cow::Owned(user.id.to_string()),
            email: Cow::Borrowed(user.email.as_str()),
            provider: Cow::Borrowed(user.provider.as_str()),
            iat,
            exp,
            iss: Cow::Borrowed(issuer),
            aud: Cow::Borrowed(AUDIENCE),
            jti: Cow::Owned(token_id.to_string()),
            nbf: None,
        }
    }

    /// What the port returns, once the signature, `exp`, `iss` and `aud` have been checked:
    /// the remaining values must be ones we could have issued.
    ///
    /// # Errors
    /// A short reason when `sub` or `jti` is not a UUID in the form we write, or `provider` is
    /// not one we know.
    pub(crate) fn into_verified(self) -> Result<AccessTokenClaims, &'static str> {
        let user_id = parse_canonical_uuid(&self.sub).ok_or("sub is not a user id")?;
        parse_canonical_uuid(&self.jti).ok_or("jti is not a token id")?;
        self.provider
            .parse::<Provider>()
            .map_err(|_| "unknown provider")?;
        Ok(AccessTokenClaims {
            user_id: UserId::from_uuid(user_id),
            token_id: self.jti.into_owned(),
            expires_at: self.exp,
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

/// A UUID written exactly as we write them (hyphenated, lower case). `Uuid::try_parse` also
/// takes the simple, braced and `urn:uuid:` forms and upper case; none of those was issued by
/// us, so none is accepted.
fn parse_canonical_uuid(text: &str) -> Option<Uuid> {
    let uuid = Uuid::try_parse(text).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (uuid.hyphenated().encode_lower(&mut buffer) == text).then_some(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_lower_case_form_of_a_uuid_is_canonical() {
        let uuid = Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef);
        assert_eq!(
            parse_canonical_uuid("01234567-89ab-4def-8123-456789abcdef"),
            Some(uuid)
        );
        for other in [
            "01234567-89AB-4DEF-8123-456789ABCDEF",
            "0123456789ab4def8123456789abcdef",
            "{01234567-89ab-4def-8123-456789abcdef}",
            "urn:uuid:01234567-89ab-4def-8123-456789abcdef",
            " 01234567-89ab-4def-8123-456789abcdef",
            "not-a-uuid",
            "",
        ] {
            assert_eq!(parse_canonical_uuid(other), None, "{other:?}");
        }
    }
}
