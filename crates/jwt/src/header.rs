//! The JOSE header rules both verifiers share, for a header they do not recognise as one they
//! issued: a base64url JSON *object* whose `alg` is exactly the one the verifier is pinned to
//! (whatever else the header says), whose `typ` and `kid` (if present) are strings, and with no
//! `crit` member at all (we understand no extension, RFC 7515 §4.1.11). A member written twice
//! counts once (the last); the signature is checked with the pinned algorithm and our own key
//! whatever the header says, so that lets no token we did not sign pass.

use crate::claim_rules::{MALFORMED, Rejection, decode_segment};
use serde_json::{Map, Value};

/// Checks a header segment against the rules above for tokens signed with `algorithm`
/// (`HS256`, `ES256`, `EdDSA`), and returns its `kid`, if any.
///
/// # Errors
/// A [`Rejection`] naming the first rule broken.
pub(crate) fn check(segment: &str, algorithm: &str) -> Result<Option<String>, Rejection> {
    let json = decode_segment(segment)?;
    let mut fields: Map<String, Value> = serde_json::from_slice(&json).map_err(|_| MALFORMED)?;
    match fields.get("alg") {
        Some(Value::String(alg)) if alg == algorithm => {}
        Some(Value::String(_)) => return Err(Rejection::Invalid("algorithm not allowed")),
        _ => return Err(MALFORMED),
    }
    if !matches!(fields.get("typ"), None | Some(Value::String(_))) {
        return Err(MALFORMED);
    }
    let kid = match fields.remove("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(MALFORMED),
    };
    if fields.contains_key("crit") {
        return Err(Rejection::Invalid("critical header extension"));
    }
    Ok(kid)
}
