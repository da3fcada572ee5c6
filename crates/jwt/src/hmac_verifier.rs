//! Verifying a presented HS256 access token in one pass: the check every authenticated request
//! makes when `JWT_ALGORITHM` is `HS256`. jsonwebtoken issues our tokens, and this check
//! recomputes the same HMAC-SHA256, but jsonwebtoken's `decode` did the work twice over on this
//! path (the header parsed twice, a verifier keyed anew per call, the claims deserialised once
//! for its checks and once for ours) and was a seventh of `/users/me`'s time; see
//! `docs/performance.md`.
//!
//! The rules, in order (each failure a fixed reason that never quotes the token):
//! 1. exactly three dot-separated segments;
//! 2. the header: the exact segment we issue, or one passing [`crate::header`]'s rules with
//!    `alg` pinned to `HS256` (a `kid` is allowed and ignored);
//! 3. the signature: unpadded base64url, HMAC-SHA256 under our key over `header.payload`,
//!    compared in constant time (exactly 32 bytes);
//! 4. the claims: [`crate::claim_rules`], shared with the ES256/EdDSA verifier.
//!
//! They are jsonwebtoken's rules as we configured them, with four differences. Three are
//! refusals either way: four or more segments say "not three dot-separated segments", a
//! mistyped `nbf` is "malformed", and a negative `exp` is `Expired`. The fourth: a header
//! member written twice counts once (the last), where jsonwebtoken refused the header; the
//! MAC is HS256 under our key whatever the header says, so no token we did not sign passes.

use crate::claim_rules::{ClaimRules, Rejection, decode_segment, segments};
use crate::header;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeropass_domain::AccessTokenClaims;

/// The keyed verifier, built once.
pub(crate) struct Verifier {
    /// HMAC-SHA256 with our key already absorbed; cloned per token.
    keyed_mac: Hmac<Sha256>,
    /// The header segment of the tokens we issue, accepted without parsing (`None`: parse
    /// every header).
    issued_header_segment: Option<String>,
    rules: ClaimRules,
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
            rules: ClaimRules::new(issuer),
        }
    }

    /// The token's verified claims if it passes every rule in the module's list, at `now`
    /// (seconds since the Unix epoch).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<AccessTokenClaims, Rejection> {
        let (header, payload, signature) = segments(token)?;
        if !self.recognises_issued_header(header) {
            header::check(header, "HS256")?;
        }

        let signature = decode_segment(signature)?;
        let mut mac = self.keyed_mac.clone();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| Rejection::Invalid("bad signature"))?;

        self.rules.read(payload, now)
    }

    /// Whether `header` is the segment we issue (and so needs no parsing).
    pub(crate) fn recognises_issued_header(&self, header: &str) -> bool {
        self.issued_header_segment.as_deref() == Some(header)
    }
}
