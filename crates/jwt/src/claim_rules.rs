//! What every zeropass access token must satisfy whoever signed it, in one place for both
//! verifiers (HS256 in [`crate::hmac_verifier`], ES256/EdDSA in [`crate::key_ring_tokens`]):
//! three dot-separated segments, and claims that are an unpadded base64url JSON *object* with
//! every claim we issue, each of exactly the type we write ([`Claims`]; `nbf`, if present, a
//! non-negative integer); `exp` not before now minus the leeway (else `Expired`), `nbf` not
//! after now plus the leeway, `iss` our issuer, `aud` exactly [`AUDIENCE`], and `sub`, `jti`
//! and `provider` values we could have written. Every failure is a fixed reason that never
//! quotes the token.

use crate::claims::{AUDIENCE, Claims, LEEWAY_SECONDS};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeropass_domain::AccessTokenClaims;

/// Why a token was refused. The reasons are fixed strings: they never quote the token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Correct in every way but past its `exp` (and the leeway).
    Expired,
    /// Anything else.
    Invalid(&'static str),
}

/// A header or the claims are missing something or have a member of the wrong type.
pub(crate) const MALFORMED: Rejection =
    Rejection::Invalid("malformed header or claims (missing or mistyped)");
/// A segment is not unpadded base64url.
pub(crate) const NOT_BASE64URL: Rejection = Rejection::Invalid("a segment is not base64url");

/// The leeway as a signed number of seconds.
const LEEWAY: i64 = LEEWAY_SECONDS as i64;
const _: () = assert!(LEEWAY_SECONDS <= i64::MAX as u64);

/// The token's header, payload and signature segments, still encoded.
///
/// # Errors
/// Unless the token is exactly three dot-separated segments.
#[inline]
pub(crate) fn segments(token: &str) -> Result<(&str, &str, &str), Rejection> {
    let mut segments = token.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(Rejection::Invalid("not three dot-separated segments")),
    }
}

/// Decodes a segment (the signature, typically) from unpadded base64url.
///
/// # Errors
/// [`NOT_BASE64URL`].
#[inline]
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|_| NOT_BASE64URL)
}

/// `Expired` when a token expiring at `exp` is no longer acceptable at `now` (both seconds
/// since the Unix epoch), the leeway included. Also what a cached token is re-checked with.
///
/// # Errors
/// [`Rejection::Expired`].
#[inline]
pub(crate) fn check_expiry(exp: i64, now: i64) -> Result<(), Rejection> {
    if exp < now.saturating_sub(LEEWAY) {
        return Err(Rejection::Expired);
    }
    Ok(())
}

/// The claim rules of one issuer.
#[derive(Debug)]
pub(crate) struct ClaimRules {
    issuer: String,
}

impl ClaimRules {
    /// Rules requiring `iss` to be `issuer`.
    pub(crate) const fn new(issuer: String) -> Self {
        Self { issuer }
    }

    /// Reads the claims of a token whose signature has been checked already, at `now`
    /// (seconds since the Unix epoch), and returns what the port reports.
    ///
    /// # Errors
    /// A [`Rejection`] for any claim that breaks the rules in the module's documentation.
    #[inline]
    pub(crate) fn read(
        &self,
        payload_segment: &str,
        now: i64,
    ) -> Result<AccessTokenClaims, Rejection> {
        let payload = decode_segment(payload_segment)?;
        // serde's derived structs also read a JSON array, field by field: only an object is
        // a claims set (RFC 7519 §7.2).
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(MALFORMED);
        }
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| MALFORMED)?;
        self.check(&claims, now)?;
        claims.into_verified().map_err(Rejection::Invalid)
    }

    fn check(&self, claims: &Claims, now: i64) -> Result<(), Rejection> {
        check_expiry(claims.exp, now)?;
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY))
        {
            return Err(Rejection::Invalid("not valid yet"));
        }
        if claims.iss != self.issuer {
            return Err(Rejection::Invalid("wrong issuer"));
        }
        if claims.aud != AUDIENCE {
            return Err(Rejection::Invalid("wrong audience"));
        }
        Ok(())
    }
}
