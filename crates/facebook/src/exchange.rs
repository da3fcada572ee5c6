//! The one-shot exchange of an authorization code for a user access token at
//! `{graph}/oauth/access_token`, with the app id and secret, exactly the callback URL the
//! dialog was given and, with PKCE, the flow's code verifier. Never retried: a code is single-use, and a second attempt after a lost
//! answer could only be refused.

use crate::graph::{Endpoint, Graph};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use zeropass_domain::{AuthorizationFlow, IdentityError};
use zeropass_outbound_http::unavailable_because;

/// The Graph error code of a refused code (used, expired, forged, or another redirect URI).
const INVALID_PARAMETER: i64 = 100;

/// What zeropass reads of the exchange's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
}

/// Redacted: the access token is a credential.
impl fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAnswer")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Exchanges `code` for the user access token it stands for; `code_verifier` is sent when the
/// dialog was given its challenge.
///
/// # Errors
/// [`IdentityError::InvalidAuthorizationCode`] when the Graph API refuses the code (a 4xx
/// `OAuthException` with code 100); [`IdentityError::Unavailable`] for anything else (another
/// Graph error such as a wrong app secret, 5xx, garbage, a timeout, an answer without a token).
pub(crate) async fn exchange_code(
    graph: &Graph,
    app_id: &str,
    app_secret: &SecretString,
    code: &str,
    flow: &AuthorizationFlow,
    code_verifier: Option<&str>,
) -> Result<SecretString, IdentityError> {
    let mut params = vec![
        ("client_id", app_id),
        ("redirect_uri", flow.callback_url.as_str()),
        ("client_secret", app_secret.expose_secret()),
        ("code", code),
    ];
    if let Some(verifier) = code_verifier {
        params.push(("code_verifier", verifier));
    }
    let answer = graph
        .get::<TokenAnswer>(Endpoint::AccessToken, &params)
        .await?;
    match answer {
        Ok(TokenAnswer {
            access_token: Some(token),
        }) if !token.is_empty() => Ok(SecretString::from(token)),
        Ok(_) => Err(unavailable_because(
            "/oauth/access_token answered without an access token",
        )),
        Err(error)
            if error.status.is_client_error()
                && error.oauth_exception
                && error.code == Some(INVALID_PARAMETER) =>
        {
            Err(IdentityError::InvalidAuthorizationCode(
                "Facebook refused the code".to_owned(),
            ))
        }
        Err(error) => Err(error.unavailable(Endpoint::AccessToken)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_answer_debug_output_hides_the_token() {
        let answer: TokenAnswer =
            serde_json::from_str(r#"{"access_token":"EAAB-secret","token_type":"bearer"}"#)
                .unwrap();
        assert!(!format!("{answer:?}").contains("EAAB-secret"));
    }
}
