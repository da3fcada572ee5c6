//! What the Facebook adapter is told (app id and secret, Graph API and login dialog URLs) and
//! the fixed limits it works within (timeouts, response-size cap). The limits are constants;
//! [`Tuning`] only exists so tests can shorten them.

use secrecy::SecretString;
use std::fmt;
use thiserror::Error;
use url::Url;
use zeropass_outbound_http::check_scheme;

/// The Graph API base zeropass talks to by default (`FACEBOOK_GRAPH_URL`).
pub const FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com/v21.0";
/// Facebook's login dialog by default (`FACEBOOK_DIALOG_URL`).
pub const FACEBOOK_DIALOG_URL: &str = "https://www.facebook.com/v21.0/dialog/oauth";

/// The limits of every Graph call (connect and total timeouts, response-size cap) are those of
/// zeropass's bounded outbound client; the total timeout is also the deadline of every
/// operation of the adapter (exchange + `/debug_token` + `/me` together), so a sign-in never
/// waits on Facebook for longer than it.
pub use zeropass_outbound_http::{CONNECT_TIMEOUT, MAX_RESPONSE_BYTES, TOTAL_TIMEOUT};

/// The Facebook app zeropass signs people in with.
#[derive(Clone)]
pub struct FacebookConfig {
    /// The app id (`FACEBOOK_APP_ID`): the `client_id` of the login dialog and the code
    /// exchange, and the app every user access token must have been issued for.
    pub app_id: String,
    /// The app secret (`FACEBOOK_APP_SECRET`): sent only in the code exchange, and the key of
    /// every `appsecret_proof`.
    pub app_secret: SecretString,
    /// The Graph API base (`FACEBOOK_GRAPH_URL`), version included, e.g. [`FACEBOOK_GRAPH_URL`].
    pub graph_url: Url,
    /// The login dialog (`FACEBOOK_DIALOG_URL`), e.g. [`FACEBOOK_DIALOG_URL`].
    pub dialog_url: Url,
    /// Whether the browser flow uses PKCE (`FACEBOOK_PKCE`): the dialog gets the S256
    /// challenge of the flow's verifier and the code exchange sends the verifier, so that a
    /// code can only be redeemed in the flow that asked for it (RFC 9700 2.1.1).
    pub pkce: bool,
}

/// Redacted: the secret never reaches a log.
impl fmt::Debug for FacebookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacebookConfig")
            .field("app_id", &self.app_id)
            .field("app_secret", &"[redacted]")
            .field("graph_url", &self.graph_url.as_str())
            .field("dialog_url", &self.dialog_url.as_str())
            .field("pkce", &self.pkce)
            .finish()
    }
}

/// Why the adapter could not be built. Nothing here depends on Facebook being reachable.
#[derive(Debug, Error)]
pub enum FacebookSetupError {
    /// `app_id` is empty.
    #[error("the Facebook app id is empty")]
    EmptyAppId,
    /// `app_secret` is empty.
    #[error("the Facebook app secret is empty")]
    EmptyAppSecret,
    /// The Graph API URL is not usable.
    #[error("the Facebook Graph API URL is not usable: {0}")]
    InvalidGraphUrl(&'static str),
    /// The login dialog URL is not usable.
    #[error("the Facebook login dialog URL is not usable: {0}")]
    InvalidDialogUrl(&'static str),
    /// The HTTP client could not be built (TLS initialisation).
    #[error("the HTTP client for Facebook could not be built")]
    HttpClient(#[source] zeropass_domain::BoxError),
}

/// The adapter's limits: those of its outbound client. Production uses [`Tuning::default`]
/// (the constants above); tests shorten them so that a timeout does not take seconds.
#[doc(hidden)]
pub use zeropass_outbound_http::Limits as Tuning;

/// Checks what every configured URL must be: `https` (plain `http` only for a loopback host),
/// with a host, and without user info or fragment.
fn check_web_url(url: &Url) -> Result<(), &'static str> {
    check_scheme(url)?;
    if url.host().is_none() {
        return Err("the URL has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries user info");
    }
    if url.fragment().is_some() {
        return Err("the URL has a fragment");
    }
    Ok(())
}

/// The Graph API base, ready for endpoint paths to be appended: checked, without a query, and
/// without a trailing `/`.
///
/// # Errors
/// [`FacebookSetupError::InvalidGraphUrl`] when the URL is unusable or has a query.
pub(crate) fn graph_base(url: &Url) -> Result<Url, FacebookSetupError> {
    check_web_url(url).map_err(FacebookSetupError::InvalidGraphUrl)?;
    if url.query().is_some() {
        return Err(FacebookSetupError::InvalidGraphUrl(
            "the Graph API base has no query",
        ));
    }
    let mut base = url.clone();
    let trimmed = base.path().trim_end_matches('/').to_owned();
    base.set_path(&trimmed);
    Ok(base)
}

/// The login dialog URL, checked (its query, if any, is kept).
///
/// # Errors
/// [`FacebookSetupError::InvalidDialogUrl`] when the URL is unusable.
pub(crate) fn dialog(url: &Url) -> Result<Url, FacebookSetupError> {
    check_web_url(url).map_err(FacebookSetupError::InvalidDialogUrl)?;
    Ok(url.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn the_graph_base_loses_its_trailing_slash() {
        assert_eq!(
            graph_base(&url("https://graph.facebook.com/v21.0/"))
                .unwrap()
                .as_str(),
            "https://graph.facebook.com/v21.0"
        );
        assert_eq!(
            graph_base(&url(FACEBOOK_GRAPH_URL)).unwrap().as_str(),
            FACEBOOK_GRAPH_URL
        );
        assert_eq!(
            graph_base(&url("http://127.0.0.1:4321/v21.0"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4321/v21.0"
        );
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for good in [
            "http://localhost:9/v21.0",
            "http://[::1]:9/v21.0",
            "http://127.1.2.3:9",
        ] {
            assert!(graph_base(&url(good)).is_ok(), "{good}");
            assert!(dialog(&url(good)).is_ok(), "{good}");
        }
        for bad in [
            "http://graph.facebook.com/v21.0",
            "http://localhost.evil.example/v21.0",
            "ftp://graph.facebook.com/v21.0",
            "https://user:pass@graph.facebook.com/v21.0",
            "https://graph.facebook.com/v21.0#fragment",
        ] {
            assert!(graph_base(&url(bad)).is_err(), "{bad}");
            assert!(dialog(&url(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_graph_base_may_not_have_a_query_but_the_dialog_may() {
        assert!(graph_base(&url("https://graph.facebook.com/v21.0?x=1")).is_err());
        assert!(
            dialog(&url(
                "https://www.facebook.com/v21.0/dialog/oauth?display=popup"
            ))
            .is_ok()
        );
    }

    #[test]
    fn debug_output_does_not_show_the_app_secret() {
        let config = FacebookConfig {
            app_id: "1234567890".into(),
            app_secret: SecretString::from("very-secret-value"),
            graph_url: url(FACEBOOK_GRAPH_URL),
            dialog_url: url(FACEBOOK_DIALOG_URL),
            pkce: true,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains(config.app_secret.expose_secret()));
        assert!(shown.contains("1234567890"));
    }
}
