//! The login dialog URL the browser is sent to: the configured dialog with our app id, the
//! flow's callback URL and state, the code response type, the `email` permission and — with
//! `FACEBOOK_PKCE` on — the S256 PKCE challenge of the flow's verifier. The state cookie is the
//! CSRF protection; PKCE binds the code to this flow.

use crate::pkce;

use url::Url;
use zeropass_domain::AuthorizationFlow;

/// The permission zeropass asks for: the email (the public profile's id comes with any token).
pub(crate) const SCOPE: &str = "email";

/// The parameters zeropass sets; any of them already in the configured dialog URL is replaced.
const OUR_PARAMETERS: [&str; 7] = [
    "client_id",
    "redirect_uri",
    "state",
    "response_type",
    "scope",
    "code_challenge",
    "code_challenge_method",
];

/// `{dialog}?client_id=..&redirect_uri=..&state=..&response_type=code&scope=email`, then
/// `&code_challenge=..&code_challenge_method=S256` when `code_challenge` is given, keeping any
/// other query parameter of the configured dialog URL, every value URL-encoded.
#[must_use]
pub(crate) fn authorization_url(
    dialog: &Url,
    app_id: &str,
    flow: &AuthorizationFlow,
    code_challenge: Option<&str>,
) -> String {
    let mut url = dialog.clone();
    let kept: Vec<(String, String)> = dialog
        .query_pairs()
        .filter(|(name, _)| !OUR_PARAMETERS.contains(&name.as_ref()))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.set_query(None);
    url.query_pairs_mut()
        .extend_pairs(kept)
        .append_pair("client_id", app_id)
        .append_pair("redirect_uri", &flow.callback_url)
        .append_pair("state", &flow.state)
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPE);
    if let Some(challenge) = code_challenge {
        url.query_pairs_mut()
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", pkce::METHOD);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> AuthorizationFlow {
        AuthorizationFlow {
            state: "st&te=1 2".into(),
            nonce: "nonce-not-used".into(),
            pkce_verifier: "verifier-not-used".into(),
            callback_url: "https://zeropass.example/auth/facebook/callback?x=1&y=2".into(),
        }
    }

    fn pairs(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn the_dialog_url_carries_the_app_the_callback_the_state_and_the_email_scope() {
        let dialog = Url::parse(crate::FACEBOOK_DIALOG_URL).unwrap();
        let url = authorization_url(&dialog, "1234567890", &flow(), None);
        assert!(
            url.starts_with("https://www.facebook.com/v21.0/dialog/oauth?"),
            "{url}"
        );
        assert_eq!(
            pairs(&url),
            [
                pair("client_id", "1234567890"),
                pair(
                    "redirect_uri",
                    "https://zeropass.example/auth/facebook/callback?x=1&y=2"
                ),
                pair("state", "st&te=1 2"),
                pair("response_type", "code"),
                pair("scope", "email"),
            ]
        );
        assert!(!url.contains("nonce") && !url.contains("verifier"), "{url}");
    }

    #[test]
    fn with_pkce_the_dialog_url_also_carries_the_s256_challenge() {
        let dialog = Url::parse(crate::FACEBOOK_DIALOG_URL).unwrap();
        let url = authorization_url(&dialog, "1234567890", &flow(), Some("the-challenge"));
        let pairs = pairs(&url);
        assert_eq!(
            pairs[pairs.len() - 2..],
            [
                pair("code_challenge", "the-challenge"),
                pair("code_challenge_method", "S256"),
            ]
        );
        assert!(!url.contains("verifier"), "{url}");
    }

    #[test]
    fn values_are_url_encoded() {
        let dialog = Url::parse(crate::FACEBOOK_DIALOG_URL).unwrap();
        let url = authorization_url(&dialog, "1234567890", &flow(), None);
        let query = url.split_once('?').unwrap().1;
        assert!(
            query.contains(
                "redirect_uri=https%3A%2F%2Fzeropass.example%2Fauth%2Ffacebook%2Fcallback%3Fx%3D1%26y%3D2"
            ),
            "{query}"
        );
        assert!(query.contains("state=st%26te%3D1+2"), "{query}");
    }

    #[test]
    fn the_dialog_urls_own_query_is_kept_and_ours_wins() {
        let dialog = Url::parse(
            "https://www.facebook.com/v21.0/dialog/oauth?display=popup&scope=public_profile&code_challenge=x",
        )
        .unwrap();
        let url = authorization_url(&dialog, "1234567890", &flow(), Some("ours"));
        let pairs = pairs(&url);
        assert_eq!(pairs[0], pair("display", "popup"));
        assert_eq!(
            pairs.iter().filter(|(name, _)| name == "scope").count(),
            1,
            "{url}"
        );
        assert!(pairs.contains(&pair("scope", "email")));
        assert_eq!(
            pairs
                .iter()
                .filter(|(name, _)| name == "code_challenge")
                .collect::<Vec<_>>(),
            [&pair("code_challenge", "ours")]
        );
    }
}
