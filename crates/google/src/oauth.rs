//! The OAuth 2 half of the redirect flow: the authorization URL the browser is sent to
//! (code flow, `openid email`, state, nonce, S256 PKCE challenge, our callback) and the one-shot
//! exchange of the returned code for an id_token. The token response keeps the id_token as
//! the raw string, so that verification (ours, in `verify`) sees exactly what Google signed.

use crate::http_client::{HttpClient, unavailable, unavailable_because};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use zeropass_domain::{AuthorizationFlow, IdentityError};

/// The scopes zeropass asks for: an id_token, with the email in it.
const SCOPES: [&str; 2] = ["openid", "email"];

/// The token response field zeropass reads beyond the standard ones.
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    #[serde(default)]
    id_token: Option<String>,
}

/// Redacted: the id_token is a credential.
impl fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenField")
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An OAuth 2 client with its authorization and token endpoints set.
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn client(client_id: &str, authorization: &AuthUrl, token: &TokenUrl) -> OAuthClient {
    oauth2::Client::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(authorization.clone())
        .set_token_uri(token.clone())
}

fn callback(flow: &AuthorizationFlow) -> Result<RedirectUrl, IdentityError> {
    RedirectUrl::new(flow.callback_url.clone())
        .map_err(|error| unavailable("the callback URL is not a URL", &error))
}

/// The URL that starts the flow at `authorization`.
///
/// # Errors
/// [`IdentityError::Unavailable`] when the flow's callback URL is not a URL (a wiring bug).
pub(crate) fn authorization_url(
    client_id: &str,
    authorization: &AuthUrl,
    token: &TokenUrl,
    flow: &AuthorizationFlow,
) -> Result<String, IdentityError> {
    let verifier = PkceCodeVerifier::new(flow.pkce_verifier.clone());
    let (url, _state) = client(client_id, authorization, token)
        .authorize_url(|| CsrfToken::new(flow.state.clone()))
        .add_scopes(SCOPES.map(|scope| Scope::new(scope.to_owned())))
        .add_extra_param("nonce", flow.nonce.as_str())
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
        .set_redirect_uri(Cow::Owned(callback(flow)?))
        .url();
    Ok(url.into())
}

/// Exchanges `code` at the token endpoint (client secret, PKCE verifier, the same callback
/// URL) and returns the raw id_token. Never retried: a code is single-use.
///
/// # Errors
/// [`IdentityError::InvalidAuthorizationCode`] when the endpoint answers `invalid_grant`;
/// [`IdentityError::InvalidIdToken`] when the response has no id_token;
/// [`IdentityError::Unavailable`] for anything else (transport, 5xx, garbage, other errors).
pub(crate) async fn exchange_code(
    client_id: &str,
    client_secret: &str,
    authorization: &AuthUrl,
    token: &TokenUrl,
    code: &str,
    flow: &AuthorizationFlow,
    http: &HttpClient,
) -> Result<String, IdentityError> {
    let client = client(client_id, authorization, token)
        .set_client_secret(ClientSecret::new(client_secret.to_owned()));
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
        .set_redirect_uri(Cow::Owned(callback(flow)?))
        .request_async(http)
        .await;
    match response {
        Ok(response) => response.extra_fields().id_token.clone().ok_or_else(|| {
            IdentityError::InvalidIdToken("no id_token in the token response".into())
        }),
        Err(RequestTokenError::ServerResponse(error))
            if *error.error() == BasicErrorResponseType::InvalidGrant =>
        {
            Err(IdentityError::InvalidAuthorizationCode(
                "the token endpoint answered invalid_grant".into(),
            ))
        }
        Err(RequestTokenError::ServerResponse(error)) => Err(unavailable_because(&format!(
            "the token endpoint refused the exchange: {}",
            error.error().as_ref()
        ))),
        Err(RequestTokenError::Request(error)) => Err(unavailable(
            "the token endpoint could not be reached",
            &error,
        )),
        // The body may hold tokens: neither it nor the parser's message (which can quote it)
        // goes anywhere.
        Err(RequestTokenError::Parse(..)) => Err(unavailable_because(
            "the token endpoint's answer could not be parsed",
        )),
        Err(RequestTokenError::Other(reason)) => Err(unavailable_because(&format!(
            "the token endpoint's answer is unusable: {reason}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use url::Url;

    fn flow() -> AuthorizationFlow {
        AuthorizationFlow {
            state: "state-123".into(),
            nonce: "nonce-456".into(),
            // RFC 7636 appendix B's example verifier and challenge.
            pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            callback_url: "https://zeropass.example/auth/google/callback".into(),
        }
    }

    #[test]
    fn the_authorization_url_carries_everything_the_flow_needs() {
        let authorization =
            AuthUrl::new("https://accounts.google.com/o/oauth2/v2/auth".into()).unwrap();
        let token = TokenUrl::new("https://oauth2.googleapis.com/token".into()).unwrap();
        let url = authorization_url("web-client", &authorization, &token, &flow()).unwrap();
        let url = Url::parse(&url).unwrap();
        assert_eq!(
            url.origin().ascii_serialization(),
            "https://accounts.google.com"
        );
        assert_eq!(url.path(), "/o/oauth2/v2/auth");
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let expected = [
            ("response_type", "code"),
            ("client_id", "web-client"),
            ("scope", "openid email"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            (
                "redirect_uri",
                "https://zeropass.example/auth/google/callback",
            ),
        ];
        for (name, value) in expected {
            assert_eq!(query.get(name).map(String::as_str), Some(value), "{name}");
        }
        assert_eq!(query.len(), expected.len(), "no other parameter: {query:?}");
    }

    #[test]
    fn the_token_response_debug_output_hides_the_id_token() {
        let field = IdTokenField {
            id_token: Some("eyJ.secret.token".into()),
        };
        assert!(!format!("{field:?}").contains("secret"));
    }
}
