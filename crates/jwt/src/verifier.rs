//! Verifying a presented access token in one pass: the check every authenticated request
//! makes. jsonwebtoken issues our tokens, and this check recomputes the same HMAC-SHA256, but
//! jsonwebtoken's `decode` did the work twice over on this path (the header parsed twice, a
//! verifier keyed anew per call, the claims deserialised once for its checks and once for
//! ours) and was a seventh of `/users/me`'s time; see `docs/performance.md`.
//!
//! The rules, in order (each failure a fixed reason that never quotes the token):
//! 1. exactly three dot-separated segments;
//! 2. the header: the exact segment we issue, or a base64url JSON *object* whose `alg` is the
//!    string `HS256`, whose `typ` and `kid` (if present) are strings, and with no `crit` member
//!    at all (we understand no extension, RFC 7515 §4.1.11);
//! 3. the signature: unpadded base64url, HMAC-SHA256 under our key over `header.payload`,
//!    compared in constant time (exactly 32 bytes);
//! 4. the claims: an unpadded base64url JSON *object* with every claim we issue, each of
//!    exactly the type we write ([`Claims`]; `nbf`, if present, a non-negative integer);
//!    `exp` not before now minus the leeway (else `Expired`), `nbf` not after now plus the
//!    leeway, `iss` our issuer, `aud` exactly [`AUDIENCE`].
//!
//! They are jsonwebtoken's rules as we configured them, with four differences. Three are
//! refusals either way: four or more segments say "not three dot-separated segments", a
//! mistyped `nbf` is "malformed", and a negative `exp` is `Expired`. The fourth: a header
//! member written twice counts once (the last), where jsonwebtoken refused the header; the
//! MAC is HS256 under our key whatever the header says, so no token we did not sign passes.

use crate::claims::{AUDIENCE, Claims, LEEWAY_SECONDS};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use zeropass_domain::AccessTokenClaims;

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

/// The keyed verifier, built once.
pub(crate) struct Verifier {
    /// HMAC-SHA256 with our key already absorbed; cloned per token.
    keyed_mac: Hmac<Sha256>,
    /// The header segment of the tokens we issue, accepted without parsing (`None`: parse
    /// every header).
    issued_header_segment: Option<String>,
    issuer: String,
}

impl Verifier {
    /// A verifier for tokens signed with `key`, naming `issuer`, whose header segment is
    /// usually `issued_header_segment`.
    pub(crate) fn new(key: &[u8], issued_header_segment: Option<String>, issuer: String) -> Self {
        // HMAC takes keys of any length: this cannot fail.
        let keyed_mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        Self {
            keyed_mac,
            issued_header_segment,
            issuer,
        }
    }

    /// The token's verified claims if it passes every rule in the module's list, at `now`
    /// (seconds since the Unix epoch).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<AccessTokenClaims, Rejection> {
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
        // serde's derived structs also read a JSON array, field by field: only an object is
        // a claims set (RFC 7519 §7.2).
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(MALFORMED);
        }
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| MALFORMED)?;
        self.check_claims(&claims, now)?;
        claims.into_verified().map_err(Rejection::Invalid)
    }

    /// Whether `header` is the segment we issue (and so needs no parsing).
    pub(crate) fn recognises_issued_header(&self, header: &str) -> bool {
        self.issued_header_segment.as_deref() == Some(header)
    }

    fn check_header(&self, header: &str) -> Result<(), Rejection> {
        if self.recognises_issued_header(header) {
            return Ok(());
        }
        let json = URL_SAFE_NO_PAD.decode(header).map_err(|_| NOT_BASE64URL)?;
        let fields: Map<String, Value> = serde_json::from_slice(&json).map_err(|_| MALFORMED)?;
        match fields.get("alg") {
            Some(Value::String(alg)) if alg == "HS256" => {}
            Some(Value::String(_)) => return Err(Rejection::Invalid("algorithm not allowed")),
            _ => return Err(MALFORMED),
        }
        let is_string_or_absent = |name| matches!(fields.get(name), None | Some(Value::String(_)));
        if !is_string_or_absent("typ") || !is_string_or_absent("kid") {
            return Err(MALFORMED);
        }
        if fields.contains_key("crit") {
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
        if claims.aud != AUDIENCE {
            return Err(Rejection::Invalid("wrong audience"));
        }
        Ok(())
    }
}
