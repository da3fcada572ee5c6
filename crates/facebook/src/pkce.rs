//! PKCE (RFC 7636, S256) for the Facebook browser flow, when `FACEBOOK_PKCE` is on: the
//! verifier is the flow's own (minted at `start` and sealed in the flow cookie by the HTTP
//! layer, exactly as for Google), its challenge is derived with oauth2's implementation (the
//! one the Google adapter uses), and the code exchange sends the verifier back. A code leaked
//! from one browser's flow then cannot be redeemed in another's (RFC 9700 2.1.1).

use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use zeropass_domain::{AuthorizationFlow, IdentityError};
use zeropass_outbound_http::unavailable_because;

/// The challenge method zeropass uses (never `plain`).
pub(crate) const METHOD: &str = "S256";

/// The flow's PKCE verifier, checked to be one RFC 7636 allows (43 to 128 characters).
///
/// # Errors
/// [`IdentityError::Unavailable`] when it is not (a wiring bug: the HTTP layer mints 43).
pub(crate) fn verifier(flow: &AuthorizationFlow) -> Result<&str, IdentityError> {
    let verifier = flow.pkce_verifier.as_str();
    if (43..=128).contains(&verifier.len()) {
        Ok(verifier)
    } else {
        Err(unavailable_because(
            "the flow's PKCE verifier is not 43 to 128 characters long",
        ))
    }
}

/// BASE64URL(SHA-256(verifier)) of the flow's verifier.
///
/// # Errors
/// As [`verifier`].
pub(crate) fn challenge(flow: &AuthorizationFlow) -> Result<String, IdentityError> {
    let verifier = PkceCodeVerifier::new(verifier(flow)?.to_owned());
    Ok(PkceCodeChallenge::from_code_verifier_sha256(&verifier)
        .as_str()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(pkce_verifier: &str) -> AuthorizationFlow {
        AuthorizationFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: pkce_verifier.into(),
            callback_url: "https://zeropass.example/auth/facebook/callback".into(),
        }
    }

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636 appendix B's example verifier and challenge.
        let flow = flow("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            challenge(&flow).unwrap(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_verifier_rfc_7636_does_not_allow_is_refused_not_a_panic() {
        for bad in ["short", &"v".repeat(129)] {
            assert!(matches!(
                challenge(&flow(bad)),
                Err(IdentityError::Unavailable(_))
            ));
        }
    }
}
