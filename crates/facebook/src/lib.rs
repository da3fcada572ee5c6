//! Facebook as zeropass's identity provider: [`FacebookIdentityProvider`] implements the
//! domain's [`IdentityProvider`](zeropass_domain::IdentityProvider) port with Facebook Login
//! over the Graph API (plain `reqwest`, no SDK) — the login dialog with our app id, callback,
//! state, the `email` permission and (with `FACEBOOK_PKCE`) an S256 PKCE challenge; the
//! one-shot exchange of the returned code for a user access token; and, at both doors (the redirect flow and native apps), that user token checked
//! with `/debug_token` (valid, issued to our app, a user token, not expired) before `/me` is read
//! for the app-scoped id and the email. Every Graph call carries an `appsecret_proof`.
//!
//! Facebook is never trusted to be up or well-behaved: building the adapter does no I/O, every
//! call has connect and total timeouts and a response-size cap, and whatever goes wrong upstream
//! surfaces as [`IdentityError::Unavailable`](zeropass_domain::IdentityError::Unavailable);
//! whatever is wrong with a code or token as `InvalidAuthorizationCode`, `InvalidAccessToken`
//! or `EmailRequired`, with a short fixed reason for the log that never contains a token, a
//! code, the app secret or an email.

mod config;
mod dialog;
mod exchange;
mod graph;
mod inspect;
mod pkce;
mod profile;
mod proof;
mod provider;

#[doc(hidden)]
pub use config::Tuning;
pub use config::{
    CONNECT_TIMEOUT, FACEBOOK_DIALOG_URL, FACEBOOK_GRAPH_URL, FacebookConfig, FacebookSetupError,
    MAX_RESPONSE_BYTES, TOTAL_TIMEOUT,
};
pub use provider::FacebookIdentityProvider;

#[cfg(test)]
mod tests;
