//! id_token verification, following OpenID Connect Core 3.1.3.7 and Google's guidance: the
//! header must name RS256 (fixed here, whatever the token says), the signature must verify
//! against one of Google's keys, and the claims must hold — `iss` an accepted issuer, `aud`
//! one of our client ids (with `azp` ours when there are several), `exp` not passed and `iat`
//! not in the future (both within [`LEEWAY_SECONDS`]), the nonce exactly as expected, and a
//! valid `sub`, an `email` and `email_verified: true`.
//!
//! Every refusal carries a short reason for the log, never the token or a claim's value.

use crate::config::LEEWAY_SECONDS;
use crate::signing_key::SigningKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use zeropass_domain::{Email, IdentityError, Provider, Subject, VerifiedIdentity};

/// Longest id_token looked at, in bytes (Google's are around 1 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `alg` header value of [`crate::keys::SIGNING_ALGORITHM`].
const SIGNING_ALGORITHM_NAME: &str = "RS256";

fn refuse(reason: &str) -> IdentityError {
    IdentityError::InvalidIdToken(reason.to_owned())
}

/// The JOSE header fields zeropass looks at.
#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<serde_json::Value>,
    crit: Option<serde_json::Value>,
}

/// A well-formed compact JWS whose header is acceptable but whose signature is not yet checked.
#[derive(Debug)]
pub(crate) struct UnverifiedToken<'t> {
    kid: Option<String>,
    signing_input: &'t str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS and checks its header.
///
/// # Errors
/// [`IdentityError::InvalidIdToken`] when the token is malformed or its header names anything
/// but RS256 (`none`, HS256, RS384, ...), a critical extension or nested content.
pub(crate) fn decode(token: &str) -> Result<UnverifiedToken<'_>, IdentityError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(refuse("too long"));
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(|| refuse("not a JWS"))?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or_else(|| refuse("not a JWS"))?;
    if payload.contains('.') {
        return Err(refuse("not a compact JWS"));
    }
    let header: Header = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| refuse("malformed header"))?;
    if header.alg != SIGNING_ALGORITHM_NAME {
        return Err(refuse("signature algorithm not allowed"));
    }
    if header.crit.is_some() {
        return Err(refuse("critical header parameters are not supported"));
    }
    if header.cty.is_some() {
        return Err(refuse("nested tokens are not supported"));
    }
    if header.typ.as_deref().is_some_and(|typ| {
        !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("application/jwt")
    }) {
        return Err(refuse("unexpected token type"));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| refuse("malformed payload"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| refuse("malformed signature"))?;
    if signature.is_empty() {
        return Err(refuse("no signature"));
    }
    Ok(UnverifiedToken {
        kid: header.kid,
        signing_input,
        payload,
        signature,
    })
}

impl UnverifiedToken<'_> {
    /// The key id the header names, if any (untrusted until the signature verifies).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Checks the RS256 signature with `key` and only then parses the claims.
    ///
    /// # Errors
    /// [`IdentityError::InvalidIdToken`] when the signature does not verify or the claims are
    /// not a JSON object of the expected shape.
    pub(crate) fn verify_signature(self, key: &SigningKey) -> Result<Claims, IdentityError> {
        if !key.verifies(self.signing_input.as_bytes(), &self.signature) {
            return Err(refuse("bad signature"));
        }
        serde_json::from_slice(&self.payload).map_err(|_| refuse("malformed claims"))
    }
}

/// `aud`: one string or an array of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audiences {
    One(String),
    Many(Vec<String>),
}

impl Audiences {
    fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

/// `email_verified`: a boolean, or the string form Google has been known to send.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(&self) -> bool {
        match self {
            Self::Bool(value) => *value,
            Self::Text(text) => text == "true",
        }
    }
}

/// The claims of an id_token whose signature verified; all optional here so that a missing
/// one is refused with a reason of its own.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Claims {
    iss: Option<String>,
    aud: Option<Audiences>,
    azp: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    nonce: Option<String>,
    sub: Option<String>,
    email: Option<String>,
    email_verified: Option<Flag>,
}

/// What a verified token must say for this request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expectations<'a> {
    /// Accepted `iss` values.
    pub(crate) issuers: &'a [String],
    /// Accepted audiences (client ids); `azp` must be one of them when `aud` has several.
    pub(crate) audiences: &'a [String],
    /// What the token's `nonce` claim must be.
    pub(crate) nonce: NonceRule<'a>,
    /// The current time, in seconds since the Unix epoch.
    pub(crate) now: i64,
}

/// What an id_token's `nonce` claim must be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NonceRule<'a> {
    /// Present and exactly this value: the redirect flow's nonce, or the one a native app
    /// posted beside its id_token.
    Exactly(&'a str),
    /// Not looked at: a native app that posted no nonce (contract v0.2) may send an id_token
    /// with or without one — Google Sign-In SDKs put their own nonce in some tokens.
    Unchecked,
}

impl<'a> NonceRule<'a> {
    /// [`Exactly`](Self::Exactly) the posted nonce, else [`Unchecked`](Self::Unchecked).
    pub(crate) fn posted(nonce: Option<&'a str>) -> Self {
        nonce.map_or(Self::Unchecked, Self::Exactly)
    }
}

/// Applies the claim rules to a token whose signature verified.
///
/// # Errors
/// [`IdentityError::EmailNotVerified`] when `email_verified` is not true; otherwise
/// [`IdentityError::InvalidIdToken`] naming the first rule broken.
pub(crate) fn check_claims(
    claims: Claims,
    expected: &Expectations<'_>,
) -> Result<VerifiedIdentity, IdentityError> {
    let issuer = claims.iss.ok_or_else(|| refuse("no issuer"))?;
    if !expected.issuers.contains(&issuer) {
        return Err(refuse("unexpected issuer"));
    }
    check_audience(
        claims.aud.as_ref(),
        claims.azp.as_deref(),
        expected.audiences,
    )?;

    // NumericDate may be fractional; compare as f64 (exact for any realistic second count).
    let now = expected.now as f64;
    let leeway = LEEWAY_SECONDS as f64;
    let expires = claims.exp.ok_or_else(|| refuse("no expiry"))?;
    if now >= expires + leeway {
        return Err(refuse("expired"));
    }
    let issued = claims.iat.ok_or_else(|| refuse("no issue time"))?;
    if issued > now + leeway {
        return Err(refuse("issued in the future"));
    }

    match (expected.nonce, claims.nonce.as_deref()) {
        (NonceRule::Exactly(wanted), Some(found)) if same_secret(wanted, found) => {}
        (NonceRule::Exactly(_), Some(_)) => return Err(refuse("nonce mismatch")),
        (NonceRule::Exactly(_), None) => return Err(refuse("missing nonce")),
        (NonceRule::Unchecked, _) => {}
    }

    let subject = claims.sub.ok_or_else(|| refuse("no subject"))?;
    let subject = Subject::parse(&subject).map_err(|_| refuse("invalid subject"))?;
    let email = claims.email.ok_or_else(|| refuse("no email"))?;
    if !claims.email_verified.as_ref().is_some_and(Flag::is_true) {
        return Err(IdentityError::EmailNotVerified);
    }
    let email = Email::parse(&email).map_err(|_| refuse("malformed email"))?;
    Ok(VerifiedIdentity {
        provider: Provider::Google,
        subject,
        email,
    })
}

/// `aud` must name one of ours; with several audiences the authorized party (`azp`) must be
/// ours too, so that a token another client obtained for itself, merely listing us among
/// its audiences, is not accepted as ours.
fn check_audience(
    aud: Option<&Audiences>,
    azp: Option<&str>,
    ours: &[String],
) -> Result<(), IdentityError> {
    let audiences = aud.map(Audiences::as_slice).unwrap_or_default();
    if audiences.is_empty() {
        return Err(refuse("no audience"));
    }
    if !audiences.iter().any(|audience| ours.contains(audience)) {
        return Err(refuse("not issued for this client"));
    }
    if audiences.len() > 1 {
        match azp {
            None => return Err(refuse("several audiences and no authorized party")),
            Some(azp) if !ours.iter().any(|one| one == azp) => {
                return Err(refuse("authorized party is not this client"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Compares two secrets without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::accepted_issuers;
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;
    const ISSUER: &str = "https://accounts.google.com";
    const WEB: &str = "web-client";
    const IOS: &str = "ios-client";

    fn claims(overrides: Value) -> Claims {
        let mut all = json!({
            "iss": ISSUER, "aud": WEB, "exp": NOW + 600, "iat": NOW - 10,
            "sub": "10769150350006150715113082367", "email": "Alice@Example.COM",
            "email_verified": true, "nonce": "n-123",
        });
        for (name, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                all.as_object_mut().unwrap().remove(name);
            } else {
                all[name] = value.clone();
            }
        }
        serde_json::from_value(all).unwrap()
    }

    fn check(claims: Claims, nonce: Option<&str>) -> Result<VerifiedIdentity, IdentityError> {
        let issuers = accepted_issuers(ISSUER);
        let audiences = [WEB.to_owned(), IOS.to_owned()];
        check_claims(
            claims,
            &Expectations {
                issuers: &issuers,
                audiences: &audiences,
                nonce: NonceRule::posted(nonce),
                now: NOW,
            },
        )
    }

    fn reason(result: Result<VerifiedIdentity, IdentityError>) -> String {
        match result {
            Err(IdentityError::InvalidIdToken(reason)) => reason,
            other => panic!("expected InvalidIdToken, got {other:?}"),
        }
    }

    #[test]
    fn good_claims_give_the_identity_with_a_lower_cased_email() {
        let identity = check(claims(json!({})), Some("n-123")).unwrap();
        assert_eq!(identity.provider, Provider::Google);
        assert_eq!(identity.subject.as_str(), "10769150350006150715113082367");
        assert_eq!(identity.email.as_str(), "alice@example.com");
    }

    #[test]
    fn both_spellings_of_google_s_issuer_are_accepted() {
        assert!(check(claims(json!({"iss": "accounts.google.com"})), Some("n-123")).is_ok());
        assert!(check(claims(json!({"iss": ISSUER})), Some("n-123")).is_ok());
    }

    #[test]
    fn another_or_missing_issuer_is_refused() {
        for iss in [
            json!("https://evil.example"),
            json!("http://accounts.google.com"),
            json!("https://accounts.google.com/"),
        ] {
            assert_eq!(
                reason(check(claims(json!({"iss": iss})), Some("n-123"))),
                "unexpected issuer"
            );
        }
        assert_eq!(
            reason(check(claims(json!({"iss": null})), Some("n-123"))),
            "no issuer"
        );
    }

    #[test]
    fn a_non_google_issuer_accepts_only_itself() {
        let issuers = accepted_issuers("http://127.0.0.1:9");
        let audiences = [WEB.to_owned()];
        let expected = Expectations {
            issuers: &issuers,
            audiences: &audiences,
            nonce: NonceRule::Unchecked,
            now: NOW,
        };
        let ok = check_claims(
            claims(json!({"iss": "http://127.0.0.1:9", "nonce": null})),
            &expected,
        );
        assert!(ok.is_ok());
        let alias = check_claims(
            claims(json!({"iss": "accounts.google.com", "nonce": null})),
            &expected,
        );
        assert_eq!(reason(alias), "unexpected issuer");
    }

    #[test]
    fn an_extra_audience_is_accepted_and_an_unknown_one_refused() {
        assert!(check(claims(json!({"aud": IOS})), Some("n-123")).is_ok());
        assert!(check(claims(json!({"aud": [IOS]})), Some("n-123")).is_ok());
        assert_eq!(
            reason(check(claims(json!({"aud": "someone-else"})), Some("n-123"))),
            "not issued for this client"
        );
        assert_eq!(
            reason(check(claims(json!({"aud": null})), Some("n-123"))),
            "no audience"
        );
        assert_eq!(
            reason(check(claims(json!({"aud": []})), Some("n-123"))),
            "no audience"
        );
    }

    #[test]
    fn several_audiences_need_an_authorized_party_of_ours() {
        let both = json!([WEB, "someone-else"]);
        assert!(check(claims(json!({"aud": both, "azp": WEB})), Some("n-123")).is_ok());
        assert!(check(claims(json!({"aud": both, "azp": IOS})), Some("n-123")).is_ok());
        assert_eq!(
            reason(check(
                claims(json!({"aud": both, "azp": "someone-else"})),
                Some("n-123")
            )),
            "authorized party is not this client"
        );
        assert_eq!(
            reason(check(claims(json!({"aud": both})), Some("n-123"))),
            "several audiences and no authorized party"
        );
    }

    #[test]
    fn expiry_and_issue_time_allow_the_leeway_and_no_more() {
        let just_expired = NOW - LEEWAY_SECONDS + 1;
        assert!(check(claims(json!({"exp": just_expired})), Some("n-123")).is_ok());
        assert_eq!(
            reason(check(
                claims(json!({"exp": NOW - LEEWAY_SECONDS})),
                Some("n-123")
            )),
            "expired"
        );
        assert_eq!(
            reason(check(claims(json!({"exp": null})), Some("n-123"))),
            "no expiry"
        );
        assert!(check(claims(json!({"iat": NOW + LEEWAY_SECONDS})), Some("n-123")).is_ok());
        assert_eq!(
            reason(check(
                claims(json!({"iat": NOW + LEEWAY_SECONDS + 1})),
                Some("n-123")
            )),
            "issued in the future"
        );
        assert_eq!(
            reason(check(claims(json!({"iat": null})), Some("n-123"))),
            "no issue time"
        );
    }

    #[test]
    fn the_nonce_must_be_exactly_the_expected_one_and_is_unchecked_when_none_is_expected() {
        assert_eq!(
            reason(check(claims(json!({})), Some("n-124"))),
            "nonce mismatch"
        );
        assert_eq!(
            reason(check(claims(json!({})), Some("n-12"))),
            "nonce mismatch"
        );
        assert_eq!(
            reason(check(claims(json!({"nonce": null})), Some("n-123"))),
            "missing nonce"
        );
        assert!(check(claims(json!({})), None).is_ok());
        assert!(check(claims(json!({"nonce": null})), None).is_ok());
    }

    #[test]
    fn subject_and_email_must_be_present_and_valid() {
        assert_eq!(
            reason(check(claims(json!({"sub": null})), Some("n-123"))),
            "no subject"
        );
        assert_eq!(
            reason(check(claims(json!({"sub": ""})), Some("n-123"))),
            "invalid subject"
        );
        assert_eq!(
            reason(check(claims(json!({"email": null})), Some("n-123"))),
            "no email"
        );
        assert_eq!(
            reason(check(
                claims(json!({"email": "not-an-email"})),
                Some("n-123")
            )),
            "malformed email"
        );
    }

    #[test]
    fn an_unverified_or_unstated_email_is_refused_as_such() {
        for flag in [json!(false), json!("false"), json!(null)] {
            assert!(matches!(
                check(claims(json!({"email_verified": flag})), Some("n-123")),
                Err(IdentityError::EmailNotVerified)
            ));
        }
        assert!(check(claims(json!({"email_verified": "true"})), Some("n-123")).is_ok());
    }

    #[test]
    fn wrongly_typed_claims_do_not_parse() {
        for bad in [
            json!({"exp": "soon"}),
            json!({"aud": 5}),
            json!({"sub": 5}),
            json!([1, 2]),
        ] {
            assert!(serde_json::from_value::<Claims>(bad).is_err());
        }
    }

    fn token(header: Value, payload: Value, signature: &str) -> String {
        let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
        format!("{}.{}.{signature}", encode(&header), encode(&payload))
    }

    fn decode_reason(token: &str) -> String {
        match decode(token) {
            Err(IdentityError::InvalidIdToken(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn only_rs256_headers_get_past_decoding() {
        let ok = token(
            json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            json!({}),
            "c2ln",
        );
        assert_eq!(decode(&ok).unwrap().kid(), Some("k1"));
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            let other = token(json!({"alg": alg, "kid": "k1"}), json!({}), "c2ln");
            assert_eq!(
                decode_reason(&other),
                "signature algorithm not allowed",
                "{alg}"
            );
        }
        let unsigned = token(json!({"alg": "RS256"}), json!({}), "");
        assert_eq!(decode_reason(&unsigned), "no signature");
    }

    #[test]
    fn unusual_headers_and_malformed_tokens_are_refused() {
        let crit = token(json!({"alg": "RS256", "crit": ["exp"]}), json!({}), "c2ln");
        assert_eq!(
            decode_reason(&crit),
            "critical header parameters are not supported"
        );
        let nested = token(json!({"alg": "RS256", "cty": "JWT"}), json!({}), "c2ln");
        assert_eq!(decode_reason(&nested), "nested tokens are not supported");
        let typ = token(json!({"alg": "RS256", "typ": "at+jwt"}), json!({}), "c2ln");
        assert_eq!(decode_reason(&typ), "unexpected token type");
        assert_eq!(decode_reason("garbage"), "not a JWS");
        assert_eq!(decode_reason("a.b.c.d"), "not a compact JWS");
        assert_eq!(decode_reason("!!.e30.c2ln"), "malformed header");
        assert_eq!(decode_reason(&"a".repeat(MAX_TOKEN_BYTES + 1)), "too long");
    }

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(same_secret("", ""));
    }
}
