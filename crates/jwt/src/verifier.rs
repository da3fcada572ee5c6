//! Verifying a presented access token in one pass: the check every authenticated request
//! makes. jsonwebtoken issues our tokens, and its HMAC-SHA256 is what this check recomputes,
//! but its `decode` did the work twice over on this path (the header parsed twice, a verifier
//! keyed anew per call, the claims deserialised once for its checks and once for ours) and
//! was a seventh of `/users/me`'s time; see `docs/performance.md`.
//!
//! The rules are those `decode` applied, in the same order, with the same fixed reasons:
//! 1. exactly three dot-separated segments;
//! 2. the header: the exact one we issue, or a JSON object whose `alg` is `HS256` and that has
//!    no `crit` (we understand no extension, RFC 7515 §4.1.11);
//! 3. the signature: unpadded base64url, HMAC-SHA256 under our key over `header.payload`,
//!    compared in constant time;
//! 4. the claims: unpadded base64url JSON with every claim we issue, each of exactly the type
//!    we write ([`Claims`]); `exp` not before now minus the leeway, `nbf` (if present) not
//!    after now plus the leeway, `iss` our issuer, `aud` exactly [`crate::AUDIENCE`].

use crate::claims::Claims;
use crate::tokens::LEEWAY_SECONDS;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Why a token was refused. The reasons are fixed strings: they never quote the token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// Correct in every way but past its `exp` (and the leeway).
    Expired,
    /// Anything else.
    Invalid(&'static str),
}

const MALFORMED: Rejection = Rejection::Invalid("malformed header or claims (missing or mistyped)");
const NOT_BASE64URL: Rejection = Rejection::Invalid("a segment is not base64url");

/// The header fields that matter; the others (`typ`, `kid`, …) are not looked at.
#[derive(Deserialize)]
struct HeaderFields {
    alg: String,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// The keyed verifier, built once.
pub(crate) struct Verifier {
    /// HMAC-SHA256 with our key already absorbed; cloned per token.
    keyed_mac: Hmac<Sha256>,
    /// The header segment of the tokens we issue, accepted without parsing.
    issued_header_segment: String,
    issuer: String,
}

impl Verifier {
    /// A verifier for tokens signed with `key`, naming `issuer`, whose header segment is
    /// usually `issued_header_segment`.
    pub(crate) fn new(key: &[u8], issued_header_segment: String, issuer: String) -> Self {
        // HMAC takes keys of any length: this cannot fail.
        let keyed_mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        Self {
            keyed_mac,
            issued_header_segment,
            issuer,
        }
    }

    /// The token's claims if it passes every rule in the module's list, at `now` (seconds
    /// since the Unix epoch).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Claims, Rejection> {
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Rejection::Invalid("not three dot-separated segments"));
        };
        self.check_header(header)?;

        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| NOT_BASE64URL)?;
        let mut mac = self.keyed_mac.clone();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| Rejection::Invalid("bad signature"))?;

        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| NOT_BASE64URL)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| MALFORMED)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    /// Whether `header` is the segment we issue (and so needs no parsing).
    pub(crate) fn recognises_issued_header(&self, header: &str) -> bool {
        header == self.issued_header_segment
    }

    fn check_header(&self, header: &str) -> Result<(), Rejection> {
        if self.recognises_issued_header(header) {
            return Ok(());
        }
        let json = URL_SAFE_NO_PAD.decode(header).map_err(|_| NOT_BASE64URL)?;
        let fields: HeaderFields = serde_json::from_slice(&json).map_err(|_| MALFORMED)?;
        if fields.alg != "HS256" {
            return Err(Rejection::Invalid("algorithm not allowed"));
        }
        if fields.crit.is_some() {
            return Err(Rejection::Invalid("critical header extension"));
        }
        Ok(())
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), Rejection> {
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(i64::MAX);
        if claims.exp < now.saturating_sub(leeway) {
            return Err(Rejection::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(Rejection::Invalid("not valid yet"));
        }
        if claims.iss != self.issuer {
            return Err(Rejection::Invalid("wrong issuer"));
        }
        if claims.aud != crate::AUDIENCE {
            return Err(Rejection::Invalid("wrong audience"));
        }
        Ok(())
    }
}
